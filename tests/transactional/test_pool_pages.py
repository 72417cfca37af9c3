"""Settings > Transactional email as an admin uses it (Django's test client): the add-on
switch, the relay form, DKIM keys, the test email, the deliverability check against a local
DNS server, and the queue's confirmed bulk actions."""

from __future__ import annotations

import dns.resolver
import pytest
from django.db import connection
from django.urls import reverse

from mailboxes import jobs
from mailboxes.constants import SendStatus
from mailboxes.models import OutboundEvent
from tests.fakes.dns import FakeDnsServer
from tests.mailboxes.outbox import reload
from tests.transactional.pool import pool_for, queue, txt_value
from transactional.events.constants import EventType
from transactional.events.models import StatusEvent
from transactional.pool import deliverability, delivery, dkim
from transactional.pool.models import SendingPool

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]
POOL = reverse("transactional:pool")
QUEUE = reverse("transactional:queue")


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)
    return client


def test_only_admins_open_the_pages(client, owner):
    client.force_login(owner)
    for name in ("transactional:addon", "transactional:pool", "transactional:queue"):
        assert client.get(reverse(name)).status_code == 403


def test_the_add_on_switch_is_off_by_default_and_says_why_nothing_is_sent(admin):
    page = admin.get(reverse("transactional:addon"))
    assert "Transactional email is off" in page.content.decode()
    admin.post(reverse("transactional:addon"), {"enabled": "on"})
    assert SendingPool.load().enabled
    page = admin.get(reverse("transactional:addon")).content.decode()
    assert "The sending pool is not set up" in page


def relay_fields(**fields) -> dict:
    values = {
        "form": "relay",
        "host": "smtp.relay.example",
        "port": "587",
        "security": "starttls",
        "username": "apikey",
        "password": "s3cret-relay-pass",
        "from_address": "receipts@shop.example",
        "from_name": "Shop",
        "minute_limit": "",
        "spf_mechanism": "include:relay.example",
    }
    return {**values, **fields}


def test_the_relay_is_saved_with_its_password_encrypted_and_kept_when_left_empty(admin):
    admin.post(POOL, relay_fields())
    pool = SendingPool.load()
    assert (pool.host, pool.port, pool.secret["password"]) == (
        "smtp.relay.example",
        587,
        "s3cret-relay-pass",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM transactional_sendingpool")
        (stored,) = cursor.fetchone()
    assert "s3cret" not in stored
    admin.post(POOL, relay_fields(password="", port="2525"))
    pool = SendingPool.load()
    assert (pool.port, pool.secret["password"]) == (2525, "s3cret-relay-pass")
    assert "A password is saved" in admin.get(POOL).content.decode()


def test_no_tls_only_for_a_relay_on_this_machine_and_what_was_typed_stays(admin):
    page = admin.post(POOL, relay_fields(security="none", port="25")).content.decode()
    assert "only a relay on this machine" in page
    assert 'value="smtp.relay.example"' in page and 'value="25"' in page
    assert not SendingPool.objects.exists()
    admin.post(POOL, relay_fields(host="127.0.0.1", security="none", port="25"))
    assert SendingPool.load().security == "none"


def test_dkim_signing_makes_a_2048_bit_key_and_shows_its_record(admin):
    early = {"form": "dkim", "dkim_signing": "on", "dkim_selector": "crm"}
    assert "Save the relay and its From address first." in admin.post(POOL, early).content.decode()
    assert not SendingPool.objects.exists()
    admin.post(POOL, relay_fields())
    admin.post(POOL, {"form": "dkim", "dkim_signing": "on", "dkim_selector": "crm2026"})
    pool = SendingPool.load()
    assert pool.signs and pool.dkim_selector == "crm2026"
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(pool.secret["dkim_private_key"].encode(), None)
    assert key.key_size == 2048
    page = admin.get(POOL).content.decode()
    assert "crm2026._domainkey.shop.example" in page
    assert dkim.record_value(pool.dkim_public_key) in page
    before = pool.dkim_public_key
    admin.post(
        POOL,
        {"form": "dkim", "dkim_signing": "on", "dkim_selector": "crm2026", "action": "new-key"},
    )
    assert SendingPool.load().dkim_public_key != before
    page = admin.post(POOL, {"form": "dkim", "dkim_selector": "no good!"}).content.decode()
    assert "Letters, digits and hyphens" in page


@pytest.mark.integration
def test_the_test_email_goes_through_the_relay_and_its_answer_shows(admin, smtp_sink):
    pool_for(smtp_sink, signing=True)
    page = admin.post(POOL, {"form": "test", "to": "me@shop.test"}, follow=True)
    assert "127.0.0.1 accepted it" in page.content.decode()
    (received,) = smtp_sink.messages
    assert received.rcpt_tos == ["me@shop.test"] and b"DKIM-Signature:" in received.data

    pool = SendingPool.load()
    pool.secret = {**pool.secret, "password": "wrong"}
    pool.save()
    page = admin.post(POOL, {"form": "test", "to": "me@shop.test"}, follow=True)
    assert "rejected the username or password" in page.content.decode()


def signing_pool() -> SendingPool:
    pool = SendingPool(pk=1, host="smtp.relay.example", from_address="receipts@shop.example")
    pool.spf_mechanism = "include:relay.example"
    private, public = dkim.generate_key()
    pool.secret = {"dkim_private_key": private}
    pool.dkim_public_key, pool.dkim_signing = public, True
    pool.save()
    return pool


def statuses(findings) -> dict[str, str]:
    return {f.kind: f.status for f in findings}


def test_the_deliverability_check_tells_found_missing_and_wrong_with_the_record_to_publish():
    pool = signing_pool()
    with FakeDnsServer() as server:
        resolver = server.resolver()
        findings = deliverability.check(pool, resolver)
        assert statuses(findings) == {"SPF": "missing", "DKIM": "missing", "DMARC": "missing"}
        spf, dkim_finding, dmarc = findings
        assert spf.publish == "v=spf1 include:relay.example ~all"
        assert dkim_finding.name == "crm._domainkey.shop.example"
        assert dkim_finding.publish == dkim.record_value(pool.dkim_public_key)
        assert dmarc.publish == "v=DMARC1; p=none; rua=mailto:dmarc-reports@shop.example"

        # Wrong: an SPF that does not name the relay, another key, a DMARC without policy.
        server.add("shop.example", "TXT", '"v=spf1 include:_spf.google.com -all"')
        _, other = dkim.generate_key()
        server.add("crm._domainkey.shop.example", "TXT", txt_value(dkim.record_value(other)))
        server.add("_dmarc.shop.example", "TXT", '"v=DMARC1; rua=mailto:x@shop.example"')
        spf, dkim_finding, dmarc = findings = deliverability.check(pool, resolver)
        assert statuses(findings) == {"SPF": "wrong", "DKIM": "wrong", "DMARC": "wrong"}
        assert spf.publish == "v=spf1 include:_spf.google.com include:relay.example -all"
        assert dkim_finding.publish == dkim.record_value(pool.dkim_public_key)

    with FakeDnsServer() as server:
        server.add("shop.example", "TXT", '"v=spf1 mx include:relay.example ~all"', '"other"')
        value = dkim.record_value(pool.dkim_public_key)
        server.add("crm._domainkey.shop.example", "TXT", txt_value(value))
        server.add("_dmarc.shop.example", "TXT", '"v=DMARC1; p=quarantine"')
        findings = deliverability.check(pool, server.resolver())
        assert statuses(findings) == {"SPF": "found", "DKIM": "found", "DMARC": "found"}
        assert all(f.publish == "" for f in findings)

    # Two SPF records are an error for receivers: one merged record is offered.
    with FakeDnsServer() as server:
        server.add("shop.example", "TXT", '"v=spf1 a ~all"', '"v=spf1 include:relay.example ~all"')
        (spf,) = [f for f in deliverability.check(pool, server.resolver()) if f.kind == "SPF"]
        # (DNS gives the two in any order.)
        terms = spf.publish.split()
        assert spf.status == "wrong" and terms[0] == "v=spf1" and terms[-1] == "~all"
        assert sorted(terms[1:-1]) == ["a", "include:relay.example"]

    # DNS that does not answer: "could not check", not "missing".
    with FakeDnsServer() as server:
        server.fail("shop.example")
        (spf,) = [f for f in deliverability.check(pool, server.resolver()) if f.kind == "SPF"]
        assert spf.status == "unknown"


def test_the_page_runs_the_check_and_shows_each_finding(admin, monkeypatch):
    signing_pool()
    with FakeDnsServer() as server:
        server.add("_dmarc.shop.example", "TXT", '"v=DMARC1; p=reject"')
        monkeypatch.setattr(dns.resolver, "default_resolver", server.resolver())
        page = admin.post(POOL, {"form": "dns"}, follow=True).content.decode()
    assert 'id="finding-spf"' in page and 'id="finding-dkim"' in page
    assert "v=spf1 include:relay.example ~all" in page
    assert "v=DMARC1; p=reject" in page
    assert SendingPool.load().dns_checked_at is not None


@pytest.mark.integration
def test_the_queue_lists_by_state_and_bulk_actions_ask_first(admin, smtp_sink):
    pool_for(smtp_sink)
    smtp_sink.refuse("bob@slow.test", "451 4.3.0 Later")
    deferred, sent = queue("bob@slow.test"), queue("ada@fast.test")
    delivery.deliver_due(seconds=5)

    page = admin.get(QUEUE, {"state": "deferred"}).content.decode()
    assert f'id="queue-row-{deferred.pk}"' in page and f'id="queue-row-{sent.pk}"' not in page
    assert "451 4.3.0 Later" in page and "Next try" in page
    page = admin.get(QUEUE, {"q": "ada@"}).content.decode()
    assert f'id="queue-row-{sent.pk}"' in page and f'id="queue-row-{deferred.pk}"' not in page

    asked = admin.post(QUEUE, {"action": "cancel", "id": [deferred.pk]}).content.decode()
    assert "1 deferred email will be cancelled and never sent." in asked
    assert reload(deferred).status == SendStatus.DEFERRED
    done = admin.post(
        QUEUE, {"action": "cancel", "id": [deferred.pk], "confirm": "yes"}, follow=True
    ).content.decode()
    assert "1 deferred email was cancelled." in done
    assert reload(deferred).status == SendStatus.CANCELLED

    # Nothing chosen, or a choice that changed meanwhile: a clear message, nothing done.
    page = admin.post(QUEUE, {"action": "retry"}, follow=True).content.decode()
    assert "Choose at least one deferred email." in page
    page = admin.post(
        QUEUE, {"action": "retry", "id": [deferred.pk], "confirm": "yes"}, follow=True
    ).content.decode()
    assert "no longer deferred" in page


@pytest.mark.integration
def test_all_deferred_email_the_list_shows_is_retried_at_once(admin, smtp_sink):
    pool_for(smtp_sink)
    smtp_sink.refuse("bob@slow.test", "451 4.3.0 Later")
    smtp_sink.refuse("carl@slow.test", "451 4.3.0 Later")
    bob, carl, ada = queue("bob@slow.test"), queue("carl@slow.test"), queue("ada@fast.test")
    delivery.deliver_due(seconds=5)
    assert {reload(o).status for o in (bob, carl)} == {SendStatus.DEFERRED}

    page = admin.get(QUEUE).content.decode()
    assert "History (1 line)" in page  # the try the relay deferred, with its next try
    # The list searched for bob: "Retry all deferred" means bob's only.
    back = f"{QUEUE}?q=bob"
    asked = admin.post(QUEUE, {"action": "retry-all", "back": back}).content.decode()
    assert "1 deferred email will be offered to the relay again now" in asked
    admin.post(QUEUE, {"action": "retry", "id": [bob.pk], "confirm": "yes", "back": back})
    assert (reload(bob).status, reload(carl).status) == (SendStatus.QUEUED, SendStatus.DEFERRED)

    asked = admin.post(QUEUE, {"action": "cancel-all", "back": QUEUE}).content.decode()
    assert "1 deferred email will be cancelled" in asked  # carl's: bob's is queued now
    assert reload(ada).status == SendStatus.SENT


@pytest.mark.integration
def test_uncertain_email_is_sent_again_or_recorded_as_sent_all_or_nothing(
    admin, smtp_sink, django_capture_on_commit_callbacks, queued_jobs
):
    pool_for(smtp_sink)
    # The relay stores each of the first three, then the connection drops before its answer.
    smtp_sink.handler.lose_answer = lambda n: "stored" if n <= 3 else None
    ada, bob, carl = queue("ada@client.test"), queue("bob@client.test"), queue("carl@client.test")
    for row in (ada, bob, carl):
        assert delivery.deliver(row.pk) == SendStatus.UNCERTAIN
    sent = queue("dora@client.test")
    assert delivery.deliver(sent.pk) == SendStatus.SENT
    assert len(smtp_sink.messages) == 4

    page = admin.get(QUEUE, {"state": "uncertain"}).content.decode()
    assert 'value="send-again"' in page and 'value="mark-sent"' in page
    assert f'name="id" value="{ada.pk}"' in page  # uncertain rows can be ticked

    # An uncertain email chosen with one that was sent: refused whole, nothing changed.
    page = admin.post(
        QUEUE, {"action": "send-again", "id": [ada.pk, sent.pk], "confirm": "yes"}, follow=True
    ).content.decode()
    assert "1 of the chosen emails are not uncertain" in page
    assert (reload(ada).status, reload(sent).status) == (SendStatus.UNCERTAIN, SendStatus.SENT)

    # Send again: asked first, saying the recipient may get it twice.
    asked = admin.post(QUEUE, {"action": "send-again", "id": [ada.pk, bob.pk]}).content.decode()
    assert "2 uncertain emails will be offered to the relay again" in asked
    assert "their recipients may get them twice" in asked
    assert reload(ada).status == SendStatus.UNCERTAIN
    with django_capture_on_commit_callbacks(execute=True):
        done = admin.post(
            QUEUE, {"action": "send-again", "id": [ada.pk, bob.pk], "confirm": "yes"}, follow=True
        ).content.decode()
    assert "2 uncertain emails will be sent again." in done
    # Queued on the pool's own job, not the inboxes' worker.
    assert sorted(queued_jobs.args_of(jobs.SEND_TRANSACTIONAL)) == [(ada.pk,), (bob.pk,)]
    assert queued_jobs.args_of(jobs.SEND_OUTBOUND) == []
    for row in (ada, bob):
        again = reload(row)
        assert (again.status, again.attempts, again.last_error) == (SendStatus.QUEUED, 0, "")
        assert OutboundEvent.objects.filter(
            outbound=row, detail__contains="accepting that the recipient may get it twice"
        ).exists()
    assert delivery.deliver_due(seconds=5)[SendStatus.SENT] == 2
    assert len(smtp_sink.messages) == 6 and reload(ada).status == SendStatus.SENT

    # It was sent: recorded as sent, dated by the lost try, and a "sent" event once.
    asked = admin.post(QUEUE, {"action": "mark-sent", "id": [carl.pk]}).content.decode()
    assert "1 uncertain email will be recorded as sent and not sent again." in asked
    with django_capture_on_commit_callbacks(execute=True):
        done = admin.post(
            QUEUE, {"action": "mark-sent", "id": [carl.pk], "confirm": "yes"}, follow=True
        ).content.decode()
    assert "1 uncertain email was recorded as sent." in done
    carl = reload(carl)
    assert carl.status == SendStatus.SENT and carl.sent_at is not None
    assert StatusEvent.objects.filter(outbound=carl, type=EventType.SENT).count() == 1
    # Already sent: a second "It was sent" is refused with why.
    page = admin.post(
        QUEUE, {"action": "mark-sent", "id": [carl.pk], "confirm": "yes"}, follow=True
    ).content.decode()
    assert "1 of the chosen emails are not uncertain" in page
    assert len(smtp_sink.messages) == 6

    # "Send again" with nothing ticked says what to choose.
    page = admin.post(QUEUE, {"action": "send-again"}, follow=True).content.decode()
    assert "Choose at least one uncertain email." in page
