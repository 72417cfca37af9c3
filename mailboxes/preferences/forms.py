"""The "Email" part of Settings > General (registered in mailboxes/apps.py): the user's own
defaults for the email they write."""

from django import forms
from django.utils.translation import gettext_lazy as _

from mailboxes.constants import FontFamily
from mailboxes.models.preferences import FONT_SIZE_CHOICES
from mailboxes.preferences.defaults import default_from, own_addresses, preferences_for
from mailboxes.preferences.services import email_preferences_save

LOG_HELP = _(
    "On: each email you write goes on the timeline of its contacts and of the records you "
    "associate it with. Off: it is sent from your inbox and listed under Email, but put on no "
    "timeline. You can change it for each email in the composer."
)
TRACK_HELP = _(
    "On: an invisible image tells when the email is opened, and its links pass through the CRM "
    "so that clicks are counted. Off: the email goes out with neither. You can change it for "
    "each email in the composer."
)


class EmailPreferencesForm(forms.Form):
    """`user`'s email defaults. The From is one of the user's own inboxes or their aliases (the
    field is left out when they have none); a font or size not offered is refused."""

    default_from = forms.ChoiceField(
        label=_("From address"),
        help_text=_(
            "New emails start from this address; you can choose another in each email. The "
            "From name is your profile name."
        ),
        error_messages={"invalid_choice": _("Choose one of your own addresses.")},
    )
    font_family = forms.ChoiceField(
        label=_("Font"),
        choices=FontFamily.choices,
        required=False,
        help_text=_(
            "The composer opens with it and the email you send carries it. The recipient's "
            "default: the font of their own mail app."
        ),
        error_messages={"invalid_choice": _("Choose one of the fonts offered.")},
    )
    font_size = forms.TypedChoiceField(
        label=_("Size"),
        choices=[("", _("The recipient's default")), *FONT_SIZE_CHOICES],
        coerce=int,
        empty_value=None,
        required=False,
        error_messages={"invalid_choice": _("Choose one of the sizes offered.")},
    )
    log_by_default = forms.BooleanField(
        label=_("Log new emails in the CRM"), required=False, help_text=LOG_HELP
    )
    track_by_default = forms.BooleanField(
        label=_("Track opens and clicks of new emails"), required=False, help_text=TRACK_HELP
    )

    def __init__(self, data=None, *, user):
        self.user = user
        self.addresses = own_addresses(user)
        prefs = preferences_for(user)
        chosen = default_from(user, self.addresses, prefs)
        initial = {
            "default_from": chosen.key if chosen else "",
            "font_family": prefs.font_family,
            "font_size": prefs.font_size or "",
            "log_by_default": prefs.log_by_default,
            "track_by_default": prefs.track_by_default,
        }
        super().__init__(data, initial=initial, prefix="email")
        if self.addresses:
            self.fields["default_from"].choices = [(c.key, c.label) for c in self.addresses]
        else:
            del self.fields["default_from"]

    def save(self):
        data = self.cleaned_data
        chosen = {c.key: c for c in self.addresses}.get(data.get("default_from", ""))
        from_fields = (
            {"from_mailbox": chosen.mailbox, "from_address": chosen.address} if chosen else {}
        )
        return email_preferences_save(
            self.user,
            **from_fields,
            font_family=data["font_family"],
            font_size=data["font_size"],
            log_by_default=data["log_by_default"],
            track_by_default=data["track_by_default"],
        )


def section_form(user, data):
    """The form Settings > General asks for (records.extensions.PreferencesSection)."""
    return EmailPreferencesForm(data, user=user)
