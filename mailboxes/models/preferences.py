"""Each user's email defaults: the From address, the font of what they write, log and track."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from mailboxes.constants import FONT_SIZES, FontFamily
from mailboxes.models.inboxes import Mailbox

FONT_SIZE_CHOICES = [(size, f"{size} px") for size in FONT_SIZES]


class EmailPreferences(models.Model):
    """One user's defaults for the email they write in the CRM (Settings > General, "Email").

    The row is created the first time the user saves; until then, and for any field left
    empty, the defaults apply (`mailboxes/preferences/defaults.py`): the user's first
    connected inbox as From, the recipient's own font and size, logged and tracked.

    `from_mailbox` and `from_address` are the only store of the default From: the address is
    the inbox's own or one of its aliases (`SendAsAddress`), kept as text because aliases are
    replaced whole when the provider lists them again. An inbox disconnected, or an alias the
    provider no longer lists, falls back to the default.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="email_preferences",
    )
    from_mailbox = models.ForeignKey(
        Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_address = models.EmailField(blank=True)
    font_family = models.CharField(
        max_length=20, choices=FontFamily.choices, blank=True, default=FontFamily.DEFAULT
    )
    font_size = models.PositiveSmallIntegerField(choices=FONT_SIZE_CHOICES, null=True, blank=True)
    log_by_default = models.BooleanField(default=True)
    track_by_default = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = _("email preferences")

    def __str__(self):
        return f"email preferences of {self.user_id}"
