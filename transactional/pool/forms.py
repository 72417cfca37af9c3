"""The add-on switch, the relay, DKIM and test-email forms of the pool's pages."""

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from transactional.pool.models import RelaySecurity, SendingPool
from transactional.pool.relay import is_loopback

SELECTOR = re.compile(
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
HOST = re.compile(r"^[A-Za-z0-9.:\[\]-]{1,253}$")


class AddonForm(forms.ModelForm):
    class Meta:
        model = SendingPool
        fields = ["enabled"]
        help_texts = {
            "enabled": _(
                "Off: transactional sends (the API, the SMTP API, transactional emails) are "
                "refused with that reason, and queued ones wait."
            )
        }


class RelayForm(forms.ModelForm):
    """The SMTP relay. The password is never shown: left empty, the saved one stays."""

    password = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("The relay's password, if it asks for one."),
    )

    class Meta:
        model = SendingPool
        fields = [
            "host",
            "port",
            "security",
            "username",
            "from_address",
            "from_name",
            "minute_limit",
            "spf_mechanism",
        ]
        help_texts = {
            "host": _("Your relay: a Postfix or Haraka of yours, Amazon SES, Postmark…"),
            "minute_limit": _("Empty: as many as the relay takes."),
            "spf_mechanism": _(
                "What your relay's documentation says to put in SPF, e.g. include:amazonses.com "
                "or include:spf.mtasv.net. Empty: the relay's host."
            ),
            "from_address": _("Its domain is the sending domain checked below."),
        }

    field_order = ["host", "port", "security", "username", "password"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("host", "from_address"):
            self.fields[name].required = True
        if self.instance.secret.get("password"):
            self.fields["password"].help_text = _(
                "A password is saved (encrypted); left empty, it stays."
            )
        self.fields["port"].min_value = 1
        self.fields["port"].max_value = 65535

    def clean_host(self):
        host = self.cleaned_data["host"].strip()
        if not HOST.match(host):
            raise forms.ValidationError(_("Give a host name or an IP address."))
        return host

    def clean_port(self):
        port = self.cleaned_data["port"]
        if not 1 <= port <= 65535:
            raise forms.ValidationError(_("A port is between 1 and 65535."))
        return port

    def clean(self):
        data = super().clean()
        host = data.get("host")
        if data.get("security") == RelaySecurity.NONE and host and not is_loopback(host):
            self.add_error(
                "security",
                _(
                    "Without TLS the password and every email would cross the network in "
                    "clear: only a relay on this machine (localhost, 127.0.0.1) may go without."
                ),
            )
        return data

    def save(self, commit=True):
        pool = super().save(commit=False)
        if self.cleaned_data.get("password"):
            pool.secret = {**pool.secret, "password": self.cleaned_data["password"]}
        if commit:
            pool.save()
        return pool


class DkimForm(forms.ModelForm):
    class Meta:
        model = SendingPool
        fields = ["dkim_signing", "dkim_selector"]
        help_texts = {
            "dkim_selector": _(
                "The key is published at <selector>._domainkey.<sending domain>. Change it to "
                "rotate keys without breaking mail in flight."
            ),
        }

    def clean_dkim_selector(self):
        selector = self.cleaned_data["dkim_selector"].strip().lower()
        if not SELECTOR.match(selector):
            raise forms.ValidationError(
                _("Letters, digits and hyphens, in labels separated by dots (e.g. crm2026).")
            )
        return selector


class TestEmailForm(forms.Form):
    to = forms.EmailField(label=_("Send a test email to"))
