"""Helpers of the conversations inbox's tests: a team inbox, and pages synced into it by
sync's own code (`decide`, `write_page`) from headers as an adapter gives them."""

from datetime import timedelta
from email.message import EmailMessage as EmailMessage_
from email.utils import make_msgid
from itertools import count

import pytest
from django.utils import timezone

from mailboxes import signals
from mailboxes.connecting.services import mailbox_connect_team
from mailboxes.constants import MailboxKind
from mailboxes.models import EmailMessage, FolderSync, TeamInbox
from mailboxes.providers.base import FetchedHeader
from mailboxes.sync.decide import decide
from mailboxes.sync.engine import write_page

TEAM = "help@crm.example"
_refs = count(1)
START = timezone.now() - timedelta(days=2)


def header(
    sender,
    to=(TEAM,),
    *,
    cc=(),
    name="",
    parent=None,
    references=(),
    minutes=0,
    subject="Order 1234",
    date=None,
):
    return FetchedHeader(
        ref=str(next(_refs)),
        message_id=make_msgid(domain="test.example"),
        in_reply_to=parent,
        references=tuple(references) or ((parent,) if parent else ()),
        from_addr=sender,
        to_addrs=tuple(to),
        cc_addrs=tuple(cc),
        subject=subject,
        date=date or START + timedelta(minutes=minutes),
        size=100,
        flags=(),
        from_name=name,
        raw_headers=b"",
    )


def raw(h: FetchedHeader) -> bytes:
    """The message as the server would give it, its text saying who wrote it."""
    message = EmailMessage_()
    message["From"] = f"{h.from_name} <{h.from_addr}>" if h.from_name else h.from_addr
    message["To"] = ", ".join(h.to_addrs)
    message["Subject"] = h.subject
    message["Message-ID"] = h.message_id
    message.set_content(f"Hello, this is {h.from_name or h.from_addr} about {h.subject}.")
    return message.as_bytes()


@pytest.fixture
def team_desk(blue, owner):
    inbox = TeamInbox.objects.create(name="Support", kind="conversations", route_to_team=blue)
    return mailbox_connect_team(inbox, provider="gmail", email=TEAM, secret={}, config={})


@pytest.fixture
def sync_page(django_capture_on_commit_callbacks):
    """Sync one page as the engine does, its signals sent on commit."""

    def run(mailbox, *headers, folder="INBOX"):
        box, _ = FolderSync.objects.get_or_create(mailbox=mailbox, folder=folder, role="inbox")
        with django_capture_on_commit_callbacks(execute=True):
            decision = decide(mailbox, list(headers))
            ids = write_page(mailbox, box, decision.kept, {h.ref: raw(h) for h in headers})
        return list(EmailMessage.objects.filter(pk__in=ids).order_by("pk"))

    return run


def announce_sent(outbound, contact_ids) -> None:
    """What the sending worker announces once `outbound` went out (`announce` of
    outbox/outcomes.py, on commit; call it inside
    django_capture_on_commit_callbacks(execute=True))."""
    event = signals.SendOutcome(
        outbound_id=outbound.pk,
        message_id=outbound.message_id,
        status="sent",
        source=outbound.source,
        source_id=None,
        contact_ids=tuple(contact_ids),
        detail="",
        from_team_inbox=outbound.mailbox.kind == MailboxKind.TEAM,
    )
    signals.send_on_commit(signals.email_sent, "outbox", [event])
