"""Gmail at its quota: the fake counts Google's per-user units and refuses beyond them; the
adapter batches its reads, paces itself under the quota, honours Retry-After and retries only
the parts of a batch that were refused; a sync stopped by a 429 resumes without losing or
repeating a message."""

from __future__ import annotations

import time
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid

import pytest
import requests

from mailboxes.connecting.services import mailbox_connect_personal
from mailboxes.models import EmailMessage, FolderSync
from mailboxes.providers import LocalBudget
from mailboxes.providers.base import ProviderError
from mailboxes.providers.gmail import GmailProvider, GmailSettings
from mailboxes.sync.engine import sync_mailbox
from tests.factories import ContactFactory
from tests.fakes.google import start_fake_google

pytestmark = pytest.mark.integration
ME = "ana@example.test"


def mime(sender: str, subject: str) -> bytes:
    msg = MimeMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, ME, subject
    msg["Message-ID"] = make_msgid(domain="client.example")
    msg.set_content(f"About {subject}")
    return bytes(msg)


class Clock:
    """A monotonic clock a test can move forward (for a budget's Retry-After pause)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def google():
    fake = start_fake_google()
    yield fake
    fake.stop()


def gmail_settings(google, budget=None) -> GmailSettings:
    return GmailSettings(
        **google.adapter_settings(ME),
        budget=budget if budget is not None else LocalBudget(),
        timeout=5,
    )


def batch_body(ids: list[str], boundary: str = "b0") -> bytes:
    parts = "".join(
        f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item{n}>\r\n\r\n"
        f"GET /gmail/v1/users/me/messages/{ref}?format=minimal HTTP/1.1\r\n\r\n"
        for n, ref in enumerate(ids)
    )
    return (parts + f"--{boundary}--\r\n").encode()


# -- the fake --------------------------------------------------------------------------------


def test_fake_refuses_calls_beyond_250_units_a_second_with_429(google):
    ref = google.add_message(mime("lea@client.example", "Hi"), address=ME)
    token = google.issue_tokens(ME)["access_token"]
    url = f"{google.api_base}gmail/v1/users/me/messages/{ref}"
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {token}"
        answers = [http.get(url, params={"format": "minimal"}, timeout=5) for _ in range(200)]

    statuses = [a.status_code for a in answers]
    # A full bucket holds 250 units: 50 calls of 5, plus what refilled meanwhile.
    assert statuses[:50] == [200] * 50 and 429 in statuses[50:]
    refused = answers[statuses.index(429)]
    error = refused.json()["error"]
    assert error["errors"][0]["reason"] == "rateLimitExceeded"
    assert int(refused.headers["Retry-After"]) >= 1
    assert google.quota_refusals == statuses.count(429)
    assert google.mailbox(ME).units_used == 5 * statuses.count(200)


def test_fake_counts_each_part_of_a_batch_and_refuses_only_those_beyond(google):
    ids = [google.add_message(mime("lea@client.example", f"n{n}"), address=ME) for n in range(55)]
    token = google.issue_tokens(ME)["access_token"]
    # The burst (250 units: 50 of the 55 calls) is what this checks. At 250 units a second the
    # bucket refilled enough while a loaded machine answered the batch to let all 55 through.
    google.quota_per_second = 1.0
    answer = requests.post(
        f"{google.api_base}batch/gmail/v1",
        data=batch_body(ids),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "multipart/mixed; boundary=b0",
        },
        timeout=5,
    )

    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("multipart/mixed; boundary=")
    parts = answer.content.split(b"Content-Type: application/http")[1:]
    assert len(parts) == 55
    assert b"Content-ID: <response-item0>" in parts[0]
    oks = [p for p in parts if b"HTTP/1.1 200 OK" in p]
    refused = [p for p in parts if b"HTTP/1.1 429" in p]
    assert len(oks) + len(refused) == 55 and 50 <= len(oks) < 55
    assert all(b"rateLimitExceeded" in p and b"Retry-After: " in p for p in refused)


# -- the adapter -----------------------------------------------------------------------------


def test_sync_reads_headers_and_bodies_in_batches_paced_under_the_quota(google):
    ids = [google.add_message(mime("lea@client.example", f"n{n}"), address=ME) for n in range(90)]

    started = time.monotonic()
    with GmailProvider(gmail_settings(google)) as provider:
        page = provider.changes("INBOX", "", 500)
        raws = provider.fetch_raw("INBOX", ids[:40])
    elapsed = time.monotonic() - started

    assert sorted(h.ref for h in page.headers) == sorted(ids)
    assert [m.ref for m in raws] == ids[:40]
    assert raws[0].raw == google.mailbox(ME).messages[ids[0]].raw
    # 90 headers in batches of 40 (3 requests) and 40 bodies in one; nothing one by one.
    assert len(google.requests_to("/batch/gmail/v1")) == 4
    # Besides the batches and their 130 parts: the profile, the listing and the label.
    assert len(google.requests) == 4 + 130 + 3
    # 650 units spent: faster than the quota allows is refused, so the adapter waited for
    # the units beyond its 200-unit burst (at 225 a second), and Google refused nothing.
    assert google.mailbox(ME).units_used >= 650
    assert google.quota_refusals == 0
    assert elapsed >= (650 - 200) / 225 - 0.1


def test_a_refused_part_of_a_batch_is_retried_alone_after_its_retry_after(google):
    ids = [google.add_message(mime("lea@client.example", f"n{n}"), address=ME) for n in range(10)]
    google.inject(429, "rateLimitExceeded", path=f"/messages/{ids[4]}", retry_after="1")

    started = time.monotonic()
    with GmailProvider(gmail_settings(google)) as provider:
        headers = provider.changes("INBOX", "", 500).headers
    elapsed = time.monotonic() - started

    assert sorted(h.ref for h in headers) == sorted(ids)
    asked = [r.path.rsplit("/", 1)[1] for r in google.api_requests() if "/messages/" in r.path]
    assert sorted(asked) == sorted(ids + [ids[4]])  # only the refused part asked twice
    assert len(google.requests_to("/batch/gmail/v1")) == 2
    assert elapsed >= 1.0


def test_a_part_refused_for_good_fails_the_batch(google):
    ids = [google.add_message(mime("lea@client.example", f"n{n}"), address=ME) for n in range(3)]
    google.inject(403, "forbidden", path=f"/messages/{ids[1]}")

    with GmailProvider(gmail_settings(google)) as provider, pytest.raises(ProviderError) as err:
        provider.changes("INBOX", "", 500)

    assert (err.value.permanent, err.value.code) == (True, 403)


def test_a_long_retry_after_stops_the_read_and_holds_every_call_until_it_passed(google):
    ids = [google.add_message(mime("lea@client.example", f"n{n}"), address=ME) for n in range(6)]
    google.inject(429, "rateLimitExceeded", path=f"/messages/{ids[2]}", retry_after="30")
    clock = Clock()
    budget = LocalBudget(clock=clock)

    with GmailProvider(gmail_settings(google, budget)) as provider:
        with pytest.raises(ProviderError) as err:
            provider.changes("INBOX", "", 500)
        assert (err.value.permanent, err.value.retry_after, err.value.code) == (False, 30.0, 429)
        asked = len(google.requests)
        # The sender of the same account books from the same budget: it holds back too,
        # without a request reaching Google.
        with GmailProvider(gmail_settings(google, budget)) as sender:
            with pytest.raises(ProviderError) as held:
                sender.send_as_aliases()
        assert held.value.retry_after and not held.value.permanent
        assert len(google.requests) == asked

        clock.offset += 31
        headers = provider.changes("INBOX", "", 500).headers

    assert sorted(h.ref for h in headers) == sorted(ids)
    assert google.quota_refusals == 0


# -- the sync --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_sync_stopped_by_429_resumes_without_losing_or_repeating_a_message(fake_google, owner):
    inbox = mailbox_connect_personal(
        owner, provider="gmail", email=ME, secret=fake_google.inbox_secret(ME), config={}
    )
    ContactFactory(owner=owner, emails=["lea@client.example"])
    for n in range(5):
        fake_google.add_message(mime("lea@client.example", f"In {n}"), address=ME)
    sent = [
        fake_google.add_message(mime("lea@client.example", f"Out {n}"), ["SENT"], address=ME)
        for n in range(3)
    ]
    # Every try at one sent message's body is refused for a second, more often than the
    # adapter tries again within one sync.
    fake_google.inject(
        429, "rateLimitExceeded", path=f"/messages/{sent[1]}", retry_after="1", times=4
    )

    sync_mailbox(inbox.pk)

    inbox_state = FolderSync.objects.get(mailbox=inbox, role="inbox")
    sent_state = FolderSync.objects.get(mailbox=inbox, role="sent")
    assert inbox_state.cursor.startswith("h:") and inbox_state.logged == 5
    assert sent_state.cursor == "" and "slow down" in sent_state.last_error
    assert EmailMessage.objects.count() == 5

    sync_mailbox(inbox.pk)

    subjects = sorted(EmailMessage.objects.values_list("subject", flat=True))
    assert subjects == sorted([f"In {n}" for n in range(5)] + [f"Out {n}" for n in range(3)])
    assert FolderSync.objects.get(pk=sent_state.pk).last_error == ""
