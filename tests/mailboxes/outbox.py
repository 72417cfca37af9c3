"""Helpers shared by the sending tests: a draft submitted the way the composer does it, and
what came of it (the inbox itself: tests/mailboxes/inboxes.py)."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import compat32

from mailboxes.composer.drafts import Draft, email_submit
from mailboxes.models import EmailMessage, Outbound


def submit(owner, mailbox, to=("olivia@acme.example",), **fields) -> Outbound:
    """Submit an email through mailboxes.composer.drafts.email_submit; return its Outbound row."""
    draft = Draft(
        sender=owner,
        from_key=f"{mailbox.pk}:{mailbox.email}",
        to=list(to),
        subject=fields.pop("subject", "Our proposal"),
        html=fields.pop("html", "<p>Hello Olivia, here is <b>the proposal</b>.</p>"),
        # Tracking is instrumented by mailboxes.tracking.events; these tests are about sending.
        track=fields.pop("track", False),
        **fields,
    )
    message = email_submit(draft)
    return Outbound.objects.get(message=message)


def header(raw: bytes, name: str) -> str | None:
    value = message_from_bytes(raw, policy=compat32)[name]
    return None if value is None else str(value)


def sent_copies(dovecot, message_id: str, folder: str = "Sent") -> list[tuple[int, bytes, tuple]]:
    """Return (uid, raw, flags) of every message in the folder with this Message-ID."""
    with dovecot.imap() as client:
        client.select_folder(folder, readonly=True)
        uids = client.search(["HEADER", "Message-ID", message_id.strip("<>")])
        fetched = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"]) if uids else {}
    return [(uid, data[b"BODY[]"], data[b"FLAGS"]) for uid, data in sorted(fetched.items())]


def reload(outbound: Outbound) -> Outbound:
    return Outbound.objects.select_related("message").get(pk=outbound.pk)


def message_of(outbound: Outbound) -> EmailMessage:
    return EmailMessage.objects.get(pk=outbound.message_id)
