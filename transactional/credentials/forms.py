from django import forms
from django.conf import settings
from django.utils.formats import number_format
from django.utils.text import format_lazy
from django.utils.translation import gettext as _now
from django.utils.translation import gettext_lazy as _

from transactional.credentials.constants import Scope
from transactional.credentials.nonces import NonceField


def _limit_help(default: int) -> str:
    if not default:
        return _now("Blank: the server's default, no limit.")
    return _now("Blank: the server's default, %(n)s.") % {
        "n": number_format(default, force_grouping=True)
    }


class LimitsFields(forms.Form):
    """A token's own sending limits; blank takes the server's (settings.SMTP_API_*_LIMIT)."""

    minute_limit = forms.IntegerField(
        label=_("Messages a minute"), required=False, min_value=1, max_value=1_000_000
    )
    hour_limit = forms.IntegerField(
        label=_("Messages an hour"), required=False, min_value=1, max_value=10_000_000
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["minute_limit"].help_text = _limit_help(settings.SMTP_API_MINUTE_LIMIT)
        self.fields["hour_limit"].help_text = _limit_help(settings.SMTP_API_HOUR_LIMIT)

    def clean(self):
        data = super().clean()
        minute, hour = data.get("minute_limit"), data.get("hour_limit")
        if minute and hour and minute > hour:
            self.add_error(
                "hour_limit",
                _("An hour's limit cannot be lower than a minute's (%(n)s).") % {"n": minute},
            )
        return data


class SmtpTokenForm(LimitsFields):
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
    nonce = NonceField()
    field_order = ["name", "create_contacts", "campaign_name", "minute_limit", "hour_limit"]


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
    nonce = NonceField()
