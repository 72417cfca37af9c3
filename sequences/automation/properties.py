"""The contact properties a rule may watch: the contact's own fields as the record form edits
them (records.forms.ContactForm), each with its label and, for a dropdown, its choices."""

from dataclasses import dataclass

from records.models import Contact

# The record form's fields that hold one value a rule can compare ("owner" is a person, not a
# value a rep types; the other addresses are a list).
NAMES = ("lifecycle_stage", "job_title", "first_name", "last_name", "email", "phone")


@dataclass(frozen=True)
class Property:
    name: str
    label: str
    choices: tuple[tuple[str, str], ...]  # empty: free text

    def value_label(self, value: str) -> str:
        return dict(self.choices).get(value, value)


def _property(name: str) -> Property:
    field = Contact._meta.get_field(name)
    label = str(field.verbose_name)
    return Property(name, label[:1].upper() + label[1:], tuple(field.choices or ()))


PROPERTIES = {name: _property(name) for name in NAMES}
