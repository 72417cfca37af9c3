"""A list's name, and the contacts index's "Add to list": an existing list or a new one."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ContactList
from .services import ListNameTaken, name_taken


class ListNameForm(forms.Form):
    name = forms.CharField(label=_("List name"), max_length=120)

    def __init__(self, *args, instance: ContactList | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance = instance

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the list a name."))
        if name_taken(name, exclude=self.instance):
            raise forms.ValidationError(ListNameTaken(name).message)
        return name


class AddToListForm(forms.Form):
    contact_list = forms.ModelChoiceField(
        label=_("An existing list"),
        queryset=ContactList.objects.all(),
        required=False,
        empty_label=_("Choose a list"),
        error_messages={"invalid_choice": _("That list no longer exists: choose another.")},
    )
    new_name = forms.CharField(label=_("Or a new list named"), max_length=120, required=False)

    def clean(self):
        data = super().clean()
        chosen, name = data.get("contact_list"), (data.get("new_name") or "").strip()
        if "contact_list" in self.errors:
            return data
        if chosen and name:
            self.add_error("new_name", _("Choose an existing list or name a new one, not both."))
        elif not chosen and not name:
            self.add_error("contact_list", _("Choose a list, or name a new one."))
        elif name and name_taken(name):
            self.add_error("new_name", ListNameTaken(name).message)
        data["new_name"] = name
        return data
