"""One way to get an IMAP inbox on the test Dovecot (tests/integration/servers.py), for every
test that needs one: connected the way the product connects it."""

from __future__ import annotations

from mailboxes.connecting.services import mailbox_connect_personal
from mailboxes.models import Mailbox
from mailboxes.preferences.defaults import default_from, own_addresses

REP_ADDRESS = "rep@crm.example"
# Where nothing listens: an inbox that only syncs never reaches its SMTP side.
NO_SMTP = {"smtp_host": "127.0.0.1", "smtp_port": 1, "smtp_security": "none"}
NO_IMAP = {"imap_host": "127.0.0.1", "imap_port": 1, "imap_security": "none"}


def offline_mailbox(owner, *, email: str = REP_ADDRESS) -> Mailbox:
    """`owner`'s personal IMAP inbox on servers nobody reaches: for tests that only queue
    email from it (nothing syncs it, nothing sends)."""
    return mailbox_connect_personal(
        owner, provider="imap", email=email, secret={"password": "x"}, config=NO_IMAP | NO_SMTP
    )


def imap_mailbox(
    owner,
    dovecot,
    smtp_sink=None,
    *,
    email: str = REP_ADDRESS,
    config: dict | None = None,
    **fields,
) -> Mailbox:
    """Connect `owner`'s personal inbox: IMAP on the `dovecot` account (with a Sent folder),
    SMTP through `smtp_sink` (tests/fakes/fixtures.py) or, without one, nowhere.

    `config` overrides connection settings (e.g. `imap_port` of a proxy in front of Dovecot);
    other keywords are saved on the Mailbox (e.g. `send_per_minute=2`).
    """
    dovecot.create_folder("Sent")
    secret = {"password": dovecot.password}
    smtp = NO_SMTP
    if smtp_sink is not None:
        secret["smtp_password"] = smtp_sink.password
        smtp = {
            "smtp_host": smtp_sink.host,
            "smtp_port": smtp_sink.port,
            "smtp_security": "none",
            "smtp_username": smtp_sink.user,
        }
    mailbox = mailbox_connect_personal(
        owner,
        provider="imap",
        email=email,
        secret=secret,
        config={
            "username": dovecot.user,
            "imap_host": dovecot.host,
            "imap_port": dovecot.port,
            "imap_security": "none",
            **smtp,
            **(config or {}),
        },
    )
    if fields:
        for name, value in fields.items():
            setattr(mailbox, name, value)
        mailbox.save(update_fields=list(fields))
    return mailbox


def unreachable_mailbox(owner, email: str = REP_ADDRESS) -> Mailbox:
    """Connect `owner`'s personal IMAP inbox on servers nowhere: for tests that open the
    composer or queue email, and never sync or send."""
    return mailbox_connect_personal(
        owner,
        provider="imap",
        email=email,
        secret={"password": "x"},
        config={"imap_host": "127.0.0.1", "imap_port": 1, "imap_security": "none", **NO_SMTP},
    )


def default_inbox(user) -> Mailbox | None:
    """The inbox a new email of `user`'s starts from (their default From's)."""
    chosen = default_from(user, own_addresses(user))
    return chosen.mailbox if chosen is not None else None
