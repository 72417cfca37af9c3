"""Pick and save the right form for a record type."""

from django.db import transaction

from ..forms import FORM_FOR_KIND, ContactForm, CustomRecordForm
from ..services import contact_save, record_save
from ..types import RecordType


def form_for(record_type: RecordType, *args, **kwargs):
    if record_type.custom_type is not None:
        return CustomRecordForm(*args, object_type=record_type.custom_type, **kwargs)
    return FORM_FOR_KIND[record_type.kind](*args, **kwargs)


@transaction.atomic
def save_record_form(record_type: RecordType, form):
    """Save a valid record form through the services that keep search and addresses right."""
    record = form.save(commit=False)
    if isinstance(form, ContactForm):
        return contact_save(record, form.emails)
    record.kind = record_type.kind
    if isinstance(form, CustomRecordForm):
        record.custom_type = record_type.custom_type
        record.properties = form.property_values()
    return record_save(record)
