"""The webhook endpoint form (Settings > Transactional email > Webhooks)."""

from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from transactional.events.constants import EventType
from transactional.events.models import WebhookEndpoint
from transactional.pool.relay import is_loopback


class EndpointForm(forms.ModelForm):
    url = forms.URLField(
        label=_("Endpoint URL"),
        max_length=2000,
        assume_scheme="https",
        help_text=_("HTTPS only. Redirects are not followed: give the final address."),
    )
    event_types = forms.MultipleChoiceField(
        label=_("Events"),
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Each change of a transactional email of these kinds is sent once."),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.initial.setdefault("event_types", list(EventType.values))

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        parts = urlsplit(url)
        # Plain HTTP only to this machine, and never in production: a signed body in clear
        # would still show who got which email.
        local = is_loopback(parts.hostname or "") and not settings.PRODUCTION
        if parts.scheme != "https" and not (parts.scheme == "http" and local):
            raise forms.ValidationError(_("Give an https:// address."))
        if parts.username or parts.password:
            raise forms.ValidationError(_("Leave the user name and password out of the URL."))
        return url
