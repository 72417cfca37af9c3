"""Pick and save the right form for a record type."""

from django.db import transaction

from ..forms import FORM_FOR_KIND, ContactForm, CustomRecordForm
from ..models import User
from ..services import AddressInUse, contact_save, record_save
from ..signals import RecordChanged, record_changed, send_on_commit
from ..types import RecordType


def form_for(record_type: RecordType, *args, user: User | None = None, **kwargs):
    """The form of `record_type`; `user` is who fills it in (the contact form words its
    refusals for them)."""
    if record_type.custom_type is not None:
        return CustomRecordForm(*args, object_type=record_type.custom_type, **kwargs)
    form_class = FORM_FOR_KIND[record_type.kind]
    if form_class is ContactForm:
        kwargs["user"] = user
    return form_class(*args, **kwargs)


def save_record_form(record_type: RecordType, form):
    """Save a valid record form through the services that keep search and addresses right.

    Returns the record, or None when an address turned out to belong to another contact
    after the form was checked (another request took it meanwhile): the form then says so.
    """
    try:
        return _save(record_type, form)
    except AddressInUse as taken:
        form.address_in_use(taken.address, taken.contact_id)
        return None


@transaction.atomic
def _save(record_type: RecordType, form):
    editing = form.instance.pk is not None
    record = form.save(commit=False)
    if isinstance(form, ContactForm):
        saved = contact_save(record, form.emails)
    else:
        record.kind = record_type.kind
        if isinstance(form, CustomRecordForm):
            record.custom_type = record_type.custom_type
            record.properties = form.property_values()
        saved = record_save(record)
    changed = _changed(form, saved) if editing else _created(form, saved)
    if changed:
        send_on_commit(record_changed, "records", RecordChanged(saved.pk, saved.kind, changed))
    return saved


# Form fields that are not one property: the other addresses of a contact.
_NOT_PROPERTIES = {"other_emails"}


def _created(form, record) -> dict[str, tuple]:
    """A new record's properties that were given a value, each as changed from None: a rule
    on "changes to" a value fires when a record is created with it."""
    created = {}
    for name in form.fields:
        if name in _NOT_PROPERTIES:
            continue
        new = _stored(record, name)
        if new not in (None, ""):
            created[_property_name(name)] = (None, new)
    return created


def _property_name(name: str) -> str:
    if name.startswith("prop_"):
        return name[len("prop_") :]
    return "email" if name == "primary_email" else name


def _stored(record, name: str):
    """A form field's value as the saved record holds it."""
    if name.startswith("prop_"):
        return record.properties.get(name[len("prop_") :])
    name = _property_name(name)
    return getattr(record, record._meta.get_field(name).attname)


def _changed(form, record) -> dict[str, tuple]:
    """The properties this save changed, name -> (old, new) as stored: a custom property by
    its key, the primary address as "email", a link (owner) by id."""
    changed = {}
    for name in form.changed_data:
        if name in _NOT_PROPERTIES:
            continue
        old, new = form.initial.get(name), _stored(record, name)
        if old != new:
            changed[_property_name(name)] = (old, new)
    return changed
