from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from transactional.credentials.constants import Scope


class SmtpTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Token name"),
        max_length=100,
        help_text=_("For you to tell tokens apart, e.g. the system that sends with it."),
    )
    create_contacts = forms.BooleanField(
        label=_("Create contacts for email recipients"),
        required=False,
        help_text=_("Each recipient who is not a contact yet becomes one."),
    )
    campaign_name = forms.CharField(
        label=_("Campaign name"),
        max_length=100,
        required=False,
        help_text=_("Optional: groups the email sent with this token in reports."),
    )


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Key name"),
        max_length=100,
        help_text=_("For you to tell keys apart, e.g. the integration that uses it."),
    )
    scopes = forms.MultipleChoiceField(
        label=_("What it may do"),
        choices=[(s.value, format_lazy("{}: {}", s.value, s.label)) for s in Scope],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one scope.")},
    )
