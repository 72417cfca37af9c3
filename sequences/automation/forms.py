"""Adding a rule: the action, a contact property, and the value it changes to (one of its
choices for a dropdown property, any text otherwise)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Action
from .properties import PROPERTIES


class RuleForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), choices=Action.choices, initial=Action.ENROLL)
    property = forms.ChoiceField(
        label=_("When the contact's property"),
        choices=[("", _("Choose a property"))] + [(p.name, p.label) for p in PROPERTIES.values()],
        error_messages={"invalid_choice": _("Choose one of the contact's properties.")},
    )
    value = forms.CharField(label=_("Becomes"), max_length=255)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        chosen = PROPERTIES.get(self["property"].value() or "")
        if chosen is not None and chosen.choices:
            # A dropdown property: its values only.
            self.fields["value"].widget = forms.Select(
                choices=[("", _("Choose a value"))] + list(chosen.choices)
            )

    def clean(self):
        data = super().clean()
        chosen = PROPERTIES.get(data.get("property") or "")
        value = (data.get("value") or "").strip()
        if chosen is not None and chosen.choices and value not in dict(chosen.choices):
            self.add_error(
                "value",
                _("Choose one of the values of %(property)s.") % {"property": chosen.label},
            )
        data["value"] = value
        return data
