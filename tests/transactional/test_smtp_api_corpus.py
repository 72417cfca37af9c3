"""The whole acceptance corpus (tests/corpus: malformed MIME, hostile HTML, odd charsets and
line ends) submitted through the SMTP API: nothing crashes, every message gets a clear answer
(250, or a 5xx for what is not an email at all or breaks SMTP's line limit), every 250 is a row
in the outbox, and the pool delivers each of them."""

from __future__ import annotations

import asyncio

import aiosmtplib
import pytest
from django.core.cache import cache
from django.test import override_settings

from mailboxes.constants import SendStatus
from mailboxes.models import Outbound
from tests.servers import CORPUS_DIR
from tests.transactional.pool import pool_for
from tests.transactional.smtp_api import start_api_server
from transactional.credentials import services
from transactional.pool import delivery

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]


@override_settings(SMTP_API_MINUTE_LIMIT=0, SMTP_API_HOUR_LIMIT=0)
def test_the_whole_corpus_goes_through_without_a_crash_and_nothing_is_lost(
    tmp_path, admin_user, smtp_sink
):
    files = sorted(p for p in CORPUS_DIR.rglob("*") if p.is_file() and p.suffix != ".md")
    assert len(files) > 300
    pool_for(smtp_sink)
    token = services.smtp_token_create("Corpus", admin_user, create_contacts=True)
    cache.clear()
    api = start_api_server(tmp_path)
    answers: dict[str, tuple[int, str]] = {}

    async def send_all():
        client = None
        for path in files:
            if client is None or not client.is_connected:
                client = aiosmtplib.SMTP(
                    hostname=api.host, port=api.tls_port, use_tls=True, tls_context=api.client_tls
                )
                await client.connect()
                await client.login(token.username, token.password)
            try:
                _, reply = await client.sendmail(
                    "corpus@shop.test", ["ada@client.test"], path.read_bytes()
                )
                answers[path.name] = (250, reply)
            except aiosmtplib.SMTPResponseException as error:
                answers[path.name] = (error.code, error.message)
                if not client.is_connected:
                    client = None
                else:
                    await client.rset()
        if client is not None:
            await client.quit()

    try:
        asyncio.run(send_all())
    finally:
        api.stop()

    assert len(answers) == len(files)
    refused = {name: a for name, a in answers.items() if a[0] != 250}
    # Refusals are permanent and say why: not a message, or a line over SMTP's limit.
    assert all(500 <= code < 600 for code, _ in refused.values()), refused
    assert len(refused) < len(files) / 10, refused
    assert all("Line too long" in text or code == 554 for code, text in refused.values())
    queued_ids = [reply.rsplit(" ", 1)[-1] for code, reply in answers.values() if code == 250]
    stored = set(Outbound.objects.values_list("message__message_id", flat=True))
    assert set(queued_ids) == stored and len(stored) == len(queued_ids)

    while sum(delivery.deliver_due(seconds=30).values()):
        pass
    assert set(Outbound.objects.values_list("status", flat=True)) == {SendStatus.SENT}
    assert len(smtp_sink.messages) == len(queued_ids)
