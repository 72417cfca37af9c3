"""Drive the Microsoft OAuth helpers (through msal) and GraphProvider against a local fake.

The fake (tests/fakes/microsoft.py) speaks the identity platform and the Graph mail subset
over HTTPS with a self-signed certificate; msal and requests trust it through `verify=`.
"""

from __future__ import annotations

import pickle
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from mailboxes.providers import microsoft_oauth
from mailboxes.providers.base import OutgoingMessage, ProviderError
from mailboxes.providers.graph import GraphProvider, GraphSettings
from mailboxes.providers.microsoft_oauth import MicrosoftAuthError
from tests.fakes.microsoft import TENANT_ID, FakeMicrosoft, running_fake_microsoft
from tests.servers import CORPUS_DIR, server_missing

pytestmark = pytest.mark.integration

REDIRECT_URI = "https://crm.example.test/mailboxes/connect/office365/callback"
ANA = "ana@contoso.test"
# A thread from notmuch's corpus: a patch, its sibling (In-Reply-To the first, no "Re:"),
# and a separate discussion with a "Re:" reply.
PATCH_1 = "threading/notmuch__default_01_2.eml"
PATCH_2 = "threading/notmuch__default_02_2.eml"
QUESTION = "threading/notmuch__default_bar_baz_23_2.eml"
ANSWER = "threading/notmuch__default_bar_baz_24_2.eml"
MAC_1 = "threading/notmuch__default_cur_31_2.eml"
MAC_2 = "threading/notmuch__default_cur_34_2.eml"
MAC_3 = "threading/notmuch__default_cur_35_2.eml"


def corpus(relative: str) -> bytes:
    path = CORPUS_DIR / relative
    if not path.exists():
        server_missing(f"mail corpus file {path}")
    return path.read_bytes()


def mid_of(raw: bytes) -> str:
    for line in raw.splitlines():
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
    raise AssertionError("no Message-ID")


@pytest.fixture
def microsoft(tmp_path):
    with running_fake_microsoft(tmp_path / "microsoft") as fake:
        yield fake


@pytest.fixture
def mailbox(microsoft):
    return microsoft.add_user(ANA, "Ana Lopez")


def oauth_args(fake: FakeMicrosoft) -> dict:
    return {
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "authority": fake.authority,
    }


def start(fake: FakeMicrosoft, upn: str = ANA) -> dict:
    """Begin the connect flow; return msal's flow dict (what the session keeps)."""
    return microsoft_oauth.start_auth(
        **oauth_args(fake), redirect_uri=REDIRECT_URI, login_hint=upn, verify=str(fake.ca_path)
    )


def finish(fake: FakeMicrosoft, flow: dict | None, callback: dict) -> dict:
    """Complete the connect flow with the callback's parameters; return the tokens."""
    return microsoft_oauth.finish_auth(
        **oauth_args(fake), flow=flow, callback_params=callback, verify=str(fake.ca_path)
    )


def sign_in(fake: FakeMicrosoft, upn: str) -> dict:
    """Run the connect flow as a browser would, and return the tokens."""
    flow = start(fake, upn)
    return finish(fake, flow, fake.authorize(flow["auth_uri"]))


def graph_settings(fake: FakeMicrosoft, tokens: dict, saved: list | None = None, **overrides):
    values = {
        "email": tokens["email"],
        **oauth_args(fake),
        "graph_base": fake.graph_base,
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expires_at": tokens["expires_at"],
        "token_saver": saved.append if saved is not None else None,
        "verify": str(fake.ca_path),
        "timeout": 5,
    }
    return GraphSettings(**{**values, **overrides})


@pytest.fixture
def tokens(microsoft, mailbox):
    return sign_in(microsoft, ANA)


@pytest.fixture
def saved():
    return []


@pytest.fixture
def provider(microsoft, tokens, saved):
    with GraphProvider(graph_settings(microsoft, tokens, saved)) as provider:
        yield provider


def sync_all(provider: GraphProvider, folder: str, cursor: str = "", limit: int = 50):
    """Follow pages until the deltaLink; return (headers, deleted, cursor, pages)."""
    headers, deleted, pages = [], [], []
    while True:
        page = provider.changes(folder, cursor, limit)
        pages.append(page)
        headers += page.headers
        deleted += page.deleted
        cursor = page.cursor
        if not page.more:
            return headers, deleted, cursor, pages


# -- OAuth ----------------------------------------------------------------------------------


def test_connect_flow_signs_in_through_msal_and_returns_tokens(microsoft, mailbox):
    flow = start(microsoft)
    query = parse_qs(urlsplit(flow["auth_uri"]).query)
    assert flow["auth_uri"].startswith(f"{microsoft.authority}/oauth2/v2.0/authorize?")
    scopes = query["scope"][0].split()
    for scope in ("Mail.ReadWrite", "Mail.Send", "MailboxSettings.Read", "User.Read"):
        assert f"https://graph.microsoft.com/{scope}" in scopes
    assert {"offline_access", "openid", "profile"} <= set(scopes)
    assert query["code_challenge_method"] == ["S256"]
    assert query["login_hint"] == [ANA]

    # The browser leg: the authorize endpoint redirects back with a code.
    redirect = requests.get(flow["auth_uri"], allow_redirects=False, verify=microsoft.ca_path)
    assert redirect.status_code == 302
    location = urlsplit(redirect.headers["Location"])
    assert f"https://{location.netloc}{location.path}" == REDIRECT_URI
    callback = {k: v[0] for k, v in parse_qs(location.query).items()}

    before = time.time()
    tokens = finish(microsoft, flow, callback)

    assert tokens["email"] == ANA
    assert tokens["access_token"] and tokens["refresh_token"]
    assert before + 3500 < tokens["expires_at"] <= time.time() + 3599
    assert tokens["home_account_id"] == f"{mailbox.oid}.{TENANT_ID}"
    assert tokens["id_token_claims"]["oid"] == mailbox.oid
    redeemed = microsoft.token_requests[-1]
    assert redeemed["grant_type"] == "authorization_code"
    assert redeemed["code_verifier"] == flow["code_verifier"]


def test_callback_with_another_state_is_refused(microsoft, mailbox):
    flow = start(microsoft)
    callback = {**microsoft.authorize(flow["auth_uri"]), "state": "someone-elses"}

    with pytest.raises(MicrosoftAuthError) as caught:
        finish(microsoft, flow, callback)

    assert caught.value.reason == "state"
    assert not microsoft.token_requests  # nothing was redeemed


def test_missing_flow_in_session_is_refused_without_a_request(microsoft, mailbox):
    with pytest.raises(MicrosoftAuthError) as caught:
        finish(microsoft, None, {"code": "x", "state": "y"})
    assert caught.value.reason == "state"


def test_declined_consent_is_reported_as_denied(microsoft, mailbox):
    flow = start(microsoft)
    callback = microsoft.authorize(flow["auth_uri"], deny=True)

    with pytest.raises(MicrosoftAuthError) as caught:
        finish(microsoft, flow, callback)

    assert caught.value.reason == "denied"
    assert caught.value.code == 65004
    assert not caught.value.needs_reconnect


def test_id_token_for_another_sign_in_is_refused_by_nonce(microsoft, mailbox):
    flow = start(microsoft)
    callback = microsoft.authorize(flow["auth_uri"])
    # As if the code had been minted for another sign-in with its own nonce.
    tampered = {**flow, "nonce": "a-different-nonce"}

    with pytest.raises(MicrosoftAuthError) as caught:
        finish(microsoft, tampered, callback)

    assert caught.value.reason == "nonce"


def test_code_redeemed_twice_asks_to_start_again(microsoft, mailbox):
    flow = start(microsoft)
    callback = microsoft.authorize(flow["auth_uri"])
    finish(microsoft, flow, callback)

    with pytest.raises(MicrosoftAuthError) as caught:
        finish(microsoft, flow, callback)

    assert caught.value.code == 54005
    assert caught.value.needs_reconnect


def test_authority_without_tenant_is_a_configuration_error(microsoft):
    with pytest.raises(MicrosoftAuthError) as caught:
        microsoft_oauth.start_auth(
            microsoft.client_id,
            microsoft.client_secret,
            microsoft.base_url,
            REDIRECT_URI,
            verify=str(microsoft.ca_path),
        )
    assert caught.value.reason == "admin"


# -- tokens in the provider -----------------------------------------------------------------


def test_expired_access_token_is_refreshed_first_and_rotation_saved(microsoft, tokens, saved):
    settings = graph_settings(microsoft, tokens, saved, expires_at=time.time() - 10)

    with GraphProvider(settings) as provider:
        provider.verify()

    (first,) = saved
    assert first["refresh_token"] != tokens["refresh_token"]
    assert first["access_token"] != tokens["access_token"]
    assert first["expires_at"] > time.time() + 3000
    assert microsoft.issued_refresh_tokens(ANA) == [tokens["refresh_token"], first["refresh_token"]]
    refresh = microsoft.token_requests[-1]
    assert refresh["grant_type"] == "refresh_token"
    assert refresh["refresh_token"] == tokens["refresh_token"]


def test_graph_401_refreshes_once_and_retries_with_the_rotated_token(microsoft, provider, saved):
    provider.verify()
    assert saved == []
    microsoft.expire_access_tokens()

    provider.verify()

    (rotated,) = saved
    assert microsoft.token_requests[-1]["grant_type"] == "refresh_token"
    microsoft.expire_access_tokens()
    provider.verify()
    # The second refresh used the rotated token, not the first one.
    assert microsoft.token_requests[-1]["refresh_token"] == rotated["refresh_token"]
    assert len(saved) == 2


@pytest.mark.parametrize(
    ("aadsts", "reason", "words"),
    [
        (700082, "reconnect", "expired after 90 days without use"),
        (50173, "reconnect", "password was changed or reset"),
        (50076, "mfa", "multi-factor authentication"),
    ],
)
def test_refused_refresh_asks_for_reconnect_in_plain_words(
    microsoft, tokens, saved, aadsts, reason, words
):
    microsoft.refresh_error = aadsts
    settings = graph_settings(microsoft, tokens, saved, expires_at=0)

    with GraphProvider(settings) as provider, pytest.raises(MicrosoftAuthError) as caught:
        provider.verify()

    error = caught.value
    assert isinstance(error, ProviderError)
    assert (error.stage, error.permanent, error.reason, error.code) == (
        "auth",
        True,
        reason,
        aadsts,
    )
    assert error.needs_reconnect
    assert words in error.message and f"AADSTS{aadsts}" in error.message
    assert "reconnect" in error.message
    assert saved == []
    # The reason survives the trip through Celery's result backend.
    assert pickle.loads(pickle.dumps(error)).reason == reason


def test_refresh_works_again_at_once_after_a_refused_one(microsoft, tokens):
    # msal caches an identical POST's 400 answer for 60 s; a fresh app per call avoids
    # replaying it once the cause is gone.
    microsoft.refresh_error = 50173
    with GraphProvider(graph_settings(microsoft, tokens, expires_at=0)) as provider:
        with pytest.raises(MicrosoftAuthError):
            provider.verify()
        microsoft.refresh_error = None
        provider.verify()


def test_wrong_client_secret_is_an_administrator_problem(microsoft, tokens):
    settings = graph_settings(microsoft, tokens, expires_at=0, client_secret="wrong")

    with GraphProvider(settings) as provider, pytest.raises(MicrosoftAuthError) as caught:
        provider.verify()

    assert caught.value.reason == "admin"
    assert caught.value.code == 7000215
    assert "MICROSOFT_CLIENT_SECRET" in caught.value.message
    assert not caught.value.needs_reconnect


def test_settings_repr_hides_secrets(microsoft, tokens):
    text = repr(graph_settings(microsoft, tokens))
    assert tokens["refresh_token"] not in text
    assert tokens["access_token"] not in text
    assert microsoft.client_secret not in text


# -- mailbox checks -------------------------------------------------------------------------


def test_shared_mailbox_is_refused_with_an_explanation(microsoft):
    microsoft.add_user("sales@contoso.test", "Sales", purpose="shared")
    tokens = sign_in(microsoft, "sales@contoso.test")

    with GraphProvider(graph_settings(microsoft, tokens)) as provider:
        with pytest.raises(ProviderError) as caught:
            provider.verify()

    assert (caught.value.stage, caught.value.permanent) == ("protocol", True)
    assert "shared mailbox" in caught.value.message
    assert "Connect a user mailbox instead" in caught.value.message


def test_is_shared_mailbox_reads_user_purpose(microsoft, provider):
    microsoft.add_user("support@contoso.test", purpose="shared")

    assert provider.is_shared_mailbox("support@contoso.test") is True
    assert provider.is_shared_mailbox(ANA) is False
    provider.verify()  # a user mailbox passes


# -- delta sync -----------------------------------------------------------------------------


def test_initial_sync_pages_with_next_links_then_a_delta_link(microsoft, mailbox, provider):
    files = [PATCH_1, PATCH_2, QUESTION, ANSWER, MAC_1]
    ids = [mailbox.deliver(corpus(f)) for f in files]

    headers, deleted, cursor, pages = sync_all(provider, "inbox", limit=2)

    assert [len(p.headers) for p in pages] == [2, 2, 1]
    assert [p.more for p in pages] == [True, True, False]
    assert "$skiptoken=" in pages[0].cursor and "$deltatoken=" in cursor
    assert [h.ref for h in headers] == ids
    assert [h.message_id for h in headers] == [mid_of(corpus(f)) for f in files]
    assert deleted == []
    first = headers[0]
    assert first.from_addr == "dottedmag@dottedmag.net"
    assert first.from_name == "Mikhail Gusarov"
    assert first.to_addrs == ("notmuch@notmuchmail.org",)
    # A folded Subject comes back unfolded.
    assert first.subject == (
        "[notmuch] [PATCH 1/2] Close message file after parsing message headers"
    )
    assert first.date.isoformat() == "2009-11-17T15:28:37+00:00"
    # Every Graph request asks for immutable ids; delta pages for the page size.
    assert all('IdType="ImmutableId"' in r.headers["prefer"] for r in microsoft.requests)
    delta = [r for r in microsoft.requests if "/delta" in r.path]
    assert all("odata.maxpagesize=2" in r.headers["prefer"] for r in delta)


def header_lookups(microsoft: FakeMicrosoft) -> int:
    return sum("internetMessageHeaders" in r.path for r in microsoft.requests)


def test_backfill_reads_headers_of_probable_replies_only(microsoft, mailbox, provider):
    for name in (PATCH_1, PATCH_2, QUESTION, ANSWER, MAC_1, MAC_2, MAC_3):
        mailbox.deliver(corpus(name))

    headers, *_ = sync_all(provider, "inbox")

    by_mid = {h.message_id: h for h in headers}
    patch_2 = by_mid[mid_of(corpus(PATCH_2))]
    assert patch_2.in_reply_to == mid_of(corpus(PATCH_1))  # threaded by Exchange, no "Re:"
    assert f"In-Reply-To: {mid_of(corpus(PATCH_1))}".encode() in patch_2.raw_headers
    assert by_mid[mid_of(corpus(ANSWER))].in_reply_to == mid_of(corpus(QUESTION))
    assert by_mid[mid_of(corpus(MAC_3))].in_reply_to == mid_of(corpus(MAC_2))
    root = by_mid[mid_of(corpus(PATCH_1))]
    assert (root.in_reply_to, root.raw_headers) == (None, b"")
    assert header_lookups(microsoft) == 4  # PATCH_2, ANSWER, MAC_2, MAC_3: roots cost nothing


def test_live_rounds_read_every_message_headers(microsoft, mailbox, provider):
    mailbox.deliver(corpus(PATCH_1))
    _, _, cursor, _ = sync_all(provider, "inbox")
    assert cursor.startswith("live|")
    out_of_office = (
        b"From: Bob <bob@example.test>\r\nTo: ana@contoso.test\r\n"
        b"Subject: Away until Monday\r\nAuto-Submitted: auto-replied\r\n"
        b"Message-ID: <oof-1@example.test>\r\n\r\nBack on Monday.\r\n"
    )
    mailbox.deliver(out_of_office)
    mailbox.deliver(corpus(QUESTION))
    before = header_lookups(microsoft)

    headers, *_ = sync_all(provider, "inbox", cursor)

    assert header_lookups(microsoft) - before == 2
    oof = next(h for h in headers if h.message_id == "<oof-1@example.test>")
    assert b"Auto-Submitted: auto-replied\r\n" in oof.raw_headers
    question = next(h for h in headers if h.message_id == mid_of(corpus(QUESTION)))
    assert question.raw_headers.startswith(b"Date: Tue, 17 Nov 2009 19:58:29 -0500\r\n")


def test_incremental_round_reports_new_changed_and_removed(microsoft, mailbox, provider):
    kept, read, gone = (mailbox.deliver(corpus(f)) for f in (PATCH_1, QUESTION, MAC_1))
    _, _, cursor, _ = sync_all(provider, "inbox")
    assert provider.changes("inbox", cursor, 10).headers == []  # nothing new

    new = mailbox.deliver(corpus(ANSWER))
    mailbox.mark_read(read)
    mailbox.delete(gone)
    headers, deleted, cursor, _ = sync_all(provider, "inbox", cursor)

    assert {h.ref for h in headers} == {new, read}
    assert "\\Seen" in next(h for h in headers if h.ref == read).flags
    assert deleted == [gone]
    assert kept not in {h.ref for h in headers}


@pytest.mark.parametrize("style", ["gone", "gone-location", "syncStateNotFound"])
def test_void_delta_token_resets_and_resyncs_everything(microsoft, mailbox, provider, style):
    ids = [mailbox.deliver(corpus(f)) for f in (PATCH_1, PATCH_2, QUESTION)]
    _, _, cursor, _ = sync_all(provider, "inbox", limit=2)
    ids.append(mailbox.deliver(corpus(ANSWER)))
    microsoft.expire_delta_tokens(style)

    first = provider.changes("inbox", cursor, 2)
    headers, _, cursor, _ = sync_all(provider, "inbox", first.cursor, limit=2)

    assert first.reset is True
    assert sorted(h.ref for h in first.headers + headers) == sorted(ids)
    mailbox.deliver(corpus(MAC_1))
    assert len(provider.changes("inbox", cursor, 10).headers) == 1  # back to incremental


def test_void_skip_token_mid_round_restarts_the_round(microsoft, mailbox, provider):
    ids = [mailbox.deliver(corpus(f)) for f in (PATCH_1, PATCH_2, QUESTION)]
    page = provider.changes("inbox", "", 2)
    microsoft.expire_delta_tokens("gone")

    restarted = provider.changes("inbox", page.cursor, 2)
    headers, *_ = sync_all(provider, "inbox", restarted.cursor, limit=2)

    assert restarted.reset is True
    assert sorted(h.ref for h in restarted.headers + headers) == sorted(ids)


@pytest.mark.parametrize(
    "cursor", ["live|https://attacker.example/v1.0/me/messages/delta", "v1:1:2:3"]
)
def test_foreign_or_unreadable_cursor_restarts_without_following_it(
    microsoft, mailbox, provider, cursor
):
    mailbox.deliver(corpus(PATCH_1))

    # Following the foreign link would fail: attacker.example does not resolve.
    page = provider.changes("inbox", cursor, 10)

    assert page.reset is True
    assert len(page.headers) == 1


# -- messages -------------------------------------------------------------------------------


def test_fetch_raw_returns_exact_bytes_and_skips_missing(mailbox, provider):
    kept = mailbox.deliver(corpus(MAC_2))
    gone = mailbox.deliver(corpus(MAC_3))
    mailbox.delete(gone)

    fetched = provider.fetch_raw("inbox", [kept, gone, kept])

    assert [(m.ref, m.raw) for m in fetched] == [(kept, corpus(MAC_2))]


def test_find_by_message_id_escapes_quotes(mailbox, provider):
    quoted = b"Message-ID: <o'brien.1@example.test>\r\nFrom: a@example.test\r\n\r\nHi\r\n"
    ref = mailbox.deliver(quoted, "sentitems")
    other = mailbox.deliver(corpus(PATCH_1), "sentitems")

    assert provider.find_by_message_id("sentitems", "<o'brien.1@example.test>") == ref
    assert provider.find_by_message_id("sentitems", mid_of(corpus(PATCH_1))) == other
    assert provider.find_by_message_id("sentitems", "<nowhere@example.test>") is None
    assert provider.find_by_message_id("inbox", mid_of(corpus(PATCH_1))) is None


def outgoing(*recipients: str, to: str = "bob@example.test", mid: str = "<out-1@crm.test>"):
    raw = (
        f"From: Ana Lopez <{ANA}>\r\nTo: {to}\r\nSubject: Proposal\r\n"
        f"Date: Tue, 03 Mar 2026 10:00:00 +0100\r\nMessage-ID: {mid}\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi Bob.\r\n"
    ).encode()
    return OutgoingMessage(envelope_from=ANA, recipients=list(recipients), raw=raw, message_id=mid)


def test_send_mime_lands_in_sent_items_under_its_message_id(microsoft, provider):
    message = outgoing("bob@example.test", "carol@example.test")

    result = provider.send(message)

    assert result.provider_id == "<out-1@crm.test>"
    assert result.accepted_recipients == ["bob@example.test", "carol@example.test"]
    ((sender, raw),) = microsoft.outbox
    assert sender == ANA
    # Graph reads recipients from the headers: the envelope-only one travels as Bcc.
    assert raw == b"Bcc: carol@example.test\r\n" + message.raw
    headers, *_ = sync_all(provider, "sentitems")
    assert [h.message_id for h in headers] == ["<out-1@crm.test>"]
    assert provider.find_by_message_id("sentitems", "<out-1@crm.test>") == headers[0].ref


def test_send_refuses_header_recipients_missing_from_the_envelope(microsoft, provider):
    with pytest.raises(ProviderError) as caught:
        provider.send(outgoing("carol@example.test", to="bob@example.test"))

    assert caught.value.permanent
    assert "bob@example.test" in caught.value.message
    assert microsoft.outbox == []


# -- throttling and failures ----------------------------------------------------------------


def test_throttled_delta_is_temporary_and_the_cursor_still_works(microsoft, mailbox, provider):
    mailbox.deliver(corpus(PATCH_1))
    microsoft.inject(429, retry_after=7, path="delta")

    with pytest.raises(ProviderError) as caught:
        provider.changes("inbox", "", 10)

    assert (caught.value.permanent, caught.value.retry_after, caught.value.code) == (False, 7, 429)
    assert "MailboxConcurrency" in caught.value.message
    assert len(provider.changes("inbox", "", 10).headers) == 1


def test_server_error_on_send_is_temporary_and_says_it_may_have_gone(microsoft, provider):
    microsoft.inject(503, retry_after=30, path="sendMail")

    with pytest.raises(ProviderError) as caught:
        provider.send(outgoing("bob@example.test"))

    assert (caught.value.permanent, caught.value.retry_after) == (False, 30)
    assert "may or may not have been sent" in caught.value.message


def test_server_error_on_fetch_is_temporary(microsoft, mailbox, provider):
    ref = mailbox.deliver(corpus(PATCH_1))
    microsoft.inject(500, path="$value")

    with pytest.raises(ProviderError) as caught:
        provider.fetch_raw("inbox", [ref])

    assert caught.value.permanent is False
    assert caught.value.code == 500


def test_client_error_on_send_is_permanent(microsoft, provider):
    microsoft.inject(403, path="sendMail")

    with pytest.raises(ProviderError) as caught:
        provider.send(outgoing("bob@example.test"))

    assert caught.value.permanent is True
    assert caught.value.stage == "auth"
