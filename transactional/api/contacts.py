"""contactProperties as HubSpot applies them: the contact is found by the recipient's address
(one contact per address, held by records), created when none has it, and the properties
given are written to it."""

from records.models import Contact
from records.services import contact_display_name, contacts_for_addresses, search_text_for
from transactional.api.errors import invalid

# HubSpot's internal property names, and ours, for the contact fields the API may write.
PROPERTIES = {
    "firstname": "first_name",
    "first_name": "first_name",
    "lastname": "last_name",
    "last_name": "last_name",
    "phone": "phone",
    "jobtitle": "job_title",
    "job_title": "job_title",
}
_LIMITS = {"first_name": 100, "last_name": 100, "phone": 40, "job_title": 100}


def fields_of(properties: dict[str, str]) -> dict[str, str]:
    """The model fields the properties write; an unknown property is refused (400)."""
    fields = {}
    for name, value in properties.items():
        field = PROPERTIES.get(name.lower())
        if field is None:
            raise invalid(
                f"Property {name!r} does not exist on contacts. Known: "
                + ", ".join(sorted(PROPERTIES)),
                "PROPERTY_DOESNT_EXIST",
                f"contactProperties.{name}",
            )
        if len(value) > _LIMITS[field]:
            raise invalid(
                f"Property {name!r} is longer than {_LIMITS[field]} characters.",
                "VALIDATION_FAILED",
                f"contactProperties.{name}",
            )
        fields[field] = value.strip()
    return fields


def contact_for(address: str, fields: dict[str, str]) -> Contact:
    """The address's contact, created if needed, with `fields` written (one UPDATE)."""
    first, last = fields.get("first_name", ""), fields.get("last_name", "")
    pk = contacts_for_addresses({address: (first, last)}, owner_id=None)[address]
    contact = Contact.objects.get(pk=pk)
    changed = {f: v for f, v in fields.items() if getattr(contact, f) != v}
    if changed:
        for field, value in changed.items():
            setattr(contact, field, value)
        contact.name = contact_display_name(contact.first_name, contact.last_name, contact.email)
        contact.search_text = search_text_for(
            contact, contact.emails.values_list("address", flat=True)
        )
        contact.save(update_fields=[*changed, "name", "search_text"])
    return contact
