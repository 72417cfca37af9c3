"""Fake the Microsoft identity platform and the Graph mail subset on a local HTTPS port.

One server speaks both sides, like login.microsoftonline.com and graph.microsoft.com:

- identity (`/tenant1/...`): openid-configuration discovery, authorize (a 302 to the
  redirect URI, or `authorize()` called directly), and the token endpoint with PKCE, nonce
  echo, refresh-token rotation and AADSTS errors switchable per test;
- Graph (`/v1.0/...`): /me, mailboxSettings (userPurpose switchable to "shared"), delta per
  folder with nextLink/deltaLink paging and @removed, expiring delta tokens, $value,
  $filter by internetMessageId, MIME sendMail, and injected 429/5xx answers;
- JSON batching (`POST /v1.0/$batch`, up to 20 requests, each answered as a request of its
  own, faults included; bodies that are not JSON base64-encoded, as Graph does);
- Outlook's limit of 4 requests in flight per mailbox: a request beyond it is answered 429
  ApplicationThrottled "Application is over its MailboxConcurrency limit." with a
  Retry-After; a batch, which Graph runs up to 4 requests of at once, counts as min(4, its
  size), and its requests beyond the limit are the ones refused. `latency` (seconds, 0 by
  default) keeps each request in flight that long, so that concurrency shows;
  `concurrency_refusals` counts the refusals and `most_in_flight` the highest count seen.

Wire formats follow Microsoft's identity platform (v2.0 endpoints) and Graph v1.0 mail
references, as msal and the adapter use them. msal insists on
https and a path segment in the authority, hence TLS with a self-signed certificate for
127.0.0.1 whose path (`ca_path`) goes to msal's and requests' `verify=`. State is in memory
and belongs to one test; mailboxes are fed raw RFC 822 bytes.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.header
import email.policy
import email.utils
import hashlib
import itertools
import json
import re
import secrets
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

TENANT = "tenant1"
TENANT_ID = "72f988bf-0000-4000-8000-00000000fa1e"
FOLDERS = ("inbox", "sentitems")
MAILBOX_CONCURRENCY = 4
BATCH_LIMIT = 20
DEFAULT_PAGE_SIZE = 10  # Graph's default for message delta (unconfirmed)
# The token endpoint's errors as Microsoft words them (its AADSTS error code reference).
AADSTS_ERRORS = {
    700082: (
        "invalid_grant",
        "The refresh token has expired due to inactivity. The token was issued on "
        "2024-01-01T00:00:00Z and was inactive for 90.00:00:00.",
    ),
    50173: (
        "invalid_grant",
        "The provided grant has expired due to it being revoked, a fresh auth token is "
        "needed. The user might have changed or reset their password.",
    ),
    700084: ("invalid_grant", "The refresh token was issued to a single page app (SPA)."),
    70008: ("invalid_grant", "The provided authorization code or refresh token has expired."),
    54005: ("invalid_grant", "OAuth2 Authorization code was already redeemed."),
    50076: (
        "interaction_required",
        "Due to a configuration change made by your administrator, or because you moved to "
        "a new location, you must use multi-factor authentication.",
    ),
    7000215: ("invalid_client", "Invalid client secret provided."),
    9002313: ("invalid_grant", "Invalid request. Request is malformed or invalid."),
    90002: ("invalid_tenant", "Tenant not found."),
    50148: ("invalid_grant", "The redirect_uri does not match the one in the request."),
    501481: ("invalid_grant", "The Code_Verifier does not match the code_challenge."),
}
_ids = itertools.count(1)


# -- mailbox model ----------------------------------------------------------------------------


def header_text(message: email.message.Message, name: str) -> str:
    """Return a header decoded to one line of text ("" when absent or undecodable)."""
    value = message.get(name)
    if value is None:
        return ""
    try:
        text = str(email.header.make_header(email.header.decode_header(str(value))))
    except (ValueError, LookupError, UnicodeError):
        text = str(value)
    return " ".join(text.split())


def addresses(message: email.message.Message, name: str) -> list[dict]:
    """Return a header's addresses in Graph's recipient shape."""
    found = email.utils.getaddresses([str(v) for v in message.get_all(name, [])])
    return [
        {"emailAddress": {"name": display or address, "address": address}}
        for display, address in found
        if "@" in address
    ]


@dataclass
class FakeMessage:
    """One stored message: its raw bytes and the properties Graph derives from them."""

    id: str
    folder: str
    raw: bytes
    seq: int
    received: datetime
    conversation_id: str
    conversation_index: bytes
    is_read: bool = False

    @property
    def parsed(self) -> email.message.Message:
        return email.message_from_bytes(self.raw, policy=email.policy.compat32)

    @property
    def internet_message_id(self) -> str:
        return header_text(self.parsed, "Message-ID")

    def parent_ids(self) -> list[str]:
        """Return the Message-IDs this one answers, nearest first."""
        parsed = self.parsed
        in_reply_to = re.findall(r"<[^<>\s]+>", header_text(parsed, "In-Reply-To"))
        references = re.findall(r"<[^<>\s]+>", header_text(parsed, "References"))
        return in_reply_to + list(reversed(references))

    def properties(self, graph_base: str) -> dict:
        """Return every property the fake serves, as Graph names and shapes them."""
        parsed = self.parsed
        sent = self.received
        try:
            sent = email.utils.parsedate_to_datetime(header_text(parsed, "Date")) or sent
        except (TypeError, ValueError, IndexError):
            pass
        if sent.tzinfo is None:
            sent = sent.replace(tzinfo=UTC)
        senders = addresses(parsed, "From")
        return {
            "createdDateTime": iso(self.received),
            "lastModifiedDateTime": iso(self.received),
            "changeKey": f"CQAAABYAAA{self.seq:06d}",
            "receivedDateTime": iso(self.received),
            "sentDateTime": iso(sent),
            "hasAttachments": False,
            "internetMessageId": self.internet_message_id,
            "subject": header_text(parsed, "Subject"),
            "bodyPreview": "",
            "importance": "normal",
            "parentFolderId": f"AQMkAD-{self.folder}",
            "conversationId": self.conversation_id,
            "conversationIndex": base64.b64encode(self.conversation_index).decode(),
            "isRead": self.is_read,
            "isDraft": False,
            "sender": senders[0] if senders else None,
            "from": senders[0] if senders else None,
            "toRecipients": addresses(parsed, "To"),
            "ccRecipients": addresses(parsed, "Cc"),
            "bccRecipients": addresses(parsed, "Bcc"),
            "replyTo": addresses(parsed, "Reply-To"),
            "flag": {"flagStatus": "notFlagged"},
        }

    def internet_headers(self) -> list[dict]:
        """Return the message's headers as Graph's internetMessageHeaders list."""
        return [
            {"name": name, "value": " ".join(str(value).split())}
            for name, value in self.parsed.items()
        ]


def iso(moment: datetime) -> str:
    """Format a datetime the way Graph does (UTC, second precision, Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeMailbox:
    """One user's mailbox: messages by id, a change sequence and deletion tombstones."""

    upn: str
    display_name: str
    oid: str = field(default_factory=lambda: str(uuid.uuid4()))
    user_purpose: str = "user"
    messages: dict[str, FakeMessage] = field(default_factory=dict)
    tombstones: list[tuple[str, str, int]] = field(default_factory=list)  # folder, id, seq
    seq: int = 0

    def deliver(self, raw: bytes, folder: str = "inbox", is_read: bool = False) -> str:
        """Store raw RFC 822 bytes in a folder and return the new message's id."""
        self.seq += 1
        # Immutable ids look like base64 with "-", "_" and "=" padding: ids must be quoted
        # in URLs by the client.
        message_id = f"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A{next(_ids):04d}{secrets.token_hex(4)}="
        message = FakeMessage(
            id=message_id,
            folder=folder,
            raw=raw,
            seq=self.seq,
            received=datetime.now(UTC),
            conversation_id="",
            conversation_index=b"",
            is_read=is_read,
        )
        self.thread(message)
        self.messages[message_id] = message
        return message_id

    def thread(self, message: FakeMessage) -> None:
        """Join the conversation of a stored parent, the way Exchange groups replies.

        A conversation's first message has a 22-byte conversationIndex; each reply level
        appends 5 bytes.
        """
        by_mid = {m.internet_message_id: m for m in self.messages.values()}
        parent = next((by_mid[p] for p in message.parent_ids() if p in by_mid), None)
        if parent is None:
            message.conversation_id = "AAQkAD" + secrets.token_urlsafe(18)
            message.conversation_index = secrets.token_bytes(22)
        else:
            message.conversation_id = parent.conversation_id
            message.conversation_index = parent.conversation_index + secrets.token_bytes(5)

    def delete(self, message_id: str) -> None:
        """Remove a message; the next delta round reports it as @removed."""
        message = self.messages.pop(message_id)
        self.seq += 1
        self.tombstones.append((message.folder, message_id, self.seq))

    def mark_read(self, message_id: str) -> None:
        """Change a message so that the next delta round reports it again."""
        self.seq += 1
        message = self.messages[message_id]
        message.is_read, message.seq = True, self.seq

    def in_folder(self, folder: str) -> list[FakeMessage]:
        """Return a folder's messages in change order."""
        return sorted((m for m in self.messages.values() if m.folder == folder), key=seq_key)

    def find(self, internet_message_id: str) -> FakeMessage | None:
        return next(
            (m for m in self.messages.values() if m.internet_message_id == internet_message_id),
            None,
        )


def seq_key(message: FakeMessage) -> int:
    return message.seq


# -- protocol plumbing ------------------------------------------------------------------------


@dataclass
class Reply:
    """An HTTP answer: status, JSON or bytes body, extra headers."""

    status: int
    body: dict | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/octet-stream"
    lost: bool = False  # carried out, then the connection drops before this answer

    def encoded(self) -> tuple[bytes, str]:
        """Return the body bytes and their Content-Type."""
        if isinstance(self.body, dict):
            return json.dumps(self.body).encode(), "application/json"
        return self.body or b"", self.content_type


def graph_error(status: int, code: str, message: str, headers: dict | None = None) -> Reply:
    """Return Graph's error shape."""
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": iso(datetime.now(UTC)), "request-id": str(uuid.uuid4())},
        }
    }
    return Reply(status, body, headers or {})


def token_error(aadsts: int) -> Reply:
    """Return the token endpoint's error body for an AADSTS number (401 for bad clients)."""
    error, text = AADSTS_ERRORS[aadsts]
    trace, correlation = uuid.uuid4(), uuid.uuid4()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    body = {
        "error": error,
        "error_description": (
            f"AADSTS{aadsts}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}"
            f"\r\nTimestamp: {stamp}"
        ),
        "error_codes": [aadsts],
        "timestamp": stamp,
        "trace_id": str(trace),
        "correlation_id": str(correlation),
        "error_uri": f"https://login.microsoftonline.com/error?code={aadsts}",
    }
    if aadsts == 700082:
        body["suberror"] = "bad_token"
    return Reply(401 if error == "invalid_client" else 400, body)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def prefer(headers: dict[str, str]) -> dict[str, str]:
    """Parse Prefer headers (comma-separated preferences) into a dict."""
    found = {}
    for part in headers.get("prefer", "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            found[name.strip().lower()] = value.strip().strip('"')
    return found


@dataclass
class Grant:
    """What an authorization code was minted for."""

    user: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None


@dataclass
class Fault:
    """An answer injected in place of the next `times` matching Graph requests."""

    status: int
    times: int
    retry_after: int | None
    path: str | None
    method: str | None


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class DeltaRound:
    """One delta round's snapshot of changes, served page by page."""

    folder: str
    items: list[dict]
    end_seq: int
    select: list[str] | None
    page_size: int


# -- the fake ---------------------------------------------------------------------------------


class FakeMicrosoft:
    """Serve login and Graph for the users added with `add_user()`.

    Switches a test may flip: `refresh_error` (an AADSTS number the next refresh grants
    fail with), `rotate_refresh_tokens`, `access_token_lifetime`, `expire_access_tokens()`,
    `expire_delta_tokens(style)` and `inject(status, ...)`. `requests` records every Graph
    request; `outbox` every accepted sendMail.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.client_id = str(uuid.uuid4())
        self.client_secret = secrets.token_urlsafe(24)
        self.users: dict[str, FakeMailbox] = {}
        self.refresh_error: int | None = None
        self.rotate_refresh_tokens = True
        self.access_token_lifetime = 3599
        self.requests: list[RecordedRequest] = []
        self.outbox: list[tuple[str, bytes]] = []
        self.token_requests: list[dict[str, str]] = []
        self._codes: dict[str, Grant] = {}
        self._redeemed: set[str] = set()
        self._refresh_tokens: dict[str, str] = {}  # refresh token -> upn
        self._access_tokens: dict[str, tuple[str, float]] = {}  # token -> (upn, expires at)
        self._faults: list[Fault] = []
        self._rounds: dict[str, DeltaRound] = {}
        self._delta_tokens: dict[str, tuple[str, int, list[str] | None, int]] = {}
        self._delta_generation = 0
        self._delta_expiry_style = "gone"
        self._lock = threading.RLock()
        # Path parts whose next requests are carried out and then answered by a dropped
        # connection (a lost reply), with how many are left.
        self.lost_replies: dict[str, int] = {}
        # Outlook's per-mailbox concurrency: requests in flight per user, and the switches.
        self.latency = 0.0
        self.concurrency_refusals = 0
        self.most_in_flight = 0
        self._in_flight: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.ca_path = directory / "ca.pem"

    # -- lifecycle and addresses

    def start(self) -> None:
        """Listen on a free loopback port with a certificate from a throwaway CA."""
        context = tls_context(self.directory)
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "call start() first"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{TENANT}"

    @property
    def graph_base(self) -> str:
        return f"{self.base_url}/v1.0"

    # -- test controls

    def add_user(self, upn: str, display_name: str = "", purpose: str = "user") -> FakeMailbox:
        """Create a user with an empty mailbox; `purpose` is its userPurpose."""
        box = FakeMailbox(upn=upn, display_name=display_name or upn, user_purpose=purpose)
        self.users[upn.lower()] = box
        return box

    def lose_replies(self, path: str, times: int = 1) -> None:
        """Carry out the next `times` Graph requests whose path contains `path`, then drop
        the connection without answering."""
        with self._lock:
            self.lost_replies[path] = times

    def _reply_lost(self, path: str) -> bool:
        for part, left in self.lost_replies.items():
            if left > 0 and part in path:
                self.lost_replies[part] = left - 1
                return True
        return False

    def inject(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next `times` Graph requests whose path contains `path` with `status`."""
        with self._lock:
            self._faults.append(Fault(status, times, retry_after, path, method))

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far answer 401, as after its lifetime."""
        with self._lock:
            self._access_tokens = {t: (u, 0.0) for t, (u, _) in self._access_tokens.items()}

    def expire_delta_tokens(self, style: str = "gone") -> None:
        """Void every outstanding delta and skip token.

        `style` picks the answer: "gone" (410), "gone-location" (410 with a Location header
        giving a fresh initial delta URL) or "syncStateNotFound" (400).
        """
        assert style in ("gone", "gone-location", "syncStateNotFound")
        with self._lock:
            self._delta_generation += 1
            self._delta_expiry_style = style

    def issued_refresh_tokens(self, upn: str) -> list[str]:
        """Return every refresh token issued to a user, oldest first."""
        return [token for token, owner in self._refresh_tokens.items() if owner == upn.lower()]

    def authorize(self, auth_uri: str, *, user: str | None = None, deny: bool = False) -> dict:
        """Sign a user in at msal's authorization URL; return the callback's parameters.

        The code is bound to the request's nonce and PKCE challenge, as Microsoft does.
        `user` defaults to the login_hint. With `deny`, answer as when consent is declined.
        """
        query = {k: v[0] for k, v in parse_qs(urlsplit(auth_uri).query).items()}
        with self._lock:
            return self._authorize(query, user, deny)

    # -- dispatch

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one HTTP request."""
        parts = urlsplit(target)
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if segments[0] != "v1.0":
            with self._lock:
                return self._identity(method, segments, query, body)
        with self._lock:
            upn = self._bearer_user(headers)
            slots = 1
            if segments[1:] == ["$batch"] and method == "POST":
                slots = min(MAILBOX_CONCURRENCY, max(1, batch_size(body)))
            over = self._in_flight.get(upn, 0) + slots - MAILBOX_CONCURRENCY if upn else 0
            if upn:
                self._in_flight[upn] = self._in_flight.get(upn, 0) + slots
                self.most_in_flight = max(self.most_in_flight, self._in_flight[upn])
        try:
            if self.latency:
                time.sleep(self.latency)
            with self._lock:
                self.requests.append(RecordedRequest(method, target, headers))
                if over > 0 and slots == 1:
                    reply = self._over_concurrency()
                elif segments[1:] == ["$batch"] and method == "POST" and upn:
                    reply = self._batch(headers, body, refused=max(0, over))
                else:
                    reply = self._graph(method, segments[1:], query, headers, body)
                reply.lost = self._reply_lost(parts.path)
                return reply
        finally:
            if upn:
                with self._lock:
                    self._in_flight[upn] -= slots

    def _over_concurrency(self) -> Reply:
        self.concurrency_refusals += 1
        return graph_error(
            429,
            "ApplicationThrottled",
            "Application is over its MailboxConcurrency limit.",
            {"Retry-After": "1"},
        )

    def _batch(self, headers: dict, body: bytes, refused: int) -> Reply:
        """Answer a JSON batch: each request as one of its own, under the outer request's
        authorization; the last `refused` of them over the mailbox's concurrency limit."""
        try:
            requests_ = json.loads(body or b"{}")["requests"]
        except (ValueError, KeyError, TypeError):
            return graph_error(400, "BadRequest", "Invalid batch payload format.")
        if not isinstance(requests_, list) or not 1 <= len(requests_) <= BATCH_LIMIT:
            return graph_error(400, "BadRequest", f"A batch holds 1 to {BATCH_LIMIT} requests.")
        answers = []
        for n, request in enumerate(requests_):
            url = str(request.get("url", ""))
            if n >= len(requests_) - refused:
                reply = self._over_concurrency()
            elif not url.startswith("/") or url.startswith("/$batch"):
                reply = graph_error(400, "BadRequest", "Invalid request URL in the batch.")
            else:
                inner = {"authorization": headers.get("authorization", "")}
                inner.update({k.lower(): v for k, v in (request.get("headers") or {}).items()})
                parts = urlsplit(url)
                segments = [unquote(s) for s in parts.path.strip("/").split("/")]
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                method_ = request.get("method", "GET")
                self.requests.append(RecordedRequest(method_, "/v1.0" + url, inner))
                reply = self._graph(request.get("method", "GET"), segments, query, inner, b"")
            payload, content_type = reply.encoded()
            answer_body = (
                json.loads(payload)
                if content_type == "application/json"
                else base64.b64encode(payload).decode()
            )
            answers.append(
                {
                    "id": request.get("id"),
                    "status": reply.status,
                    "headers": {"Content-Type": content_type, **reply.headers},
                    "body": answer_body,
                }
            )
        return Reply(200, {"responses": answers})

    # -- identity platform

    def _identity(self, method: str, segments: list[str], query: dict, body: bytes) -> Reply:
        tenant, rest = segments[0], segments[1:]
        if tenant != TENANT:
            return token_error(90002)
        if method == "GET" and rest == ["v2.0", ".well-known", "openid-configuration"]:
            return Reply(200, self._openid_configuration())
        if method == "GET" and rest == ["oauth2", "v2.0", "authorize"]:
            params = self._authorize(query, None, False)
            location = f"{query.get('redirect_uri', '')}?{urlencode(params)}"
            return Reply(302, b"", {"Location": location})
        if method == "POST" and rest == ["oauth2", "v2.0", "token"]:
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            self.token_requests.append(form)
            return self._token(form)
        return Reply(404, {"error": "not_found"})

    def _openid_configuration(self) -> dict:
        base = f"{self.authority}/oauth2/v2.0"
        return {
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "issuer": f"{self.base_url}/{TENANT_ID}/v2.0",
            "response_types_supported": ["code", "id_token", "code id_token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
        }

    def _authorize(self, query: dict, user: str | None, deny: bool) -> dict:
        state = query.get("state", "")
        if query.get("client_id") != self.client_id:
            return {"error": "unauthorized_client", "state": state}
        if deny:
            return {
                "error": "access_denied",
                "error_description": "AADSTS65004: User declined to consent to access the app.",
                "state": state,
            }
        upn = (user or query.get("login_hint") or next(iter(self.users))).lower()
        code = "0.AXoA" + secrets.token_urlsafe(32)
        self._codes[code] = Grant(
            user=upn,
            client_id=query["client_id"],
            redirect_uri=query.get("redirect_uri", ""),
            scope=query.get("scope", ""),
            nonce=query.get("nonce"),
            code_challenge=query.get("code_challenge"),
            code_challenge_method=query.get("code_challenge_method"),
        )
        return {"code": code, "state": state, "session_state": str(uuid.uuid4())}

    def _token(self, form: dict) -> Reply:
        if form.get("client_id") != self.client_id or form.get("client_secret") != (
            self.client_secret
        ):
            return token_error(7000215)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._redeem_code(form)
        if grant_type == "refresh_token":
            return self._redeem_refresh_token(form)
        return Reply(400, {"error": "unsupported_grant_type"})

    def _redeem_code(self, form: dict) -> Reply:
        code = form.get("code", "")
        grant = self._codes.pop(code, None)
        if grant is None:
            return token_error(54005 if code in self._redeemed else 70008)
        self._redeemed.add(code)
        if form.get("redirect_uri") != grant.redirect_uri:
            return token_error(50148)
        if not pkce_matches(grant, form.get("code_verifier", "")):
            return token_error(501481)
        return self._issue(grant.user, form.get("scope", grant.scope), grant.nonce)

    def _redeem_refresh_token(self, form: dict) -> Reply:
        if self.refresh_error is not None:
            return token_error(self.refresh_error)
        token = form.get("refresh_token", "")
        upn = self._refresh_tokens.get(token)
        if upn is None:
            return token_error(9002313)
        # Microsoft rotates but does not revoke: the old token stays usable until it expires.
        reuse = None if self.rotate_refresh_tokens else token
        return self._issue(upn, form.get("scope", ""), None, refresh_token=reuse)

    def _issue(
        self, upn: str, scope: str, nonce: str | None, refresh_token: str | None = None
    ) -> Reply:
        box = self.users[upn]
        access = "eyJ0eXAiOiJKV1QifQ." + secrets.token_urlsafe(32)
        refresh = refresh_token or "0.AXoA-rt-" + secrets.token_urlsafe(32)
        self._access_tokens[access] = (upn, time.time() + self.access_token_lifetime)
        self._refresh_tokens[refresh] = upn
        now = int(time.time())
        claims = {
            "aud": self.client_id,
            "iss": f"{self.base_url}/{TENANT_ID}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": box.display_name,
            "oid": box.oid,
            "preferred_username": box.upn,
            "sub": b64url(hashlib.sha256(box.oid.encode()).digest()),
            "tid": TENANT_ID,
            "ver": "2.0",
        }
        if nonce:
            # msal rejects an id token whose nonce differs from the authorize request's.
            claims["nonce"] = nonce
        id_token = ".".join(
            [
                b64url(json.dumps({"typ": "JWT", "alg": "RS256", "kid": "fake"}).encode()),
                b64url(json.dumps(claims).encode()),
                b64url(b"not-a-real-signature"),
            ]
        )
        granted = " ".join(
            s for s in scope.split() if s not in ("openid", "profile", "offline_access")
        )
        client_info = b64url(json.dumps({"uid": box.oid, "utid": TENANT_ID}).encode())
        return Reply(
            200,
            {
                "token_type": "Bearer",
                "scope": granted,
                "expires_in": self.access_token_lifetime,
                "ext_expires_in": self.access_token_lifetime,
                "access_token": access,
                "refresh_token": refresh,
                "id_token": id_token,
                "client_info": client_info,
            },
        )

    # -- Graph

    def _graph(
        self, method: str, path: list[str], query: dict, headers: dict, body: bytes
    ) -> Reply:
        upn = self._bearer_user(headers)
        if upn is None:
            return graph_error(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        fault = self._take_fault(method, "/".join(path))
        if fault is not None:
            return fault
        box = self.users[upn]
        route = (method, *path)
        match route:
            case ("GET", "me"):
                return Reply(200, self._me(box))
            case ("GET", "me", "mailboxSettings"):
                return Reply(200, mailbox_settings(box))
            case ("GET", "users", other, "mailboxSettings"):
                target = self.users.get(other.lower())
                if target is None:
                    return graph_error(404, "ErrorInvalidUser", f"The user {other} is invalid.")
                return Reply(200, mailbox_settings(target, query.get("$select")))
            case ("GET", "me", "mailFolders", folder, "messages", "delta"):
                return self._delta(box, folder.lower(), query, headers)
            case ("GET", "me", "mailFolders", folder, "messages"):
                return self._list(box, folder.lower(), query)
            case ("GET", "me", "messages", message_id):
                return self._message(box, message_id, query)
            case ("GET", "me", "messages", message_id, "$value"):
                message = box.messages.get(message_id)
                if message is None:
                    return graph_error(
                        404, "ErrorItemNotFound", "The specified object was not found."
                    )
                # Graph's Content-Type for $value is unconfirmed; clients must read bytes.
                return Reply(200, message.raw, content_type="message/rfc822")
            case ("POST", "me", "sendMail"):
                return self._send_mail(box, headers, body)
        return graph_error(400, "BadRequest", f"Resource not found for the segment '{path[-1]}'.")

    def _bearer_user(self, headers: dict) -> str | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        upn, expires_at = self._access_tokens.get(token, (None, 0.0))
        if scheme.lower() != "bearer" or upn is None or expires_at < time.time():
            return None
        return upn

    def _take_fault(self, method: str, path: str) -> Reply | None:
        for fault in self._faults:
            if fault.times <= 0:
                continue
            if (fault.path and fault.path not in path) or (fault.method and fault.method != method):
                continue
            fault.times -= 1
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            if fault.status == 429:
                return graph_error(
                    429,
                    "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.",
                    headers,
                )
            return graph_error(fault.status, "ServiceUnavailable", "Service unavailable.", headers)
        return None

    def _me(self, box: FakeMailbox) -> dict:
        return {
            "@odata.context": f"{self.graph_base}/$metadata#users/$entity",
            "id": box.oid,
            "displayName": box.display_name,
            "mail": box.upn,
            "userPrincipalName": box.upn,
        }

    def _delta(self, box: FakeMailbox, folder: str, query: dict, headers: dict) -> Reply:
        if folder not in FOLDERS:
            return graph_error(404, "ErrorInvalidIdMalformed", "Id is malformed.")
        select = [s for s in query["$select"].split(",") if s] if "$select" in query else None
        if select and "internetMessageHeaders" in select:
            # The client must fetch headers per message; keep it honest.
            return graph_error(
                400, "ErrorInvalidProperty", "internetMessageHeaders is not supported in delta."
            )
        page_size = int(prefer(headers).get("odata.maxpagesize") or 0)
        if "$skiptoken" in query:
            found = self._resume_round(query["$skiptoken"])
            if found is None:
                return self._delta_expired(folder)
            round_id, position = found
        else:
            since = None
            if "$deltatoken" in query:
                token = self._delta_tokens.get(query["$deltatoken"])
                if token is None or token[3] != self._delta_generation:
                    return self._delta_expired(folder)
                folder, since, select, _ = token
            round_id, position = self._start_round(box, folder, since, select, page_size), 0
        return self._delta_page(round_id, position, page_size)

    def _start_round(
        self,
        box: FakeMailbox,
        folder: str,
        since: int | None,
        select: list[str] | None,
        page_size: int,
    ) -> str:
        """Snapshot what changed in the folder since `since` (None: everything that exists)."""
        changed = [m for m in box.in_folder(folder) if since is None or m.seq > since]
        items = [(m.seq, self._message_json(m, select)) for m in changed]
        if since is not None:
            items += [
                (seq, removed_json(message_id))
                for where, message_id, seq in box.tombstones
                if where == folder and seq > since
            ]
        items.sort(key=lambda pair: pair[0])
        round_id = f"{self._delta_generation}.{secrets.token_urlsafe(8)}"
        self._rounds[round_id] = DeltaRound(
            folder=folder,
            items=[item for _, item in items],
            end_seq=box.seq,
            select=select,
            page_size=page_size or DEFAULT_PAGE_SIZE,
        )
        return round_id

    def _resume_round(self, skiptoken: str) -> tuple[str, int] | None:
        round_id, _, position = skiptoken.rpartition("~")
        if round_id not in self._rounds or not position.isdigit():
            return None
        if round_id.split(".")[0] != str(self._delta_generation):
            return None
        return round_id, int(position)

    def _delta_page(self, round_id: str, position: int, page_size: int) -> Reply:
        delta_round = self._rounds[round_id]
        size = page_size or delta_round.page_size
        page = delta_round.items[position : position + size]
        link = f"{self.graph_base}/me/mailFolders/{delta_round.folder}/messages/delta"
        body = {"@odata.context": f"{self.graph_base}/$metadata#Collection(message)"}
        if position + size < len(delta_round.items):
            body["@odata.nextLink"] = f"{link}?$skiptoken={round_id}~{position + size}"
        else:
            token = secrets.token_urlsafe(12)
            self._delta_tokens[token] = (
                delta_round.folder,
                delta_round.end_seq,
                delta_round.select,
                self._delta_generation,
            )
            body["@odata.deltaLink"] = f"{link}?$deltatoken={token}"
        body["value"] = page
        headers = {"Preference-Applied": f"odata.maxpagesize={size}"} if page_size else {}
        return Reply(200, body, headers)

    def _delta_expired(self, folder: str) -> Reply:
        if self._delta_expiry_style == "syncStateNotFound":
            return graph_error(400, "syncStateNotFound", "The sync state was not found.")
        headers = {}
        if self._delta_expiry_style == "gone-location":
            headers["Location"] = f"{self.graph_base}/me/mailFolders/{folder}/messages/delta"
        return graph_error(410, "SyncStateInvalid", "The sync state is no longer valid.", headers)

    def _message_json(self, message: FakeMessage, select: list[str] | None) -> dict:
        everything = message.properties(self.graph_base)
        chosen = {k: v for k, v in everything.items() if select is None or k in select}
        return {
            "@odata.type": "#microsoft.graph.message",
            "@odata.etag": f'W/"{everything["changeKey"]}"',
            "id": message.id,
            **chosen,
        }

    def _message(self, box: FakeMailbox, message_id: str, query: dict) -> Reply:
        message = box.messages.get(message_id)
        if message is None:
            return graph_error(404, "ErrorItemNotFound", "The specified object was not found.")
        select = query["$select"].split(",") if "$select" in query else None
        body = self._message_json(message, select)
        if select and "internetMessageHeaders" in select:
            body["internetMessageHeaders"] = message.internet_headers()
        return Reply(200, body)

    def _list(self, box: FakeMailbox, folder: str, query: dict) -> Reply:
        if folder not in FOLDERS:
            return graph_error(404, "ErrorInvalidIdMalformed", "Id is malformed.")
        messages = box.in_folder(folder)
        if "$filter" in query:
            match = re.fullmatch(r"\s*internetMessageId eq '((?:[^']|'')*)'\s*", query["$filter"])
            if match is None:
                return graph_error(400, "ErrorInvalidUrlQueryFilter", "The filter is invalid.")
            wanted = match.group(1).replace("''", "'")
            messages = [m for m in messages if m.internet_message_id == wanted]
        select = query["$select"].split(",") if "$select" in query else None
        return Reply(
            200,
            {
                "@odata.context": f"{self.graph_base}/$metadata#Collection(message)",
                "value": [self._message_json(m, select) for m in messages],
            },
        )

    def _send_mail(self, box: FakeMailbox, headers: dict, body: bytes) -> Reply:
        if not headers.get("content-type", "").startswith("text/plain"):
            # JSON sendMail is real Graph, but the product only sends MIME.
            return graph_error(415, "UnsupportedMediaType", "This fake accepts MIME sends only.")
        try:
            raw = binascii.a2b_base64(b"".join(body.split()), strict_mode=True)
        except binascii.Error:
            return graph_error(
                400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME."
            )
        parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
        recipients = [
            r["emailAddress"]["address"]
            for name in ("To", "Cc", "Bcc")
            for r in addresses(parsed, name)
        ]
        if not recipients:
            return graph_error(
                400, "ErrorInvalidRecipients", "At least one recipient is not valid."
            )
        if parsed.get("Message-ID") is None:
            raw = f"Message-ID: <{uuid.uuid4()}@fake.outlook.test>\r\n".encode() + raw
        box.deliver(raw, "sentitems", is_read=True)
        self.outbox.append((box.upn, raw))
        return Reply(202)


def batch_size(body: bytes) -> int:
    """How many requests a JSON batch body holds (0 when it is not one)."""
    try:
        return len(json.loads(body or b"{}")["requests"])
    except (ValueError, KeyError, TypeError):
        return 0


def mailbox_settings(box: FakeMailbox, select: str | None = None) -> dict:
    """Return mailboxSettings for a user, trimmed to $select when given."""
    settings = {
        "archiveFolder": "AQMkAD-archive",
        "timeZone": "UTC",
        "automaticRepliesSetting": {"status": "disabled"},
        "language": {"locale": "en-US", "displayName": "English (United States)"},
        "dateFormat": "M/d/yyyy",
        "timeFormat": "h:mm tt",
        "userPurpose": box.user_purpose,
        "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
    }
    if select:
        settings = {k: v for k, v in settings.items() if k in select.split(",")}
    return {"@odata.context": "…/$metadata#users('…')/mailboxSettings", **settings}


def removed_json(message_id: str) -> dict:
    return {
        "@odata.type": "#microsoft.graph.message",
        "id": message_id,
        "@removed": {"reason": "deleted"},
    }


def pkce_matches(grant: Grant, verifier: str) -> bool:
    """Check the code_verifier against the authorize request's S256 challenge."""
    if grant.code_challenge is None:
        return True
    if grant.code_challenge_method != "S256":
        return verifier == grant.code_challenge
    return b64url(hashlib.sha256(verifier.encode()).digest()) == grant.code_challenge


class Handler(BaseHTTPRequestHandler):
    """Pass each request to the server's FakeMicrosoft and write its Reply."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm and delayed ACKs
    # each response would stall ~40 ms.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.fake.handle(method, self.path, headers, body)  # type: ignore[attr-defined]
        if reply.lost:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload, content_type = reply.encoded()
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        # Keep pytest output clean; `FakeMicrosoft.requests` records Graph traffic.
        pass


def tls_context(directory: Path) -> ssl.SSLContext:
    """Return a server context whose certificate a verifying client trusts via ca.pem.

    tests/integration/servers.py's self-signed certificate is not enough here: it is not
    marked as a CA, and OpenSSL refuses such a certificate as a trust anchor, whereas msal
    and requests verify. So: a throwaway CA (ca.pem) signs a leaf for 127.0.0.1/localhost.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crm-test fake CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "cert.pem").write_bytes(leaf.public_bytes(pem))
    (directory / "key.pem").write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


@contextmanager
def running_fake_microsoft(directory: Path) -> Iterator[FakeMicrosoft]:
    """Start a FakeMicrosoft under `directory` (certificate files) and stop it afterwards."""
    directory.mkdir(parents=True, exist_ok=True)
    fake = FakeMicrosoft(directory)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
