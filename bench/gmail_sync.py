"""Initial sync of a 10,000-message Gmail inbox on the quota-enforcing Google fake.

Target: the sync reaches at least 80% of the ceiling Google's per-user quota sets for the
calls it makes, and Google refuses none of them (no 429).

The inbox is imap_sync's (the same 10,000 generated messages, 30% of them exchanged with CRM
contacts; the same 2,000 contacts in the bench database), delivered to the Google fake
(tests/fakes/google.py), which counts Google's quota units per call, also inside batch
requests, and answers 429 rateLimitExceeded beyond 250 units a second.

value: messages per second, `mailboxes.sync.engine.sync_mailbox()` on the inbox with no
cursor, from the call until it returns (token, profile, listing, batched headers, decide,
batched raw fetch of the kept messages, DB writes, commits).
ref: the quota's ceiling for the same work: 250 units/s divided by the units the sync spent
per message (the fake's count: every call it made, listings and labels included).
BENCH_GMAIL_MESSAGES (default 10,000) takes the first N messages, for a quick look.
"""

import os
import re
import time

from django.test import override_settings

import mailboxes.sync.engine as sync_module
from mailboxes.constants import MailboxKind, MailboxStatus
from mailboxes.models import FolderSync, Mailbox
from records.models import User

from . import imap_sync
from .common import bench_line, ensure_dataset

NAME = "gmail_sync"
QUOTA = 250.0
TARGET_SHARE = 0.8
TARGET = "≥ 80% of ref (the per-user quota's ceiling), no 429"
ME = imap_sync.ME


def _mailbox(fake) -> Mailbox:
    """The bench inbox as a Gmail inbox (imap_sync's row for the same address, switched)."""
    mailbox = Mailbox.objects.filter(email=ME).first()
    if mailbox is None:
        owner = User.objects.get(username=imap_sync.OWNER)
        mailbox = Mailbox(kind=MailboxKind.PERSONAL, email=ME, owner=owner)
    mailbox.provider = "gmail"
    mailbox.secret = fake.inbox_secret(ME)
    mailbox.config = {}
    mailbox.status = MailboxStatus.CONNECTED
    mailbox.save()
    return mailbox


def run() -> bool:
    from tests.fakes.google import start_fake_google

    ensure_dataset(imap_sync.NAME, imap_sync.SIGNATURE, imap_sync._fill, imap_sync._verify)
    count = int(os.environ.get("BENCH_GMAIL_MESSAGES") or imap_sync.MESSAGES)
    raws, expected = imap_sync.build_messages()
    raws = raws[:count]
    present = {re.search(rb"\nMessage-ID: (<[^>]+>)", r).group(1).decode() for r in raws}
    expected &= present
    fake = start_fake_google()
    ok = True
    try:
        started = time.perf_counter()
        for raw in raws:
            fake.add_message(raw, ["INBOX"], address=ME)
        print(
            f"inbox: {len(raws):,} messages delivered to the Google fake in "
            f"{time.perf_counter() - started:.1f} s"
        )
        with override_settings(
            GOOGLE_CLIENT_ID=fake.client_id,
            GOOGLE_CLIENT_SECRET=fake.client_secret,
            GOOGLE_TOKEN_URI=fake.token_uri,
            GMAIL_API_BASE=fake.api_base,
        ):
            mailbox = _mailbox(fake)
            imap_sync._clean(mailbox)
            box = fake.mailbox(ME)
            box.units_used = 0
            started = time.perf_counter()
            logged = sync_module.sync_mailbox(mailbox.pk)
            elapsed = time.perf_counter() - started
            units = box.units_used
            batches = len(fake.requests_to("/batch/gmail/v1"))
            refusals = fake.quota_refusals
            folder = FolderSync.objects.get(mailbox=mailbox, folder="INBOX")
            started = time.perf_counter()
            again = sync_module.sync_mailbox(mailbox.pk)
            incremental = time.perf_counter() - started
            problems = imap_sync.check_logged(mailbox, expected)
    finally:
        fake.stop()

    value = len(raws) / elapsed
    per_message = units / len(raws)
    ref = QUOTA / per_message
    print(
        f"sync: {elapsed:.1f} s, {value:,.1f} msgs/s; logged {logged:,}, seen {folder.seen:,}, "
        f"skipped {folder.skipped:,}; {units:,} quota units ({per_message:.2f} a message, "
        f"{units / elapsed:.0f} units/s), {batches} batch requests, {refusals} answered 429"
    )
    print(f"incremental sync right after: {again} logged in {incremental * 1000:.0f} ms")
    for problem in problems:
        print(f"FAIL {problem}")
        ok = False
    if logged != len(expected):
        print(f"FAIL sync_mailbox() said {logged:,} logged, expected {len(expected):,}")
        ok = False
    if again:
        print(f"FAIL the second sync logged {again}")
        ok = False
    share = value / ref
    met = share >= TARGET_SHARE and refusals == 0
    print(
        f"ref (250 units/s / {per_message:.2f} units a message): {ref:,.1f} msgs/s; sync "
        f"{share:.0%} of it, {refusals} 429s; target {TARGET}: {'met' if met else 'MISSED'}"
    )
    print(bench_line(NAME, value, "msgs/s", ref, TARGET))
    return ok
