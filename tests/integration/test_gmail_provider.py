"""Drive GmailProvider and the Google connect flow against a local fake of Google."""

from __future__ import annotations

import dataclasses
import hashlib
from base64 import urlsafe_b64encode
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from mailboxes.providers import gmail, gmail_errors
from mailboxes.providers.base import OutgoingMessage, ProviderError
from mailboxes.providers.gmail import GmailProvider, GmailSettings
from mailboxes.providers.gmail_errors import is_invalid_grant
from mailboxes.providers.google_oauth import (
    GMAIL_SCOPES,
    GMAIL_SEND,
    MissingScopesError,
    authorization_url,
    exchange_code,
    looks_like_testing_mode,
    revoke,
)
from tests.fakes.google import GMAIL_MODIFY, GMAIL_READONLY, start_fake_google
from tests.integration.servers import free_port
from tests.servers import CORPUS_DIR, server_missing

pytestmark = pytest.mark.integration

REDIRECT_URI = "http://127.0.0.1:8000/mailboxes/connect/google/callback"
ADDRESS = "ana@example.test"
# Realistic content: folded subjects, encoded words, replies with References, CRLF and LF.
THREAD_FILES = [
    "threading/notmuch__default_01_2.eml",
    "threading/rubymail__plain_emails_raw_email_reply.eml",
    "threading/talon__standard_replies_gmail.eml",
    "threading/talon__standard_replies_outlook.eml",
    "wellformed/mmp__m2003.eml",
]


def corpus_file(relative: str) -> bytes:
    path = CORPUS_DIR / relative
    if not path.exists():
        server_missing(f"mail corpus file {path}")
    return path.read_bytes()


def message(message_id: str, subject: str = "Hello", to: str = "bob@example.test") -> bytes:
    return (
        f"From: Ana Lopez <{ADDRESS}>\r\n"
        f"To: {to}\r\n"
        f"Subject: {subject}\r\n"
        f"Date: Tue, 03 Mar 2026 10:00:00 +0100\r\n"
        f"Message-ID: {message_id}\r\n"
        f"\r\n"
        f"Hi there.\r\n"
    ).encode()


def outgoing(*recipients: str, message_id: str = "<out-1@crm.example.test>") -> OutgoingMessage:
    return OutgoingMessage(
        envelope_from=ADDRESS,
        recipients=list(recipients),
        raw=message(message_id, "Quote for Acme", to="bob@example.test"),
        message_id=message_id,
    )


def drain(provider: GmailProvider, folder: str, cursor: str, limit: int = 100):
    """Call changes() until no more pages; return (headers, deleted, final cursor, pages)."""
    headers, deleted, pages = [], [], []
    while True:
        page = provider.changes(folder, cursor, limit)
        pages.append(page)
        headers += page.headers
        deleted += page.deleted
        cursor = page.cursor
        if not page.more:
            return headers, deleted, cursor, pages


@pytest.fixture
def google():
    fake = start_fake_google()
    yield fake
    fake.stop()


@pytest.fixture
def insecure_transport(monkeypatch):
    """Let oauthlib talk to the plain-http fake; production code never sets this."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.delenv("OAUTHLIB_RELAX_TOKEN_SCOPE", raising=False)


@pytest.fixture
def saved():
    return []


@pytest.fixture
def settings(google, saved) -> GmailSettings:
    return GmailSettings(**google.adapter_settings(ADDRESS), token_saver=saved.append, timeout=5)


@pytest.fixture
def provider(settings):
    with GmailProvider(settings) as provider:
        yield provider


def error_of(call, *args) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call(*args)
    return caught.value


def consent(google, url: str) -> dict[str, str]:
    """Follow the authorization URL like a browser and return the callback's parameters."""
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


# -- connect flow --------------------------------------------------------------------------


def test_authorization_url_asks_for_offline_access_every_scope_and_pkce(google, insecure_transport):
    url, state, verifier = authorization_url(google.client_config(), REDIRECT_URI, ADDRESS)

    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(google.auth_uri + "?")
    assert query["access_type"] == "offline"
    assert query["prompt"] == "consent"
    assert query["include_granted_scopes"] == "true"
    assert query["login_hint"] == ADDRESS
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["state"] == state
    assert set(query["scope"].split()) == set(GMAIL_SCOPES)
    assert query["code_challenge_method"] == "S256"
    digest = urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert query["code_challenge"] == digest.decode()


def test_authorization_url_keeps_a_given_state(google, insecure_transport):
    url, state, _ = authorization_url(google.client_config(), REDIRECT_URI, None, "s-123")

    assert state == "s-123"
    assert "login_hint" not in parse_qs(urlsplit(url).query)


def test_connect_round_trip_gives_tokens_that_work(google, insecure_transport, saved):
    config = google.client_config()
    url, state, verifier = authorization_url(config, REDIRECT_URI, ADDRESS)
    callback = consent(google, url)
    assert callback["state"] == state

    tokens = exchange_code(config, REDIRECT_URI, callback["code"], verifier, state)

    assert tokens["email"] == ADDRESS
    assert tokens["refresh_token"].startswith("1//")
    assert set(tokens["scope"].split()) == set(GMAIL_SCOPES)
    assert tokens["expiry"] > datetime.now(UTC) + timedelta(minutes=50)
    # requests-oauthlib authenticates the client with HTTP Basic, not in the form.
    (exchange,) = google.token_requests("authorization_code")
    assert exchange.headers["authorization"].startswith("Basic ")
    assert b"code_verifier=" in exchange.body

    settings = GmailSettings(
        email=tokens["email"],
        client_id=google.client_id,
        client_secret=google.client_secret,
        token_uri=google.token_uri,
        api_base=google.api_base,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        token_expiry=tokens["expiry"],
        scopes=tuple(tokens["scope"].split()),
        token_saver=saved.append,
    )
    with GmailProvider(settings) as provider:
        provider.verify()
    assert saved == []  # the fresh access token was used as it was


def test_exchange_refuses_a_wrong_code_verifier(google, insecure_transport):
    config = google.client_config()
    url, state, _ = authorization_url(config, REDIRECT_URI, ADDRESS)
    code = consent(google, url)["code"]

    error = error_of(exchange_code, config, REDIRECT_URI, code, "x" * 64, state)

    assert (error.stage, error.permanent) == ("auth", True)
    assert "Invalid code verifier" in error.message


def test_exchange_refuses_a_code_used_twice(google, insecure_transport):
    config = google.client_config()
    url, state, verifier = authorization_url(config, REDIRECT_URI, ADDRESS)
    code = consent(google, url)["code"]
    exchange_code(config, REDIRECT_URI, code, verifier, state)

    error = error_of(exchange_code, config, REDIRECT_URI, code, verifier, state)

    assert (error.stage, error.permanent) == ("auth", True)
    assert "invalid_grant" in error.message


def test_exchange_names_the_permission_the_user_unticked(google, insecure_transport):
    google.declined_scopes = {GMAIL_SEND}
    config = google.client_config()
    url, state, verifier = authorization_url(config, REDIRECT_URI, ADDRESS)
    callback = consent(google, url)
    assert GMAIL_SEND not in callback["scope"].split()

    with pytest.raises(MissingScopesError) as caught:
        exchange_code(config, REDIRECT_URI, callback["code"], verifier, state)

    assert caught.value.missing == (GMAIL_SEND,)
    assert (caught.value.stage, caught.value.permanent) == ("auth", True)
    assert "Send email on your behalf" in caught.value.message


def test_exchange_accepts_wider_scopes_from_an_earlier_grant(google, insecure_transport):
    # include_granted_scopes adds gmail.modify: oauthlib sees a changed scope and, without
    # OAUTHLIB_RELAX_TOKEN_SCOPE, raises a Warning that exchange_code must absorb.
    google.issue_tokens(ADDRESS, scopes=[GMAIL_MODIFY])
    config = google.client_config()
    url, state, verifier = authorization_url(config, REDIRECT_URI, ADDRESS)

    tokens = exchange_code(config, REDIRECT_URI, consent(google, url)["code"], verifier, state)

    assert GMAIL_MODIFY in tokens["scope"].split()


def test_exchange_falls_back_to_the_gmail_profile_without_an_id_token(google, insecure_transport):
    scopes = [GMAIL_READONLY, GMAIL_SEND]  # no openid: no id_token comes back
    code = google.mint_code(REDIRECT_URI, address=ADDRESS, scopes=scopes)

    tokens = exchange_code(
        google.client_config(), REDIRECT_URI, code, "unused", api_base=google.api_base
    )

    assert tokens["email"] == ADDRESS


def test_exchange_refuses_plain_http_unless_the_test_allows_it(google, monkeypatch):
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    code = google.mint_code(REDIRECT_URI)

    error = error_of(exchange_code, google.client_config(), REDIRECT_URI, code, "v" * 50)

    assert (error.stage, error.permanent) == ("tls", True)


def test_revoke_kills_the_refresh_token(google, settings, provider):
    assert revoke(settings.refresh_token, google.revoke_uri, timeout=5) is True
    google.expire_access_tokens()

    error = error_of(provider.verify)

    assert is_invalid_grant(error)
    assert revoke(settings.refresh_token, google.revoke_uri, timeout=5) is False


# -- tokens --------------------------------------------------------------------------------


def test_expired_access_token_is_refreshed_first_and_saved(google, settings, saved):
    stale = dataclasses.replace(settings, token_expiry=datetime.now(UTC) - timedelta(minutes=1))

    with GmailProvider(stale) as provider:
        provider.verify()

    assert len(google.token_requests("refresh_token")) == 1
    (record,) = saved
    assert record["access_token"] != settings.access_token
    assert record["refresh_token"] == settings.refresh_token
    assert record["expiry"].tzinfo is not None
    assert record["expiry"] > datetime.now(UTC) + timedelta(minutes=50)
    assert set(record["scope"].split()) == set(settings.scopes)
    # The refreshed token was used for every call.
    assert all(
        r.headers["authorization"] == f"Bearer {record['access_token']}"
        for r in google.api_requests()
    )


def test_401_refreshes_once_and_retries(google, provider, saved):
    google.expire_access_tokens()  # revoked early: the client still thinks it is valid

    provider.verify()

    assert len(google.token_requests("refresh_token")) == 1
    assert len(saved) == 1


def test_401_after_a_refresh_asks_to_reconnect(google, provider):
    google.inject(401, path="/profile", times=2)

    error = error_of(provider.verify)

    assert (error.stage, error.permanent, error.code) == ("auth", True, 401)
    assert "reconnect the inbox" in error.message


def test_invalid_grant_is_a_permanent_auth_error(google, provider, saved):
    google.refresh_error = "invalid_grant"
    google.expire_access_tokens()

    error = error_of(provider.verify)

    assert (error.stage, error.permanent) == ("auth", True)
    assert "invalid_grant" in error.message
    assert "reconnect the inbox" in error.message
    assert is_invalid_grant(error)
    assert saved == []


def test_rotated_refresh_token_reaches_the_saver(google, settings, provider, saved):
    google.rotate_refresh_tokens = True
    google.expire_access_tokens()

    provider.verify()

    (record,) = saved
    assert record["refresh_token"] != settings.refresh_token
    google.expire_access_tokens()
    provider.verify()  # the provider goes on with the new refresh token
    assert saved[1]["refresh_token"] != record["refresh_token"]


def test_testing_mode_refresh_token_dies_after_seven_days(google, saved):
    google.testing_mode = True
    settings = GmailSettings(
        email=ADDRESS,
        client_id=google.client_id,
        client_secret=google.client_secret,
        token_uri=google.token_uri,
        api_base=google.api_base,
        refresh_token=google.issue_tokens(ADDRESS)["refresh_token"],
        token_saver=saved.append,
        timeout=5,
    )
    granted_at = datetime.fromtimestamp(google.grant_for(settings.refresh_token).granted_at, UTC)
    with GmailProvider(settings) as provider:
        provider.verify()
        google.advance(days=7, seconds=600)
        google.expire_access_tokens()

        error = error_of(provider.verify)

    assert is_invalid_grant(error)
    failed_at = datetime.fromtimestamp(google.now(), UTC)
    assert looks_like_testing_mode(granted_at, failed_at, GMAIL_SCOPES)


def test_testing_mode_heuristic_looks_only_near_seven_days():
    granted = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    assert looks_like_testing_mode(granted, granted + timedelta(days=7, hours=3))
    assert looks_like_testing_mode(granted, granted + timedelta(days=6, hours=23, minutes=30))
    assert not looks_like_testing_mode(granted, granted + timedelta(days=2))
    assert not looks_like_testing_mode(granted, granted + timedelta(days=40))
    assert not looks_like_testing_mode(
        granted, granted + timedelta(days=7, hours=1), ["openid", "email"]
    )


# -- verify --------------------------------------------------------------------------------


def test_verify_reads_profile_labels_and_send_as(google, provider):
    provider.verify()

    paths = [r.path.rsplit("/users/me/", 1)[1] for r in google.api_requests()]
    assert paths == ["profile", "labels", "settings/sendAs"]


def test_verify_with_tokens_google_does_not_know_is_an_auth_error(settings):
    bogus = dataclasses.replace(settings, access_token="ya29.bogus", refresh_token="1//bogus")

    with GmailProvider(bogus) as provider:
        error = error_of(provider.verify)

    assert (error.stage, error.permanent) == ("auth", True)
    assert "invalid_grant" in error.message


def test_verify_reports_a_closed_port_as_tcp(settings):
    closed = dataclasses.replace(settings, api_base=f"http://127.0.0.1:{free_port()}/")

    with GmailProvider(closed) as provider:
        error = error_of(provider.verify)

    assert (error.stage, error.permanent) == ("tcp", False)


def test_verify_reports_an_unresolvable_host_as_dns(settings):
    # .invalid never resolves (RFC 2606).
    nowhere = dataclasses.replace(settings, api_base="http://gmail.nowhere.invalid/")

    with GmailProvider(nowhere) as provider:
        error = error_of(provider.verify)

    assert error.stage == "dns"
    assert "gmail.nowhere.invalid" in error.message


def test_verify_reports_a_server_that_is_not_gmail_as_protocol(google, settings):
    elsewhere = dataclasses.replace(settings, api_base=google.base_url + "/not-gmail/")

    with GmailProvider(elsewhere) as provider:
        error = error_of(provider.verify)

    assert (error.stage, error.permanent) == ("protocol", True)


def test_verify_refuses_a_token_of_another_account(settings):
    other = dataclasses.replace(settings, email="someone.else@example.test")

    with GmailProvider(other) as provider:
        error = error_of(provider.verify)

    assert (error.stage, error.permanent) == ("auth", True)
    assert ADDRESS in error.message


def test_verify_refuses_a_grant_that_cannot_send(google, settings):
    tokens = google.issue_tokens(ADDRESS, scopes=[GMAIL_READONLY])
    read_only = dataclasses.replace(
        settings,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        scopes=(GMAIL_READONLY,),
    )

    with GmailProvider(read_only) as provider:
        error = error_of(provider.verify)
        send_error = error_of(provider.send, outgoing("bob@example.test"))

    assert (error.stage, error.permanent) == ("auth", True)
    assert (send_error.stage, send_error.permanent, send_error.code) == ("auth", True, 403)
    assert "tick every box" in send_error.message


def test_list_folders_names_inbox_and_sent(provider):
    roles = {folder.name: folder.role for folder in provider.list_folders()}

    assert roles == {"INBOX": "inbox", "SENT": "sent"}


# -- sync ----------------------------------------------------------------------------------


def test_initial_sync_pages_through_the_label_with_a_resumable_cursor(google, settings):
    ids = [google.add_message(corpus_file(name)) for name in THREAD_FILES]
    google.add_message(message("<sent-1@example.test>"), labels=["SENT"])
    start = google.mailbox(ADDRESS).history_id

    with GmailProvider(settings) as first:
        page = first.changes("INBOX", "", 2)
    assert page.cursor.startswith(f"init:{start}:")
    assert (page.more, page.reset, page.total, len(page.headers)) == (True, False, 5, 2)
    # A new provider (another worker, after a crash) resumes from the stored cursor.
    with GmailProvider(settings) as second:
        headers, _, cursor, pages = drain(second, "INBOX", page.cursor, 2)

    seen = [h.ref for h in page.headers + headers]
    assert sorted(seen) == sorted(ids)
    assert len(pages) == 2
    assert cursor == f"h:{start}"


def test_initial_sync_decodes_headers_sync_needs(google, provider):
    reply_id = google.add_message(corpus_file(THREAD_FILES[1]))
    folded_id = google.add_message(corpus_file(THREAD_FILES[0]))
    encoded_id = google.add_message(corpus_file(THREAD_FILES[4]))

    headers = {h.ref: h for h in provider.changes("INBOX", "", 10).headers}

    reply = headers[reply_id]
    assert reply.message_id == "<473FFE27.20003@xxx.org>"
    assert reply.in_reply_to == "<348F04F142D69C21-291E56D292BC@xxxx.net>"
    assert reply.references == (
        "<473FF3B8.9020707@xxx.org>",
        "<348F04F142D69C21-291E56D292BC@xxxx.net>",
    )
    assert (reply.from_addr, reply.from_name) == ("xxxxxxxx@xxx.org", "Testing")
    assert reply.to_addrs == ("mikel@xxxx.net",)
    assert reply.date == datetime(2007, 11, 18, 8, 56, 7, tzinfo=UTC)
    assert set(reply.flags) == {"INBOX", "UNREAD"}
    assert reply.size == len(corpus_file(THREAD_FILES[1]))
    assert headers[folded_id].subject == (
        "[notmuch] [PATCH 1/2] Close message file after parsing message headers"
    )
    assert headers[encoded_id].subject == "Die Hasen und die Frösche"


def test_headers_carry_the_automatic_mail_markers_as_a_header_block(google, provider):
    google.add_message(corpus_file("bounces/mimekit__messages_bounce.eml"))

    (header,) = provider.changes("INBOX", "", 10).headers

    lines = header.raw_headers.split(b"\r\n")
    assert any(line.lower() == b"auto-submitted: auto-replied" for line in lines)
    assert any(line.lower().startswith(b"content-type: multipart/report") for line in lines)
    assert not any(line.lower().startswith(b"received:") for line in lines)


def test_missing_date_falls_back_to_gmail_arrival_time(google, provider):
    arrived = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
    raw = b"From: a@example.test\r\nTo: ana@example.test\r\nSubject: no date\r\n\r\nHi\r\n"
    google.add_message(raw, internal_date=arrived)

    (header,) = provider.changes("INBOX", "", 10).headers

    assert header.date == arrived
    assert header.message_id is None


def test_incremental_sync_reads_only_new_mail_in_the_label(google, provider):
    google.add_message(corpus_file(THREAD_FILES[0]))
    _, _, cursor, _ = drain(provider, "INBOX", "")
    new = [google.add_message(corpus_file(name)) for name in THREAD_FILES[1:3]]
    google.add_message(message("<only-sent@example.test>"), labels=["SENT"])

    page = provider.changes("INBOX", cursor, 100)

    assert [h.ref for h in page.headers] == new
    assert (page.more, page.reset, page.deleted) == (False, False, ())
    assert page.cursor == f"h:{google.mailbox(ADDRESS).history_id}"
    assert provider.changes("INBOX", page.cursor, 100).headers == []


def test_mail_arriving_during_the_first_listing_is_not_missed(google, provider):
    for name in THREAD_FILES:
        google.add_message(corpus_file(name))
    first = provider.changes("INBOX", "", 2)
    late = google.add_message(message("<late@example.test>"))

    listed, _, cursor, _ = drain(provider, "INBOX", first.cursor, 2)
    after, _, _, _ = drain(provider, "INBOX", cursor)

    # Listing runs newest first, so the late message is behind it; history catches it.
    assert late not in [h.ref for h in listed]
    assert [h.ref for h in after] == [late]


def test_long_history_is_paged_and_the_new_history_id_stored_last(google, provider):
    _, _, cursor, _ = drain(provider, "INBOX", "")
    start = cursor.split(":")[1]
    new = [google.add_message(message(f"<m{i}@example.test>")) for i in range(5)]

    first = provider.changes("INBOX", cursor, 2)
    assert first.more
    assert first.cursor.startswith(f"h:{start}:")  # still the old historyId, plus a page token
    headers, _, final, pages = drain(provider, "INBOX", first.cursor, 2)

    assert [h.ref for h in first.headers + headers] == new
    assert final == f"h:{google.mailbox(ADDRESS).history_id}"
    assert all(p.cursor.startswith(f"h:{start}:") for p in pages[:-1])


def test_deleted_messages_are_reported_and_archived_ones_are_not(google, provider):
    doomed = google.add_message(corpus_file(THREAD_FILES[0]))
    archived = google.add_message(corpus_file(THREAD_FILES[1]))
    _, _, cursor, _ = drain(provider, "INBOX", "")
    google.delete_message(doomed)
    google.modify_labels(archived, remove=["INBOX"])

    page = provider.changes("INBOX", cursor, 100)

    assert page.deleted == (doomed,)
    assert page.headers == []


def test_message_moved_into_the_label_arrives(google, provider):
    filed = google.add_message(corpus_file(THREAD_FILES[2]), labels=["Label_1"])
    _, _, cursor, _ = drain(provider, "INBOX", "")
    google.modify_labels(filed, add=["INBOX"])

    page = provider.changes("INBOX", cursor, 100)

    assert [h.ref for h in page.headers] == [filed]


def test_expired_history_resets_and_lists_the_label_again(google, provider):
    old = [google.add_message(corpus_file(name)) for name in THREAD_FILES[:2]]
    _, _, cursor, _ = drain(provider, "INBOX", "")
    google.expire_history()
    new = google.add_message(corpus_file(THREAD_FILES[2]))

    page = provider.changes("INBOX", cursor, 100)

    assert page.reset
    assert sorted(h.ref for h in page.headers) == sorted([*old, new])
    assert page.cursor == f"h:{google.mailbox(ADDRESS).history_id}"
    history_calls = google.api_requests("/history")
    assert history_calls[-1].query["startHistoryId"] == [cursor.split(":")[1]]
    assert provider.changes("INBOX", page.cursor, 100).reset is False


def test_unknown_cursor_starts_over_with_reset(google, provider):
    ref = google.add_message(corpus_file(THREAD_FILES[0]))

    page = provider.changes("INBOX", "v1:garbage", 10)

    assert page.reset
    assert [h.ref for h in page.headers] == [ref]


# -- fetch and find ------------------------------------------------------------------------


def test_fetch_raw_returns_the_exact_bytes(google, provider):
    raws = {google.add_message(corpus_file(name)): corpus_file(name) for name in THREAD_FILES}
    eight_bit = "Subject: caf\u00e9 \u2603\r\nTo: ana@example.test\r\n\r\n\xff\r\n"
    raws[google.add_message(eight_bit.encode("utf-8"))] = eight_bit.encode("utf-8")

    fetched = provider.fetch_raw("INBOX", [*raws, "fffffffffffff"])

    assert {m.ref: m.raw for m in fetched} == raws


def test_find_by_message_id_confirms_the_match(google, provider):
    raw = corpus_file(THREAD_FILES[1])
    ref = google.add_message(raw)
    google.add_message(message("<473FFE27.20003@xxx.org.other>"))

    assert provider.find_by_message_id("INBOX", "<473FFE27.20003@xxx.org>") == ref
    assert provider.find_by_message_id("INBOX", "473FFE27.20003@xxx.org") == ref
    assert provider.find_by_message_id("SENT", "<473FFE27.20003@xxx.org>") is None
    assert provider.find_by_message_id("INBOX", "<nothing@example.test>") is None
    query = google.api_requests("/messages")[-1].query
    assert query["q"] == ["rfc822msgid:nothing@example.test"]


# -- send ----------------------------------------------------------------------------------


def test_send_files_the_message_in_sent_and_returns_its_message_id(google, provider):
    result = provider.send(outgoing("bob@example.test", "carol@example.test"))

    assert result.accepted_recipients == ["bob@example.test", "carol@example.test"]
    assert result.message_id == "<out-1@crm.example.test>"
    assert provider.find_by_message_id("SENT", "<out-1@crm.example.test>") == result.provider_id
    (sent,) = google.outbox
    # carol was only on the envelope: Gmail delivers to headers, so she went in as Bcc.
    assert sent.recipients == ["carol@example.test", "bob@example.test"]
    assert sent.raw.startswith(b"Bcc: carol@example.test\r\n")
    page = provider.changes("SENT", "", 10)
    assert [h.ref for h in page.headers] == [result.provider_id]


def test_send_reports_the_message_id_gmail_actually_kept(google, provider):
    google.rewrite_message_id = True

    result = provider.send(outgoing("bob@example.test"))

    assert result.message_id != "<out-1@crm.example.test>"
    assert result.message_id.endswith("@mail.gmail.com>")
    assert provider.find_by_message_id("SENT", result.message_id) == result.provider_id


def test_large_message_goes_through_media_upload(google, provider):
    message_id = "<big-1@crm.example.test>"
    line = b"Quarterly figures, one more line of them.\r\n"
    raw = message(message_id) + line * (gmail.JSON_SEND_LIMIT // len(line) + 1)

    result = provider.send(
        OutgoingMessage(
            envelope_from=ADDRESS, recipients=["bob@example.test"], raw=raw, message_id=message_id
        )
    )

    (upload,) = [r for r in google.requests if r.path.startswith("/upload/")]
    assert upload.query["uploadType"] == ["media"]
    assert upload.headers["content-type"] == "message/rfc822"
    assert provider.fetch_raw("SENT", [result.provider_id])[0].raw == upload.body


def test_send_without_recipients_is_refused_before_calling_gmail(google, provider):
    error = error_of(provider.send, outgoing())

    assert error.permanent
    assert google.api_requests() == []


def test_send_rate_limited_is_temporary_with_retry_after(google, provider):
    google.inject(429, "rateLimitExceeded", path="/messages/send", retry_after="7")

    error = error_of(provider.send, outgoing("bob@example.test"))

    assert (error.permanent, error.retry_after, error.code) == (False, 7.0, 429)
    assert google.outbox == []


def test_send_as_aliases_lists_only_primary_and_accepted(google, provider):
    google.add_send_as("sales@example.test", "Acme Sales", "accepted")
    google.add_send_as("pending@example.test", "Pending", "pending")

    aliases = provider.send_as_aliases()

    assert aliases == [
        (ADDRESS, "", True),
        ("sales@example.test", "Acme Sales", False),
    ]


# -- error mapping -------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["userRateLimitExceeded", "rateLimitExceeded"])
def test_403_rate_limit_is_temporary(google, provider, reason):
    google.inject(403, reason, path="/messages")

    error = error_of(provider.changes, "INBOX", "", 10)

    assert (error.permanent, error.code) == (False, 403)
    assert error.retry_after == gmail_errors.RATE_LIMIT_RETRY_AFTER


def test_daily_limit_waits_an_hour(google, provider):
    google.inject(403, "dailyLimitExceeded", path="/profile")

    error = error_of(provider.verify)

    assert (error.permanent, error.retry_after) == (False, gmail_errors.DAILY_LIMIT_RETRY_AFTER)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_temporary(google, provider, status):
    google.inject(status, path="/history")
    google.add_message(message("<a@example.test>"))
    _, _, cursor, _ = drain(provider, "INBOX", "")

    error = error_of(provider.changes, "INBOX", cursor, 10)

    assert (error.permanent, error.code) == (False, status)
    assert error.retry_after == gmail_errors.SERVER_ERROR_RETRY_AFTER


def test_bad_request_is_permanent(google, provider):
    google.inject(400, "invalidArgument", path="/labels", message="Invalid label")

    error = error_of(provider.verify)

    assert (error.stage, error.permanent, error.code) == ("protocol", True, 400)
    assert "Invalid label" in error.message


def test_settings_keep_secrets_out_of_repr(settings):
    text = repr(settings)

    assert settings.access_token not in text
    assert settings.refresh_token not in text
    assert settings.client_secret not in text
