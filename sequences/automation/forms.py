"""Adding a rule: the action and its trigger, either a contact property and the value it
changes to (one of its choices for a dropdown property, any text otherwise) or a saved list
the contact is added to."""

from django import forms
from django.utils.translation import gettext_lazy as _

from records.models import ContactList

from .models import Action, Trigger
from .properties import PROPERTIES


class RuleForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), choices=Action.choices, initial=Action.ENROLL)
    trigger = forms.ChoiceField(
        label=_("When"),
        choices=Trigger.choices,
        initial=Trigger.PROPERTY,
        widget=forms.RadioSelect,
        required=False,  # a form posted without it watches a property, as before lists
    )
    property = forms.ChoiceField(
        label=_("When the contact's property"),
        choices=[("", _("Choose a property"))] + [(p.name, p.label) for p in PROPERTIES.values()],
        error_messages={"invalid_choice": _("Choose one of the contact's properties.")},
        required=False,
    )
    value = forms.CharField(label=_("Becomes"), max_length=255, required=False)
    contact_list = forms.ModelChoiceField(
        label=_("The list"),
        queryset=ContactList.objects.all(),
        required=False,
        empty_label=_("Choose a list"),
        error_messages={"invalid_choice": _("That list no longer exists: choose another.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        chosen = PROPERTIES.get(self["property"].value() or "")
        if chosen is not None and chosen.choices:
            # A dropdown property: its values only.
            self.fields["value"].widget = forms.Select(
                choices=[("", _("Choose a value"))] + list(chosen.choices)
            )
        # The fields the page shows: the trigger's own.
        self.on_list = self["trigger"].value() == Trigger.LIST

    def clean(self):
        data = super().clean()
        data["trigger"] = data.get("trigger") or Trigger.PROPERTY
        if data["trigger"] == Trigger.LIST:
            if not data.get("contact_list") and "contact_list" not in self.errors:
                self.add_error("contact_list", _("Choose the list."))
            data.update(property="", value="")
            return data
        data["contact_list"] = None
        chosen = PROPERTIES.get(data.get("property") or "")
        value = (data.get("value") or "").strip()
        if chosen is None:
            if "property" not in self.errors:
                self.add_error("property", _("Choose one of the contact's properties."))
        elif chosen.choices and value not in dict(chosen.choices):
            self.add_error(
                "value",
                _("Choose one of the values of %(property)s.") % {"property": chosen.label},
            )
        elif not value:
            self.add_error("value", _("Type the value it becomes."))
        data["value"] = value
        return data
