"""Office 365 within its limits: the fake refuses a fifth request in flight for a mailbox as
Outlook does; the adapter reads delta pages at the largest size with only the fields sync
needs, bodies through JSON batches of 20, keeps to 4 requests in flight across adapters of
the same mailbox, and sends a batch's throttled requests again, only they, after their
Retry-After."""

from __future__ import annotations

import threading
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from urllib.parse import quote

import pytest
import requests

from mailboxes.providers.base import ProviderError
from mailboxes.providers.graph import DELTA_SELECT, GraphProvider
from tests.integration.test_graph_provider import ANA, graph_settings, outgoing, sign_in

pytestmark = pytest.mark.integration


def mime(n: int) -> bytes:
    msg = MimeMessage()
    msg["From"], msg["To"], msg["Subject"] = "lea@client.example", ANA, f"Note {n}"
    msg["Message-ID"] = make_msgid(domain="client.example")
    msg.set_content(f"Body of note {n}")
    return bytes(msg)


@pytest.fixture
def microsoft(fake_microsoft):
    return fake_microsoft


@pytest.fixture
def mailbox(fake_microsoft):
    return fake_microsoft.add_user(ANA)


@pytest.fixture
def tokens(microsoft, mailbox):
    return sign_in(microsoft, ANA)


def in_parallel(count: int, work) -> list:
    results: list = [None] * count

    def run(n: int) -> None:
        results[n] = work(n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_fake_refuses_a_fifth_request_in_flight_for_a_mailbox(microsoft, tokens):
    microsoft.latency = 0.3

    def get_me(n: int) -> requests.Response:
        return requests.get(
            f"{microsoft.graph_base}/me",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            verify=str(microsoft.ca_path),
            timeout=10,
        )

    answers = in_parallel(6, get_me)

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 200, 200, 200, 429, 429]
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.json()["error"]["message"] == (
        "Application is over its MailboxConcurrency limit."
    )
    assert refused.headers["Retry-After"] == "1"
    assert microsoft.concurrency_refusals == 2


def test_delta_pages_are_as_large_as_graph_allows_with_only_the_fields_sync_needs(
    microsoft, mailbox, tokens
):
    for n in range(3):
        mailbox.deliver(mime(n))

    with GraphProvider(graph_settings(microsoft, tokens)) as provider:
        page = provider.changes("inbox", "", 5000)

    assert len(page.headers) == 3
    delta = [r for r in microsoft.requests if "/delta" in r.path]
    assert "odata.maxpagesize=1000" in delta[0].headers["prefer"]
    assert f"$select={DELTA_SELECT}" in requests.utils.unquote(delta[0].path)


def test_bodies_come_through_json_batches_of_twenty(microsoft, mailbox, tokens):
    raws = [mime(n) for n in range(25)]
    refs = [mailbox.deliver(raw) for raw in raws]

    with GraphProvider(graph_settings(microsoft, tokens)) as provider:
        fetched = provider.fetch_raw("inbox", refs)

    assert [m.ref for m in fetched] == refs
    # Byte for byte what was delivered (Graph base64-encodes a batch's non-JSON bodies).
    assert [m.raw for m in fetched] == [mailbox.messages[r].raw for r in refs]
    batches = [r for r in microsoft.requests if r.path.endswith("/$batch")]
    assert len(batches) == 2  # 20 + 5
    assert all('IdType="ImmutableId"' in r.headers["prefer"] for r in microsoft.requests)


def test_a_throttled_request_of_a_batch_is_sent_again_alone(microsoft, mailbox, tokens):
    refs = [mailbox.deliver(mime(n)) for n in range(5)]
    microsoft.inject(429, retry_after=1, path=f"{refs[2]}/$value")

    with GraphProvider(graph_settings(microsoft, tokens)) as provider:
        fetched = provider.fetch_raw("inbox", refs)

    assert [m.ref for m in fetched] == refs
    asked = [r.path for r in microsoft.requests if r.path.endswith("/$value")]
    expected = [f"/v1.0/me/messages/{quote(ref, safe='')}/$value" for ref in refs + [refs[2]]]
    assert sorted(asked) == sorted(expected)


def test_adapters_of_one_mailbox_keep_to_four_requests_in_flight(microsoft, mailbox, tokens):
    refs = [mailbox.deliver(mime(n)) for n in range(6)]
    microsoft.latency = 0.2

    def fetch(n: int) -> list[str]:
        # Each worker its own adapter: a batch of three holds three slots, a lookup one.
        with GraphProvider(graph_settings(microsoft, tokens)) as provider:
            if n % 2:
                return [provider.find_by_message_id("inbox", "<nobody@example.test>") or ""]
            return [m.ref for m in provider.fetch_raw("inbox", refs[n : n + 3])]

    results = in_parallel(6, fetch)

    assert results[0] == refs[0:3] and results[4] == refs[4:6]
    assert microsoft.concurrency_refusals == 0
    assert microsoft.most_in_flight <= 4


def test_a_retry_after_holds_back_every_adapter_of_the_mailbox(microsoft, mailbox, tokens):
    mailbox.deliver(mime(0))
    microsoft.inject(429, retry_after=30, path="delta")

    with GraphProvider(graph_settings(microsoft, tokens)) as sync:
        with pytest.raises(ProviderError) as throttled:
            sync.changes("inbox", "", 100)
    asked = len(microsoft.requests)
    # The sender of the same mailbox, in its own adapter, does not knock before the time.
    with GraphProvider(graph_settings(microsoft, tokens)) as sender:
        with pytest.raises(ProviderError) as held:
            sender.send(outgoing("bob@example.test"))

    assert (throttled.value.code, throttled.value.retry_after) == (429, 30)
    assert held.value.retry_after and not held.value.permanent and not held.value.maybe_sent
    assert len(microsoft.requests) == asked and microsoft.outbox == []
