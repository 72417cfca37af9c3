"""Connect, configure and disconnect inboxes, keeping the account's address rules."""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from mailboxes import jobs
from mailboxes.connecting import caps
from mailboxes.constants import TEAM_PROVIDERS, MailboxKind, Provider
from mailboxes.models import Mailbox, SendAsAddress, TeamInbox
from records.models import User


class MailboxRuleError(ValueError):
    """A connection the account's rules forbid; the message is for the person connecting."""


# The sending limits of an inbox (outbox/throttle.py counts them).
LIMITS = ("send_per_minute", "send_per_day")


def _keep_within_caps(mailbox: Mailbox) -> None:
    """Lower a reconnected inbox's limits to its (maybe new) provider's caps."""
    for field, value in caps.clamped_limits(mailbox).items():
        setattr(mailbox, field, value)


def address_holder(email: str) -> Mailbox | None:
    return Mailbox.objects.filter(email__iexact=email.strip()).first()


def check_address_free(email: str, *, reconnecting: Mailbox | None = None) -> None:
    """Refuse an address connected anywhere else in the account.

    The message says only that it is taken, never by whom: anyone may type any address on
    the connect page, and it must not tell them who in the account holds it (or that a team
    inbox does). Admins find the holder under Settings > All inboxes.
    """
    holder = address_holder(email)
    if holder is not None and (reconnecting is None or holder.pk != reconnecting.pk):
        raise MailboxRuleError(
            _(
                "%(email)s is already connected. An address can be connected only once: "
                "an admin can find it under Settings > All inboxes and disconnect it."
            )
            % {"email": email}
        )


def check_can_connect_personal(user: User) -> None:
    if not user.can_reach_out:
        raise MailboxRuleError(
            _("A View-only seat cannot connect an inbox. Ask an admin for a Sales or Service seat.")
        )


@transaction.atomic
def mailbox_connect_personal(
    user: User, *, provider: str, email: str, secret: dict, config: dict, display_name: str = ""
) -> Mailbox:
    """Save a verified personal inbox, or refresh the credentials of the user's own one.

    Reconnecting keeps the mailbox row, so its sync cursors survive and nothing is imported
    twice. Until the user chooses another, their first inbox is their default From
    (mailboxes/preferences/defaults.py).
    """
    check_can_connect_personal(user)
    email = email.strip().lower()
    existing = address_holder(email)
    if (
        existing is not None
        and existing.kind == MailboxKind.PERSONAL
        and existing.owner_id == user.pk
    ):
        existing.provider, existing.secret = provider, secret
        existing.config = {**existing.config, **config}
        existing.display_name = display_name or existing.display_name
        _keep_within_caps(existing)
        existing.save(update_fields=["provider", "secret", "config", "display_name", *LIMITS])
        existing.mark_connected()
        return existing
    check_address_free(email)
    try:
        with transaction.atomic():
            return Mailbox.objects.create(
                kind=MailboxKind.PERSONAL,
                provider=provider,
                email=email,
                owner=user,
                secret=secret,
                config=config,
                display_name=display_name,
                **caps.new_inbox_limits(provider, email, config),
            )
    except IntegrityError:
        # Two people connecting the same address at once: the database's unique index wins.
        check_address_free(email)
        raise


@transaction.atomic
def mailbox_connect_team(
    team_inbox: TeamInbox, *, provider: str, email: str, secret: dict, config: dict
) -> Mailbox:
    """Connect a verified address to a team inbox (Gmail or Office 365 only)."""
    if provider not in TEAM_PROVIDERS:
        raise MailboxRuleError(
            _(
                "Team inboxes connect through Gmail or Office 365 only: IMAP and Exchange can't "
                "be shared safely by a whole team."
            )
        )
    email = email.strip().lower()
    current = Mailbox.objects.filter(team_inbox=team_inbox).first()
    if current is not None and current.email != email:
        raise MailboxRuleError(
            _("The “%(name)s” inbox already has %(email)s; disconnect it first.")
            % {"name": team_inbox.name, "email": current.email}
        )
    check_address_free(email, reconnecting=current)
    if current is not None:
        current.provider, current.secret = provider, secret
        current.config = {**current.config, **config}
        _keep_within_caps(current)
        current.save(update_fields=["provider", "secret", "config", *LIMITS])
        current.mark_connected()
        return current
    return Mailbox.objects.create(
        kind=MailboxKind.TEAM,
        provider=provider,
        email=email,
        team_inbox=team_inbox,
        secret=secret,
        config=config,
        display_name=team_inbox.display_name,
        **caps.new_inbox_limits(provider, email, config),
    )


def mailbox_set_limits(mailbox: Mailbox, *, per_minute: int, per_day: int) -> None:
    """Save an inbox's sending limits (the caller checked them against its plan's caps).

    Only these two columns are written: a connect flow or the sync saving the row meanwhile
    keeps what it wrote, and this keeps what the admin typed."""
    Mailbox.objects.filter(pk=mailbox.pk).update(send_per_minute=per_minute, send_per_day=per_day)
    mailbox.send_per_minute, mailbox.send_per_day = per_minute, per_day


@transaction.atomic
def mailbox_disconnect(mailbox: Mailbox) -> None:
    """Forget the inbox and its credentials; emails already logged stay on the timelines.

    A Gmail grant is also revoked at Google, after the commit and by a worker (a network call
    has no place in the request; a failure there must not keep the inbox connected). The
    owner's default From, if it was this inbox, falls back to their first remaining inbox.
    """
    token = mailbox.secret.get("refresh_token") if mailbox.provider == Provider.GMAIL else None
    mailbox.delete()
    if token:
        jobs.later(jobs.REVOKE_GOOGLE_TOKEN, token)


def aliases_replace(mailbox: Mailbox, aliases: list[tuple[str, str, bool]]) -> None:
    """Store the provider's send-as addresses (email, display name, is primary)."""
    with transaction.atomic():
        SendAsAddress.objects.filter(mailbox=mailbox).delete()
        SendAsAddress.objects.bulk_create(
            [
                SendAsAddress(mailbox=mailbox, email=e.lower(), display_name=n, is_primary=p)
                for e, n, p in aliases
            ]
        )
