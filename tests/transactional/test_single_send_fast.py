"""The single-send API's common request, one statement and one LPUSH (transactional/api/send.py,
records.jobs.later_batched): what it costs, that it sees a revoked key, an edited or
unpublished email and a dead connection at once, that a real Celery worker consumes the job
it pushes, and that a request whose job could not be queued is answered, kept and taken by
the pass over lost requests."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import psycopg
import pytest
import redis
from django.db import connection
from django.test import Client
from django.utils import timezone
from kombu import Connection

from mailboxes import jobs
from mailboxes.models import Outbound
from records.jobs import push_waiting
from tests.integration.workers import Worker, purge, wait_until
from tests.transactional.api import key, post, published, request
from tests.transactional.pool import pool_for
from transactional.api import process
from transactional.api.models import SingleSend
from transactional.credentials import services as credentials
from transactional.credentials.models import Credential
from transactional.emails.models import TransactionalEmail


def warmed(client, email, api_key, n: int = 2) -> None:
    """`n` sends, so this process knows the key and the email: the next takes the short way."""
    for i in range(n):
        answer = post(client, api_key, request(email, send_id=f"warm-{i}"))
        assert answer.status_code == 200, answer.content


@pytest.mark.django_db
def test_a_known_key_and_email_cost_one_statement(
    client, smtp_sink, queued_jobs, django_assert_num_queries, django_capture_on_commit_callbacks
):
    pool_for(smtp_sink)
    email, api_key = published(), key()
    with django_capture_on_commit_callbacks(execute=True):
        warmed(client, email, api_key)
    with django_assert_num_queries(1), django_capture_on_commit_callbacks(execute=True):
        answer = post(client, api_key, request(email, send_id="order-2002"))
    assert answer.status_code == 200, answer.content
    send = SingleSend.objects.get(status_id=answer.json()["statusId"])
    assert answer.json()["status"] == "PENDING"
    assert (send.send_id, send.to_address, send.email_id) == (
        "order-2002",
        "ada@client.test",
        email.pk,
    )
    assert send.credential == Credential.objects.get(lookup_id=api_key.split("_")[2])
    assert send.request["custom"] == {"order_id": "A-17"}
    assert send.request["contact"] == {"first_name": "Ada", "last_name": "Lovelace"}
    assert queued_jobs.args_of(jobs.SINGLE_SEND)[-1] == (send.pk,)
    assert Credential.objects.get(pk=send.credential_id).last_used_at is not None
    # A repeat of its sendId answers it and writes nothing.
    again = post(client, api_key, request(email, send_id="order-2002"))
    assert again.json()["statusId"] == answer.json()["statusId"]
    assert SingleSend.objects.filter(send_id="order-2002").count() == 1
    assert len(queued_jobs.args_of(jobs.SINGLE_SEND)) == 3


@pytest.mark.django_db
def test_a_revoked_key_is_refused_at_once(client, smtp_sink):
    pool_for(smtp_sink)
    email = published()
    issued = credentials.api_key_create("Shop", None, scopes=["transactional-email"])
    warmed(client, email, issued.api_key)
    credentials.credential_revoke(issued.credential, None)
    refused = post(client, issued.api_key, request(email, send_id="after-revoke"))
    assert refused.status_code == 401
    assert refused.json()["category"] == "INVALID_AUTHENTICATION"
    # A wrong secret for a known key, too.
    other = key()
    warmed(client, email, other)
    wrong = other[:-4] + ("AAAA" if not other.endswith("AAAA") else "BBBB")
    assert post(client, wrong, request(email, send_id="wrong-secret")).status_code == 401
    assert not SingleSend.objects.filter(send_id__in=["after-revoke", "wrong-secret"]).exists()


@pytest.mark.django_db
def test_an_expired_key_is_refused_at_once(client, smtp_sink, django_assert_num_queries):
    """The statement's own test of a live key is Credential.objects.live()'s."""
    pool_for(smtp_sink)
    email = published()
    issued = credentials.api_key_create("Shop", None, scopes=["transactional-email"])
    keys = Credential.objects.filter(pk=issued.credential.pk)
    keys.update(expires_at=timezone.now() + timedelta(days=1))
    warmed(client, email, issued.api_key, n=3)
    with django_assert_num_queries(1):  # not expired yet: the short way
        assert post(client, issued.api_key, request(email, send_id="live")).status_code == 200
    keys.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert not Credential.objects.live().filter(pk=issued.credential.pk).exists()
    refused = post(client, issued.api_key, request(email, send_id="expired"))
    assert refused.status_code == 401
    assert not SingleSend.objects.filter(send_id="expired").exists()


@pytest.mark.django_db
def test_an_edited_or_unpublished_email_counts_at_once(client, smtp_sink):
    pool_for(smtp_sink)
    email, api_key = published(), key()
    warmed(client, email, api_key)
    email.subject = "Your order {{ custom.order_id }}, parcel {{ custom.parcel }}"
    email.save()
    refused = post(client, api_key, request(email, send_id="after-edit"))
    assert refused.status_code == 400, refused.content
    assert refused.json()["subCategory"] == "MISSING_TEMPLATE_PROPERTIES"
    body = request(email, send_id="after-edit")
    body["customProperties"]["parcel"] = "P-1"
    assert post(client, api_key, body).status_code == 200

    email.state = "draft"
    email.save(update_fields=["state", "updated_at"])
    unpublished = post(client, api_key, {**body, "message": {"to": "a@client.test"}})
    assert unpublished.status_code == 400
    assert unpublished.json()["subCategory"] == "MISSING_CONTENT"
    assert SingleSend.objects.filter(send_id="after-edit").count() == 1
    assert SingleSend.objects.count() == 3


@pytest.mark.django_db
def test_a_bad_key_is_a_401_before_a_bad_body(client, smtp_sink):
    pool_for(smtp_sink)
    email = published()
    for body in ('{"emailId": 1, "message": ', {"emailId": email.pk}):
        refused = post(client, "crm_pat_nothing_here", body)
        assert refused.status_code == 401
        assert refused.json()["category"] == "INVALID_AUTHENTICATION"


@pytest.mark.django_db(transaction=True)
def test_a_dead_connection_is_replaced_and_the_request_answered(postgresql, smtp_sink):
    pool_for(smtp_sink)
    client, email, api_key = Client(), published(), key()
    warmed(client, email, api_key)
    pid = connection.connection.info.backend_pid
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        dbname=db["NAME"],
        autocommit=True,
    ) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
    answer = post(client, api_key, request(email, send_id="after-restart"))
    assert answer.status_code == 200, answer.content
    assert connection.connection.info.backend_pid != pid
    assert SingleSend.objects.filter(send_id="after-restart").count() == 1


@pytest.mark.django_db
def test_a_request_whose_job_cannot_be_queued_is_kept_for_the_pass(
    client, smtp_sink, celery_broker, django_capture_on_commit_callbacks
):
    pool_for(smtp_sink)
    email, api_key = published(), key()
    celery_broker("redis://127.0.0.1:1/0")  # nothing listens there
    # The pushes are tried (on commit) and fail: the answers do not depend on them.
    with django_capture_on_commit_callbacks(execute=True) as pushes:
        answers = [post(client, api_key, request(email, send_id=f"down-{i}")) for i in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len(pushes) == 3
    sends = SingleSend.objects.filter(send_id__startswith="down-")
    assert sends.count() == 3
    assert process.process_due() == 0  # their jobs may still come
    sends.update(requested_at=sends.first().requested_at - process.LOST_AFTER)
    assert process.process_due() == 3
    assert Outbound.objects.count() == 3


@pytest.mark.django_db
def test_the_pushed_message_is_the_one_celery_publishes(
    redis_url, celery_broker, django_capture_on_commit_callbacks
):
    celery_broker(redis_url)
    queue = redis.Redis.from_url(redis_url)
    queue.delete("transactional")
    jobs.now(jobs.SINGLE_SEND, 41)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.later_batched(jobs.SINGLE_SEND, 42)
    push_waiting()
    wait_until(lambda: queue.llen("transactional") == 2, "the pushed job", 10.0)
    pushed, published_ = (json.loads(m) for m in queue.lrange("transactional", 0, -1))
    queue.delete("transactional")
    ids = ("id", "root_id", "correlation_id", "delivery_tag", "reply_to")
    for message in (pushed, published_):
        for part in (message, message["headers"], message["properties"]):
            for name in ids:
                part.pop(name, None)
    body = {
        m["headers"].pop("argsrepr"): json.loads(base64.b64decode(m.pop("body")))
        for m in (pushed, published_)
    }
    assert pushed == published_
    assert body["(42,)"][0] == [42] and body["(41,)"][0] == [41]
    assert body["(42,)"][1:] == body["(41,)"][1:]


@pytest.mark.django_db(transaction=True)
@pytest.mark.integration
@pytest.mark.timeout(120)
def test_a_real_worker_consumes_the_pushed_jobs(
    postgresql, redis_url, celery_broker, smtp_sink, tmp_path
):
    pool_for(smtp_sink)
    client, email, api_key = Client(), published(), key()
    celery_broker(redis_url)
    broker = Connection(redis_url)
    purge(broker, "transactional")
    worker = Worker("transactional", tmp_path)
    try:
        worker.wait_ready()
        # The first request takes the careful path, the next ones the short one: both push.
        for i in range(3):
            assert post(client, api_key, request(email, send_id=f"worker-{i}")).status_code == 200
        done = SingleSend.objects.filter(processed_at__isnull=False, outbound__isnull=False)
        wait_until(
            lambda: done.count() == 3, "the worker to make the sends into emails", 60.0, [worker]
        )
        wait_until(lambda: len(smtp_sink.messages) == 3, "the emails at the relay", 60.0, [worker])
    finally:
        worker.stop()
        broker.release()


@pytest.mark.django_db(transaction=True)
def test_a_send_is_taken_while_another_send_of_its_email_is_being_written(postgresql, smtp_sink):
    """Another request's INSERT holds a KEY SHARE lock on the email's row (its foreign key's
    check) until it commits. The job locks its own row only, so it does not skip the send
    for that lock: it did, and left it to the pass over lost requests, LOST_AFTER later (a
    real worker's run showed it, one send of three)."""
    pool_for(smtp_sink)
    client, email, api_key = Client(), published(), key()
    assert post(client, api_key, request(email, send_id="first")).status_code == 200
    first = SingleSend.objects.get(send_id="first")
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
    ) as other:
        table = TransactionalEmail._meta.db_table
        other.execute(f"SELECT id FROM {table} WHERE id = %s FOR KEY SHARE", [email.pk])
        assert process.process(first.pk) == "QUEUED"
        other.rollback()
    first.refresh_from_db()
    assert first.processed_at is not None and first.outbound_id is not None
