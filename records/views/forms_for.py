"""Pick and save the right form for a record type."""

from django.db import transaction

from ..forms import FORM_FOR_KIND, ContactForm, CustomRecordForm
from ..models import User
from ..services import AddressInUse, contact_save, record_save
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
    record = form.save(commit=False)
    if isinstance(form, ContactForm):
        return contact_save(record, form.emails)
    record.kind = record_type.kind
    if isinstance(form, CustomRecordForm):
        record.custom_type = record_type.custom_type
        record.properties = form.property_values()
    return record_save(record)
