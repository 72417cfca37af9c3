"""Forms of the privacy pages. They parse; the services decide (and raise ValidationError with
words for the user, which `add_service_errors` puts beside the fields)."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .constants import EventKind, LegalBasisKind, SubscriptionState
from .models import PrivacySettings, SubscriptionType

_BASIS_CHOICES = [("", gettext_lazy("Choose a legal basis"))] + list(LegalBasisKind.choices)
FORM_ID = re.compile(r"^[A-Za-z][\w-]{0,63}$")


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: by field where it names one."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


class LegalBasisForm(forms.Form):
    basis = forms.ChoiceField(label=gettext_lazy("Legal basis"), choices=_BASIS_CHOICES)
    explanation = forms.CharField(
        label=gettext_lazy("Explanation"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "Why you may contact them, e.g. “Sending the contract they asked for”."
        ),
    )


class SubscriptionChangeForm(forms.Form):
    subscription_type = forms.ModelChoiceField(queryset=SubscriptionType.objects.all())
    status = forms.ChoiceField(choices=SubscriptionState.choices)
    legal_basis = forms.ChoiceField(choices=_BASIS_CHOICES, required=False)
    explanation = forms.CharField(required=False)


class SubscribeFixForm(forms.Form):
    """The composer's "Add subscription" fix: a legal basis for the One to one subscription."""

    legal_basis = forms.ChoiceField(label=gettext_lazy("Legal basis"), choices=_BASIS_CHOICES)
    explanation = forms.CharField(
        label=gettext_lazy("Explanation"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("How they agreed to, or why you may, receive one-to-one email."),
    )


class PrivacySettingsForm(forms.ModelForm):
    class Meta:
        model = PrivacySettings
        fields = ["gdpr_enabled"]


class SubscriptionTypeForm(forms.ModelForm):
    class Meta:
        model = SubscriptionType
        fields = ["name", "description", "is_active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
        labels = {"is_active": gettext_lazy("Active")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.is_builtin:
            self.fields["is_active"].disabled = True
            self.fields["is_active"].help_text = _("Built-in types are always active.")


_KIND_CHOICES = [
    ("decisions", gettext_lazy("Send decisions")),
    ("all", gettext_lazy("All events")),
] + list(EventKind.choices)


class AuditFilterForm(forms.Form):
    start = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput({"type": "date"})
    )
    end = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput({"type": "date"})
    )
    kind = forms.ChoiceField(label=gettext_lazy("Events"), choices=_KIND_CHOICES, required=False)
    contact = forms.CharField(
        label=gettext_lazy("Contact"), required=False, widget=forms.TextInput({"type": "search"})
    )

    def filters(self) -> dict:
        """The selector's keyword arguments; invalid values are ignored rather than fatal."""
        self.is_valid()  # cleaned_data keeps the fields that are valid
        data = self.cleaned_data
        return {
            "start": data.get("start"),
            "end": data.get("end"),
            "kind": data.get("kind") or "decisions",
            "contact": data.get("contact") or "",
        }
