"""Save a user's email preferences: the one writer of `EmailPreferences`."""

from mailboxes.constants import MailboxKind
from mailboxes.models import EmailPreferences
from records.models import User


def email_preferences_save(user: User, **fields) -> EmailPreferences:
    """Save the fields given, creating the user's row the first time.

    A default From (`from_mailbox`, `from_address`: the inbox's own address or an alias) must
    be one of the user's own inboxes: the callers offer only those, and a ValueError keeps it
    so.
    """
    mailbox = fields.get("from_mailbox")
    if mailbox is not None and (
        mailbox.kind != MailboxKind.PERSONAL or mailbox.owner_id != user.pk
    ):
        raise ValueError(f"{mailbox} is not one of {user}'s own inboxes")
    preferences, _ = EmailPreferences.objects.update_or_create(user=user, defaults=fields)
    return preferences
