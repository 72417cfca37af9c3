"""Fake Google's OAuth 2.0 endpoints and the Gmail API subset the CRM uses, on a local port.

One plain-http server plays accounts.google.com, oauth2.googleapis.com and
gmail.googleapis.com:

- OAuth (`/o/oauth2/v2/auth`, `/token`, `/revoke`): an authorize endpoint that consents at
  once and redirects back with a code (or `mint_code()` to skip the browser), the token
  endpoint with PKCE and Basic or body client authentication, refresh with switches for
  invalid_grant, token rotation and Testing-mode refresh tokens that die after 7 days;
- Gmail (`/gmail/v1/users/{userId}/...`): getProfile, labels, messages.list (labelIds,
  q=rfc822msgid:), messages.get (minimal, metadata, raw), history.list with paging and a
  404 for history that has expired, messages.send (JSON and media upload) filing into SENT,
  settings/sendAs, sent mail handed on to an SMTP server when `onward` names one (as Gmail
  delivers to the recipients' servers), and injected errors (401, 403 with errors[].reason,
  429, 5xx);
- Google's HTTP batch endpoint (`POST /batch/gmail/v1`, multipart/mixed of application/http
  parts, up to 100): each part is answered as a call of its own, in a multipart/mixed answer
  whose parts carry `Content-ID: <response-ITEM>`;
- the per-user quota (`quota_per_second`, 250 by default, None to switch it off): each call,
  also each part of a batch, costs its method's units (messages.list and .get 5,
  history.list 2, messages.send 100, the rest 1) from a token bucket of one second's units;
  a call beyond it is answered 429 rateLimitExceeded with a Retry-After and counted in
  `quota_refusals`; `mailbox(address).units_used` is what was spent.

Wire formats follow Google's OAuth 2.0 and Gmail API v1 references: ids and
historyIds are strings, empty repeated fields are left out, errors have Google's body.
State is in memory and belongs to one test; mailboxes are fed raw RFC 822 bytes. Plain http
means tests set OAUTHLIB_INSECURE_TRANSPORT=1 for google-auth-oauthlib.
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import email.utils
import hashlib
import itertools
import json
import math
import random
import re
import secrets
import smtplib
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"
GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"
GMAIL_SETTINGS_BASIC = "https://www.googleapis.com/auth/gmail.settings.basic"
GMAIL_MODIFY = "https://www.googleapis.com/auth/gmail.modify"
GMAIL_COMPOSE = "https://www.googleapis.com/auth/gmail.compose"
GMAIL_FULL = "https://mail.google.com/"
USERINFO_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
DEFAULT_SCOPES = (GMAIL_READONLY, GMAIL_SEND, GMAIL_SETTINGS_BASIC, "openid", USERINFO_EMAIL)
IDENTITY_SCOPES = {"openid", "email", "profile", USERINFO_EMAIL}
# Which scopes let a token call each group of Gmail methods.
SCOPES_FOR = {
    "read": {GMAIL_READONLY, GMAIL_MODIFY, GMAIL_FULL},
    "send": {GMAIL_SEND, GMAIL_COMPOSE, GMAIL_MODIFY, GMAIL_FULL},
    "settings": {GMAIL_READONLY, GMAIL_SETTINGS_BASIC, GMAIL_MODIFY, GMAIL_FULL},
}
SYSTEM_LABELS = ("INBOX", "SENT", "DRAFT", "SPAM", "TRASH", "UNREAD", "STARRED", "IMPORTANT")
ACCESS_TOKEN_SECONDS = 3599
TESTING_MODE_SECONDS = 7 * 24 * 3600
CODE_SECONDS = 600
EXPIRED_OR_REVOKED = "Token has been expired or revoked."
# Google's status names and default reasons per HTTP status.
STATUS_NAMES = {
    400: ("INVALID_ARGUMENT", "badRequest"),
    401: ("UNAUTHENTICATED", "authError"),
    403: ("PERMISSION_DENIED", "forbidden"),
    404: ("NOT_FOUND", "notFound"),
    429: ("RESOURCE_EXHAUSTED", "rateLimitExceeded"),
    500: ("INTERNAL", "backendError"),
    502: ("UNAVAILABLE", "backendError"),
    503: ("UNAVAILABLE", "backendError"),
    504: ("DEADLINE_EXCEEDED", "backendError"),
}
DEFAULT_MESSAGES = {
    400: "Bad Request",
    401: "Request had invalid authentication credentials. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: "Too many concurrent requests for user.",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
}
# Google's per-user quota: 250 units a second as a moving average that allows short bursts,
# played as a token bucket of one second's units refilled continuously. Each call costs its
# method's units, also inside a batch request; a call beyond the quota is refused with 429
# rateLimitExceeded and a Retry-After of whole seconds, and costs nothing.
QUOTA_PER_SECOND = 250.0
QUOTA_BURST = 250.0
BATCH_PATH = "/batch/gmail/v1"
BATCH_LIMIT = 100
REASON_MESSAGES = {
    "userRateLimitExceeded": "User Rate Limit Exceeded",
    "rateLimitExceeded": "Rate Limit Exceeded",
    "dailyLimitExceeded": "Daily Limit Exceeded",
}


# -- replies ---------------------------------------------------------------------------------


@dataclass
class Reply:
    """One HTTP answer: status, JSON (or raw) body, extra headers."""

    status: int
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, self.content_type or "text/html; charset=UTF-8"
        return json.dumps(self.body).encode(), "application/json; charset=UTF-8"


def google_error(
    status: int, message: str | None = None, reason: str | None = None, headers=None
) -> Reply:
    """Return an error in the shape every Gmail API status uses."""
    status_name, default_reason = STATUS_NAMES.get(status, ("UNKNOWN", "backendError"))
    reason = reason or default_reason
    message = message or REASON_MESSAGES.get(reason) or DEFAULT_MESSAGES.get(status, "Error")
    detail = {"message": message, "domain": "global", "reason": reason}
    if reason in REASON_MESSAGES:
        detail["domain"] = "usageLimits"
    if status == 401:
        detail.update(location="Authorization", locationType="header")
    body = {
        "error": {"code": status, "message": message, "errors": [detail], "status": status_name}
    }
    return Reply(status, body, dict(headers or {}))


def oauth_error(status: int, error: str, description: str) -> Reply:
    """Return an OAuth token-endpoint error ({"error", "error_description"})."""
    return Reply(status, {"error": error, "error_description": description})


def b64url(data: bytes) -> str:
    """Encode as base64url without padding, as Gmail does."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(value: str) -> bytes:
    """Decode base64url that may lack padding; raise ValueError when it is not base64."""
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(str(exc)) from exc


def pkce_challenge(verifier: str) -> str:
    """Return the S256 code challenge of a PKCE code verifier."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


# -- mailbox model ---------------------------------------------------------------------------


def raw_headers(raw: bytes) -> list[tuple[str, str]]:
    """Return (name, unfolded value) pairs as stored, encoded words left as they are."""
    parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    pairs = []
    for name, value in parsed.raw_items():
        # 8-bit header bytes come back as surrogate escapes; JSON needs real text.
        text = value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
        pairs.append((name, re.sub(r"\r?\n(?=[ \t])", "", text).strip()))
    return pairs


def header_value(headers: list[tuple[str, str]], name: str) -> str:
    """Return the first value of a header, or ""."""
    return next((v for n, v in headers if n.lower() == name.lower()), "")


@dataclass
class StoredMessage:
    """One message in a fake Gmail account."""

    id: str
    thread_id: str
    raw: bytes
    labels: list[str]
    internal_date: int  # epoch milliseconds
    history_id: int
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def message_id(self) -> str:
        return header_value(self.headers, "Message-ID")

    def ref(self) -> dict:
        return {"id": self.id, "threadId": self.thread_id}

    def summary(self) -> dict:
        """Return id, threadId and labelIds (left out when empty), as history shows them."""
        data = self.ref()
        if self.labels:
            data["labelIds"] = list(self.labels)
        return data

    def resource(self, format: str, metadata_headers: list[str]) -> dict:
        """Return messages.get's body in the given format (minimal, metadata or raw)."""
        data = self.summary()
        data.update(
            snippet=snippet(self.raw),
            historyId=str(self.history_id),
            internalDate=str(self.internal_date),
            sizeEstimate=len(self.raw),
        )
        if format == "metadata":
            wanted = {h.lower() for h in metadata_headers}
            headers = [
                {"name": n, "value": v}
                for n, v in self.headers
                if not wanted or n.lower() in wanted
            ]
            data["payload"] = {"headers": headers} if headers else {}
        elif format == "raw":
            data["raw"] = b64url(self.raw)
        return data


def snippet(raw: bytes) -> str:
    """Return the first words of the plain-text body, roughly as Gmail's snippet."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
    except Exception:  # a fake should not fail on the odd message it was fed
        text = ""
    return " ".join(str(text).split())[:100]


@dataclass
class HistoryRecord:
    """One change: messageAdded, messageDeleted, labelAdded or labelRemoved."""

    id: int
    kind: str
    message: dict  # id, threadId and labelIds as of the change
    labels: frozenset[str]  # the message's labels before and after, for labelId filters
    changed: tuple[str, ...] = ()

    def resource(self) -> dict:
        key = {
            "messageAdded": "messagesAdded",
            "messageDeleted": "messagesDeleted",
            "labelAdded": "labelsAdded",
            "labelRemoved": "labelsRemoved",
        }[self.kind]
        entry: dict = {"message": dict(self.message)}
        if self.kind == "messageDeleted":
            entry["message"].pop("labelIds", None)
        if self.changed:
            entry["labelIds"] = list(self.changed)
        ref = {"id": self.message["id"], "threadId": self.message["threadId"]}
        return {"id": str(self.id), "messages": [ref], key: [entry]}


@dataclass
class FakeMailbox:
    """A Gmail account's messages, history and send-as addresses."""

    email: str
    rng: random.Random
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    history: list[HistoryRecord] = field(default_factory=list)
    history_id: int = 0
    # startHistoryIds below this answer 404, as when Google has dropped old history.
    history_floor: int = 0
    send_as: list[dict] = field(default_factory=list)
    user_labels: dict[str, str] = field(default_factory=dict)
    # The per-user quota's token bucket (FakeGoogle.quota_per_second) and what was spent.
    quota_tokens: float = QUOTA_BURST
    quota_stamp: float = field(default_factory=time.monotonic)
    units_used: int = 0

    def __post_init__(self) -> None:
        self.history_id = self.rng.randrange(100_000, 900_000)
        self.history_floor = self.history_id
        self.send_as.append(
            {
                "sendAsEmail": self.email,
                "displayName": "",
                "replyToAddress": "",
                "signature": "",
                "isPrimary": True,
                "isDefault": True,
            }
        )

    def next_history_id(self) -> int:
        # Real history ids grow but are not contiguous; gaps catch clients that add one.
        self.history_id += self.rng.randrange(1, 9)
        return self.history_id

    def record(self, kind: str, message: StoredMessage, before: list[str], changed=()) -> None:
        record_id = self.next_history_id()
        message.history_id = record_id
        labels = frozenset(before) | frozenset(message.labels)
        self.history.append(HistoryRecord(record_id, kind, message.summary(), labels, changed))

    def listed(self, label_ids: list[str], include_spam_trash: bool) -> list[StoredMessage]:
        """Return messages carrying every label, newest first, as messages.list orders them."""
        hidden = set() if include_spam_trash else {"SPAM", "TRASH"}
        found = [
            m
            for m in self.messages.values()
            if all(label in m.labels for label in label_ids)
            and not hidden & (set(m.labels) - set(label_ids))
        ]
        return sorted(found, key=lambda m: (m.internal_date, m.id), reverse=True)


# -- grants and tokens -----------------------------------------------------------------------


@dataclass
class Grant:
    """What one consent gave one client: scopes, and the refresh token that carries them."""

    email: str
    client_id: str
    scopes: set[str]
    refresh_token: str
    granted_at: float
    refresh_expires_at: float | None = None
    revoked: bool = False


@dataclass
class AccessToken:
    token: str
    grant: Grant
    expires_at: float


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    email: str
    scopes: set[str]
    challenge: str | None
    challenge_method: str | None
    offline: bool
    expires_at: float
    used: bool = False


@dataclass
class Fault:
    """An error to answer instead of the real reply, `times` times."""

    status: int
    reason: str | None
    path: str
    method: str | None
    times: int
    retry_after: str | None
    message: str | None

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.path in path and self.method in (None, method)


@dataclass
class RecordedRequest:
    """One request the fake answered, for assertions."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class SentMessage:
    """One message sent through messages.send, with whom Gmail delivered it to."""

    email: str
    id: str
    recipients: list[str]
    raw: bytes


class FakeGoogle:
    """Google's OAuth server and the Gmail API in one threaded local HTTP server.

    Switches a test may set: `signed_in_email` (who consents at the authorize endpoint,
    unless login_hint names someone), `declined_scopes` (boxes the user unticks),
    `deny_consent`, `refresh_error` (e.g. "invalid_grant" for every refresh), `testing_mode`
    (refresh tokens die 7 days after consent), `rotate_refresh_tokens`,
    `rewrite_message_id` (Gmail replaces a client-set Message-ID). `advance()` moves the
    fake's clock; `inject()` queues error answers.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.client_id = f"{secrets.randbelow(10**12)}-fake.apps.googleusercontent.com"
        self.client_secret = "GOCSPX-" + secrets.token_urlsafe(18)
        self.rng = random.Random(secrets.randbits(32))
        self.mailboxes: dict[str, FakeMailbox] = {}
        self.codes: dict[str, AuthCode] = {}
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.faults: list[Fault] = []
        self.requests: list[RecordedRequest] = []
        self.outbox: list[SentMessage] = []
        self.clock_offset = 0.0
        self.signed_in_email = "ana@example.test"
        self.declined_scopes: set[str] = set()
        self.deny_consent = False
        self.refresh_error: str | None = None
        self.testing_mode = False
        self.rotate_refresh_tokens = False
        self.rewrite_message_id = False
        # Where Gmail hands sent mail on, as it does to each recipient's mail server: an SMTP
        # server (host, port, user, password) that receives every messages.send, or None.
        self.onward: tuple[str, int, str, str] | None = None
        # Requests whose path contains one of these are carried out, then the connection is
        # dropped before the answer (a lost reply); each entry counts down per request.
        self.lost_replies: dict[str, int] = {}
        # The per-user quota (None: not enforced) and how many calls it refused.
        self.quota_per_second: float | None = QUOTA_PER_SECOND
        self.quota_refusals = 0
        self._ids = itertools.count(self.rng.randrange(1 << 40, 1 << 41))
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- server --------------------------------------------------------------------------

    def start(self) -> FakeGoogle:
        """Listen on a free loopback port in a background thread."""
        fake = self

        class Handler(GoogleHandler):
            pass

        Handler.fake = fake
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval makes stop() quick; the default half second adds up per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def auth_uri(self) -> str:
        return self.base_url + "/o/oauth2/v2/auth"

    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"

    @property
    def revoke_uri(self) -> str:
        return self.base_url + "/revoke"

    @property
    def api_base(self) -> str:
        return self.base_url + "/"

    def client_config(self) -> dict:
        """Return a "web" client config pointing google-auth-oauthlib at this fake."""
        return {
            "web": {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "auth_uri": self.auth_uri,
                "token_uri": self.token_uri,
            }
        }

    # -- test helpers --------------------------------------------------------------------

    def now(self) -> float:
        """Return the fake's clock (epoch seconds), which `advance()` moves."""
        return time.time() + self.clock_offset

    def advance(self, seconds: float = 0, *, days: float = 0) -> None:
        """Move the fake's clock forward, e.g. past a Testing-mode refresh token's end."""
        self.clock_offset += seconds + days * 86400

    def mailbox(self, address: str | None = None) -> FakeMailbox:
        """Return (creating if needed) the Gmail account of `address`."""
        address = (address or self.signed_in_email).lower()
        with self.lock:
            if address not in self.mailboxes:
                self.mailboxes[address] = FakeMailbox(address, random.Random(self.rng.random()))
            return self.mailboxes[address]

    def issue_tokens(self, address: str | None = None, scopes=DEFAULT_SCOPES) -> dict:
        """Grant `scopes` to the fake's client without the browser dance; return the tokens.

        Returns {"access_token", "refresh_token", "expiry" (aware UTC), "scope"}.
        """
        with self.lock:
            grant = self._new_grant((address or self.signed_in_email).lower(), set(scopes))
            access = self._new_access_token(grant)
            return {
                "access_token": access.token,
                "refresh_token": grant.refresh_token,
                "expiry": datetime.fromtimestamp(access.expires_at, UTC),
                "scope": " ".join(sorted(grant.scopes)),
            }

    def adapter_settings(self, address: str) -> dict:
        """Fresh tokens for `address` and this fake's endpoints, as the Gmail adapter's
        settings name them (GmailSettings' fields)."""
        tokens = self.issue_tokens(address)
        return {
            "email": address,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "token_uri": self.token_uri,
            "api_base": self.api_base,
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "token_expiry": tokens["expiry"],
            "scopes": tuple(tokens["scope"].split()),
        }

    def inbox_secret(self, address: str) -> dict:
        """Tokens for `address`, shaped as a connected Gmail inbox stores them (`secret`)."""
        tokens = self.issue_tokens(address)
        return {**tokens, "expiry": tokens["expiry"].isoformat()}

    def mint_code(
        self,
        redirect_uri: str,
        *,
        address: str | None = None,
        scopes=DEFAULT_SCOPES,
        code_challenge: str | None = None,
        offline: bool = True,
    ) -> str:
        """Return an authorization code as if the user had just consented."""
        with self.lock:
            code = "4/0A" + secrets.token_urlsafe(24)
            self.codes[code] = AuthCode(
                code=code,
                client_id=self.client_id,
                redirect_uri=redirect_uri,
                email=(address or self.signed_in_email).lower(),
                scopes=set(scopes),
                challenge=code_challenge,
                challenge_method="S256" if code_challenge else None,
                offline=offline,
                expires_at=self.now() + CODE_SECONDS,
            )
            return code

    def expire_access_tokens(self) -> None:
        """Make every access token handed out so far answer 401."""
        with self.lock:
            for access in self.access_tokens.values():
                access.expires_at = self.now() - 1

    def grant_for(self, refresh_token: str) -> Grant:
        """Return the grant behind a refresh token."""
        return self.grants[refresh_token]

    def add_message(
        self,
        raw: bytes,
        labels=("INBOX", "UNREAD"),
        *,
        address: str | None = None,
        internal_date: datetime | None = None,
        thread_id: str | None = None,
    ) -> str:
        """Deliver raw RFC 822 bytes to the account with `labels`; return the Gmail id."""
        with self.lock:
            box = self.mailbox(address)
            message_id = f"{next(self._ids):x}"
            when = internal_date or datetime.fromtimestamp(self.now(), UTC)
            message = StoredMessage(
                id=message_id,
                thread_id=thread_id or message_id,
                raw=raw,
                labels=list(labels),
                internal_date=int(when.timestamp() * 1000),
                history_id=box.history_id,
                headers=raw_headers(raw),
            )
            box.messages[message_id] = message
            box.record("messageAdded", message, [])
            return message_id

    def delete_message(self, message_id: str, *, address: str | None = None) -> None:
        """Delete a message for good (not to Trash), recording messageDeleted."""
        with self.lock:
            box = self.mailbox(address)
            message = box.messages.pop(message_id)
            box.record("messageDeleted", message, list(message.labels))

    def modify_labels(self, message_id: str, add=(), remove=(), *, address=None) -> None:
        """Add and remove labels on a message, recording labelAdded / labelRemoved."""
        with self.lock:
            box = self.mailbox(address)
            message = box.messages[message_id]
            before = list(message.labels)
            removed = [label for label in remove if label in message.labels]
            added = [label for label in add if label not in message.labels]
            if removed:
                message.labels = [label for label in message.labels if label not in removed]
                box.record("labelRemoved", message, before, tuple(removed))
            if added:
                before = list(message.labels)
                message.labels = message.labels + added
                box.record("labelAdded", message, before, tuple(added))

    def expire_history(self, address: str | None = None) -> None:
        """Drop the account's history: older startHistoryIds now answer 404."""
        with self.lock:
            box = self.mailbox(address)
            # The mailbox's current historyId stays valid (getProfile hands it out), so the
            # floor moves past every id a client could have stored before.
            box.history_floor = box.next_history_id()
            box.history.clear()

    def add_send_as(
        self,
        send_as_email: str,
        display_name: str = "",
        verification_status: str = "accepted",
        *,
        address: str | None = None,
    ) -> None:
        """Add a "Send mail as" address to the account's settings."""
        with self.lock:
            self.mailbox(address).send_as.append(
                {
                    "sendAsEmail": send_as_email,
                    "displayName": display_name,
                    "replyToAddress": "",
                    "signature": "",
                    "isPrimary": False,
                    "treatAsAlias": True,
                    "verificationStatus": verification_status,
                }
            )

    def inject(
        self,
        status: int,
        reason: str | None = None,
        *,
        path: str = "/gmail/v1/",
        method: str | None = None,
        times: int = 1,
        retry_after: str | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next `times` requests whose path contains `path` with an error."""
        with self.lock:
            self.faults.append(Fault(status, reason, path, method, times, retry_after, message))

    def lose_replies(self, path: str, times: int = 1) -> None:
        """Carry out the next `times` requests whose path contains `path`, then drop the
        connection without answering: the client cannot tell whether they took effect."""
        with self.lock:
            self.lost_replies[path] = times

    def reply_lost(self, path: str) -> bool:
        """Whether the answer to this request is to be lost (counting it down)."""
        with self.lock:
            for part, left in self.lost_replies.items():
                if left > 0 and part in path:
                    self.lost_replies[part] = left - 1
                    return True
        return False

    def api_requests(self, suffix: str = "") -> list[RecordedRequest]:
        """Return the Gmail API requests whose path ends with `suffix`."""
        return [r for r in self.requests if "/gmail/v1/" in r.path and r.path.endswith(suffix)]

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Return the requests made to exactly this path (say the batch endpoint's)."""
        return [r for r in self.requests if r.path == path]

    def token_requests(self, grant_type: str) -> list[RecordedRequest]:
        """Return the token-endpoint requests of one grant type."""
        return [
            r
            for r in self.requests
            if r.path == "/token" and parse_qs(r.body.decode()).get("grant_type") == [grant_type]
        ]

    # -- dispatch ------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one request; the handler thread calls this under the lock."""
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query, keep_blank_values=True)
        with self.lock:
            self.requests.append(RecordedRequest(method, path, query, headers, body))
            fault = self._take_fault(method, path)
            if fault is not None:
                return fault
            if path == "/o/oauth2/v2/auth" and method == "GET":
                return self._authorize(query)
            if path == "/token" and method == "POST":
                return self._token(parse_form(body), headers)
            if path == "/revoke" and method == "POST":
                return self._revoke(parse_form(body) or query)
            if path == BATCH_PATH and method == "POST":
                return self._batch(headers, body)
            match = re.fullmatch(r"/(upload/)?gmail/v1/users/([^/]+)/(.+)", path)
            if match:
                upload, user_id, rest = match.groups()
                return self._gmail(method, unquote(user_id), rest, query, headers, body, upload)
            return Reply(404, b"<html><title>Error 404 (Not Found)!!1</title></html>")

    def _take_fault(self, method: str, path: str) -> Reply | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.times -= 1
                extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return google_error(fault.status, fault.message, fault.reason, extra)
        return None

    # -- OAuth ---------------------------------------------------------------------------

    def _authorize(self, query: dict) -> Reply:
        """Consent at once and redirect to redirect_uri with a code, like a user clicking Allow."""
        q = {k: v[0] for k, v in query.items()}
        if q.get("client_id") != self.client_id:
            return Reply(401, b"<html>Error 401: invalid_client</html>")
        redirect_uri = q.get("redirect_uri", "")
        if q.get("response_type") != "code" or not redirect_uri:
            return Reply(400, b"<html>Error 400: invalid_request</html>")
        state = {"state": q["state"]} if "state" in q else {}
        if self.deny_consent:
            return redirect(redirect_uri, {"error": "access_denied", **state})
        address = (q.get("login_hint") or self.signed_in_email).lower()
        scopes = set(q.get("scope", "").split()) - self.declined_scopes
        if q.get("include_granted_scopes") == "true":
            scopes |= self._earlier_scopes(address)
        code = self.mint_code(
            redirect_uri,
            address=address,
            scopes=scopes,
            code_challenge=q.get("code_challenge"),
            offline=q.get("access_type") == "offline",
        )
        self.codes[code].challenge_method = q.get("code_challenge_method") or (
            "plain" if q.get("code_challenge") else None
        )
        return redirect(redirect_uri, {**state, "code": code, "scope": " ".join(sorted(scopes))})

    def _earlier_scopes(self, address: str) -> set[str]:
        scopes: set[str] = set()
        for grant in self.grants.values():
            if grant.email == address and grant.client_id == self.client_id and not grant.revoked:
                scopes |= grant.scopes
        return scopes

    def _client_ok(self, form: dict, headers: dict[str, str]) -> bool:
        """Check client credentials from HTTP Basic (requests-oauthlib) or the form."""
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(auth[6:]).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            client_id, _, secret = decoded.partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        return client_id == self.client_id and secret == self.client_secret

    def _token(self, form: dict, headers: dict[str, str]) -> Reply:
        if not self._client_ok(form, headers):
            return oauth_error(401, "invalid_client", "Unauthorized")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._redeem_code(form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        return oauth_error(400, "unsupported_grant_type", "Invalid grant_type: " + str(grant_type))

    def _redeem_code(self, form: dict) -> Reply:
        code = self.codes.get(form.get("code", ""))
        if code is None or code.used or self.now() > code.expires_at:
            return oauth_error(400, "invalid_grant", "Bad Request")
        if form.get("redirect_uri") != code.redirect_uri:
            return oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        if code.challenge:
            verifier = form.get("code_verifier")
            if not verifier:
                return oauth_error(400, "invalid_grant", "Missing code verifier.")
            expected = pkce_challenge(verifier) if code.challenge_method == "S256" else verifier
            if not secrets.compare_digest(expected, code.challenge):
                return oauth_error(400, "invalid_grant", "Invalid code verifier.")
        code.used = True
        grant = self._new_grant(code.email, code.scopes)
        return Reply(200, self._token_body(grant, with_refresh_token=code.offline))

    def _refresh(self, form: dict) -> Reply:
        grant = self.grants.get(form.get("refresh_token", ""))
        if self.refresh_error:
            return oauth_error(400, self.refresh_error, EXPIRED_OR_REVOKED)
        if grant is None or grant.revoked:
            return oauth_error(400, "invalid_grant", EXPIRED_OR_REVOKED)
        if grant.refresh_expires_at is not None and self.now() >= grant.refresh_expires_at:
            return oauth_error(400, "invalid_grant", EXPIRED_OR_REVOKED)
        if grant.client_id != self.client_id:
            return oauth_error(400, "unauthorized_client", "Unauthorized")
        asked = set(form.get("scope", "").split())
        if not asked <= grant.scopes:
            return oauth_error(400, "invalid_scope", "Bad Request")
        if self.rotate_refresh_tokens:
            del self.grants[grant.refresh_token]
            grant.refresh_token = "1//0g" + secrets.token_urlsafe(32)
            self.grants[grant.refresh_token] = grant
        return Reply(200, self._token_body(grant, with_refresh_token=self.rotate_refresh_tokens))

    def _token_body(self, grant: Grant, with_refresh_token: bool) -> dict:
        access = self._new_access_token(grant)
        body = {
            "access_token": access.token,
            "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": " ".join(sorted(grant.scopes)),
            "token_type": "Bearer",
        }
        if with_refresh_token:
            body["refresh_token"] = grant.refresh_token
        if "openid" in grant.scopes:
            body["id_token"] = self._id_token(grant)
        return body

    def _new_grant(self, address: str, scopes: set[str]) -> Grant:
        now = self.now()
        grant = Grant(
            email=address,
            client_id=self.client_id,
            scopes=set(scopes),
            refresh_token="1//0g" + secrets.token_urlsafe(32),
            granted_at=now,
        )
        if self.testing_mode and not grant.scopes <= IDENTITY_SCOPES:
            grant.refresh_expires_at = now + TESTING_MODE_SECONDS
        self.grants[grant.refresh_token] = grant
        self.mailbox(address)
        return grant

    def _new_access_token(self, grant: Grant) -> AccessToken:
        access = AccessToken(
            "ya29.a0" + secrets.token_urlsafe(40), grant, self.now() + ACCESS_TOKEN_SECONDS
        )
        self.access_tokens[access.token] = access
        return access

    def _id_token(self, grant: Grant) -> str:
        """Return an unsigned-looking JWT with Google's claims (nobody checks the signature)."""
        now = int(self.now())
        header = {"alg": "RS256", "kid": "fake", "typ": "JWT"}
        claims = {
            "iss": "https://accounts.google.com",
            "azp": self.client_id,
            "aud": self.client_id,
            "sub": str(int(hashlib.sha256(grant.email.encode()).hexdigest()[:15], 16)),
            "email": grant.email,
            "email_verified": True,
            "iat": now,
            "exp": now + ACCESS_TOKEN_SECONDS,
        }
        parts = [json.dumps(header).encode(), json.dumps(claims).encode(), b"fake-signature"]
        return ".".join(b64url(part) for part in parts)

    def _revoke(self, form: dict) -> Reply:
        token = form.get("token", "")
        if isinstance(token, list):
            token = token[0]
        grant = self.grants.get(token)
        if grant is None and token in self.access_tokens:
            grant = self.access_tokens[token].grant
        if grant is None or grant.revoked:
            return oauth_error(400, "invalid_token", "Token expired or revoked")
        grant.revoked = True
        return Reply(200, {})

    # -- Gmail ---------------------------------------------------------------------------

    def _bearer(self, headers: dict[str, str]) -> AccessToken | None:
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return None
        access = self.access_tokens.get(auth[7:].strip())
        if access is None or access.grant.revoked or self.now() >= access.expires_at:
            return None
        return access

    def _gmail(self, method, user_id, rest, query, headers, body, upload) -> Reply:
        access = self._bearer(headers)
        if access is None:
            return google_error(
                401, headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
            )
        address = access.grant.email
        if user_id != "me" and user_id.lower() != address:
            return google_error(403, f"Delegation denied for {address}", "forbidden")
        box = self.mailbox(address)
        route = self._route(method, rest, bool(upload))
        if route is None:
            return google_error(404)
        needed, units, handler = route
        if not SCOPES_FOR[needed] & access.grant.scopes:
            return insufficient_scopes()
        refused = self._charge(box, units)
        if refused is not None:
            return refused
        return handler(box, rest, query, headers, body)

    def _charge(self, box: FakeMailbox, units: int) -> Reply | None:
        """Take a call's units from the account's quota, or refuse it as Google does."""
        rate = self.quota_per_second
        if rate is not None:
            now = time.monotonic()
            box.quota_tokens = min(QUOTA_BURST, box.quota_tokens + (now - box.quota_stamp) * rate)
            box.quota_stamp = now
            if box.quota_tokens < units:
                self.quota_refusals += 1
                wait = math.ceil((units - box.quota_tokens) / rate)
                return google_error(
                    429,
                    "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute "
                    "per user' of service 'gmail.googleapis.com'.",
                    "rateLimitExceeded",
                    {"Retry-After": str(max(1, wait))},
                )
            box.quota_tokens -= units
        box.units_used += units
        return None

    def _batch(self, headers: dict[str, str], body: bytes) -> Reply:
        """Answer Google's HTTP batch request: each application/http part is a call of its
        own (its own quota units, faults and answer), under the outer request's headers."""
        match = re.fullmatch(
            r'\s*multipart/mixed\s*;.*boundary="?([^";]+)"?.*', headers.get("content-type", "")
        )
        if match is None:
            return google_error(400, "Batch requests must be multipart/mixed with a boundary")
        parts = []
        for chunk in body.split(b"--" + match.group(1).encode())[1:]:
            if chunk.startswith(b"--"):
                break
            parts.append(chunk.lstrip(b"\r\n"))
        if not parts or len(parts) > BATCH_LIMIT:
            return google_error(400, f"A batch request takes 1 to {BATCH_LIMIT} calls")
        shared = {k: v for k, v in headers.items() if not k.startswith("content-")}
        boundary = "batch_" + secrets.token_urlsafe(12)
        out = []
        for part in parts:
            head, http = split_head(part)
            content_id = re.search(rb"(?im)^content-id:\s*<?([^>\r\n]*)>?", head)
            request, inner_body = split_head(http)
            lines = request.decode("utf-8", "replace").splitlines()
            words = lines[0].split() if lines else []
            if len(words) != 3 or not words[2].startswith("HTTP/"):
                reply = google_error(400, "Each part must be one application/http request")
            elif words[1].startswith(BATCH_PATH):
                reply = google_error(400, "Batch requests cannot be nested")
            else:
                inner = dict(shared)
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    inner[name.strip().lower()] = value.strip()
                reply = self.handle(words[0], words[1], inner, inner_body.rstrip(b"\r\n"))
            payload, content_type = reply.encoded()
            extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
            name = f"response-{content_id.group(1).decode()}" if content_id else ""
            out.append(
                f"--{boundary}\r\nContent-Type: application/http\r\n"
                f"Content-ID: <{name}>\r\n\r\n"
                f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}\r\n"
                f"Content-Type: {content_type}\r\n{extra}"
                f"Content-Length: {len(payload)}\r\n\r\n".encode()
                + payload
                + b"\r\n"
            )
        out.append(f"--{boundary}--\r\n".encode())
        return Reply(200, b"".join(out), content_type=f"multipart/mixed; boundary={boundary}")

    def _route(self, method: str, rest: str, upload: bool):
        # (method, path, scope group, quota units, handler); units from Google's quota page.
        routes = [
            ("GET", r"profile", "read", 1, self._profile),
            ("GET", r"labels", "read", 1, self._labels),
            ("GET", r"labels/[^/]+", "read", 1, self._label),
            ("GET", r"messages", "read", 5, self._list),
            ("GET", r"messages/[^/]+", "read", 5, self._get),
            ("POST", r"messages/send", "send", 100, self._send),
            ("GET", r"history", "read", 2, self._history),
            ("GET", r"settings/sendAs", "settings", 1, self._send_as),
        ]
        for route_method, pattern, needed, units, handler in routes:
            if upload and pattern != "messages/send":
                continue
            if method == route_method and re.fullmatch(pattern, rest):
                return needed, units, handler
        return None

    def _profile(self, box: FakeMailbox, rest, query, headers, body) -> Reply:
        threads = {m.thread_id for m in box.messages.values()}
        return Reply(
            200,
            {
                "emailAddress": box.email,
                "messagesTotal": len(box.messages),
                "threadsTotal": len(threads),
                "historyId": str(box.history_id),
            },
        )

    def _labels(self, box: FakeMailbox, rest, query, headers, body) -> Reply:
        labels = [{"id": label, "name": label, "type": "system"} for label in SYSTEM_LABELS] + [
            {"id": key, "name": name, "type": "user"} for key, name in box.user_labels.items()
        ]
        return Reply(200, {"labels": labels})

    def _label(self, box: FakeMailbox, rest, query, headers, body) -> Reply:
        label = unquote(rest.split("/", 1)[1])
        if label not in SYSTEM_LABELS and label not in box.user_labels:
            return google_error(404)
        tagged = [m for m in box.messages.values() if label in m.labels]
        unread = [m for m in tagged if "UNREAD" in m.labels]
        return Reply(
            200,
            {
                "id": label,
                "name": box.user_labels.get(label, label),
                "type": "system" if label in SYSTEM_LABELS else "user",
                "messagesTotal": len(tagged),
                "messagesUnread": len(unread),
                "threadsTotal": len({m.thread_id for m in tagged}),
                "threadsUnread": len({m.thread_id for m in unread}),
            },
        )

    def _list(self, box: FakeMailbox, rest, query, headers, body) -> Reply:
        size = page_size(query, default=100)
        if size is None:
            return google_error(400, "Invalid maxResults")
        include = query.get("includeSpamTrash", ["false"])[0] == "true"
        found = box.listed(query.get("labelIds", []), include)
        q = query.get("q", [""])[0].strip()
        if q:
            match = re.fullmatch(r"rfc822msgid:(\S+)", q)
            if match is None:
                # The fake knows one search operator; anything else would silently match all.
                return google_error(400, f"The fake supports only q=rfc822msgid:, not {q!r}")
            wanted = match.group(1).strip("<>")
            found = [m for m in found if m.message_id.strip().strip("<>") == wanted]
        after = decode_page_token(query)
        if after is not None:
            found = [m for m in found if (m.internal_date, m.id) < after]
        total = len(found)
        page, more = found[:size], len(found) > size
        reply: dict = {}
        if page:
            reply["messages"] = [m.ref() for m in page]
        if more:
            last = page[-1]
            reply["nextPageToken"] = encode_page_token(f"{last.internal_date}:{last.id}")
        reply["resultSizeEstimate"] = total
        return Reply(200, reply)

    def _get(self, box: FakeMailbox, rest, query, headers, body) -> Reply:
        message_id = unquote(rest.split("/", 1)[1])
        if not re.fullmatch(r"[0-9a-f]+", message_id):
            return google_error(400, "Invalid id value", "invalidArgument")
        message = box.messages.get(message_id)
        if message is None:
            return google_error(404)
        format = query.get("format", ["full"])[0]
        if format not in ("minimal", "metadata", "raw"):
            return google_error(400, f"The fake does not implement format={format}")
        return Reply(200, message.resource(format, query.get("metadataHeaders", [])))

    def _send(self, box: FakeMailbox, rest, query, headers, body) -> Reply:
        if query.get("uploadType"):
            if query["uploadType"] != ["media"]:
                return google_error(400, "The fake implements only uploadType=media")
            raw, thread_id = body, None
        else:
            try:
                request = json.loads(body or b"{}")
                raw = b64url_decode(request["raw"])
            except KeyError:
                return google_error(
                    400,
                    "'raw' RFC822 payload message string or uploading message via /upload/* "
                    "URL required",
                    "invalidArgument",
                )
            except ValueError:
                return google_error(400, "Invalid value for ByteString", "invalidArgument")
            thread_id = request.get("threadId")
        recipients = delivery_addresses(raw)
        if not recipients:
            return google_error(400, "Recipient address required", "invalidArgument")
        raw = self._final_message_id(raw)
        labels = ["SENT"] + (["INBOX", "UNREAD"] if box.email in recipients else [])
        if thread_id is not None and not any(
            m.thread_id == thread_id for m in box.messages.values()
        ):
            thread_id = None
        gmail_id = self.add_message(raw, labels, address=box.email, thread_id=thread_id)
        self.outbox.append(SentMessage(box.email, gmail_id, recipients, raw))
        if self.onward:
            deliver_onward(self.onward, box.email, recipients, raw)
        stored = box.messages[gmail_id]
        return Reply(200, {"id": gmail_id, "threadId": stored.thread_id, "labelIds": ["SENT"]})

    def _final_message_id(self, raw: bytes) -> bytes:
        """Keep the client's Message-ID unless told to rewrite it; add one when missing."""
        has_id = header_value(raw_headers(raw), "Message-ID")
        if has_id and not self.rewrite_message_id:
            return raw
        new_id = f"<CA+fake{secrets.token_hex(12)}@mail.gmail.com>".encode()
        if has_id:
            return re.sub(
                rb"(?im)^message-id:[^\r\n]*(\r?\n[ \t][^\r\n]*)*",
                b"Message-ID: " + new_id,
                raw,
                count=1,
            )
        return b"Message-ID: " + new_id + b"\r\n" + raw

    def _history(self, box: FakeMailbox, rest, query, headers, body) -> Reply:
        start = query.get("startHistoryId", [""])[0]
        if not start.isdigit():
            return google_error(400, "Invalid startHistoryId", "invalidArgument")
        if int(start) < box.history_floor:
            return google_error(404)
        size = page_size(query, default=100)
        if size is None:
            return google_error(400, "Invalid maxResults")
        types = set(query.get("historyTypes", [])) or {
            "messageAdded",
            "messageDeleted",
            "labelAdded",
            "labelRemoved",
        }
        label = query.get("labelId", [None])[0]
        after = decode_page_token(query)
        floor = int(after[1]) if after is not None else int(start)
        records = [
            r
            for r in box.history
            if r.id > floor and r.kind in types and (label is None or label in r.labels)
        ]
        page, more = records[:size], len(records) > size
        reply: dict = {}
        if page:
            reply["history"] = [r.resource() for r in page]
        if more:
            reply["nextPageToken"] = encode_page_token(f"0:{page[-1].id}")
        reply["historyId"] = str(box.history_id)
        return Reply(200, reply)

    def _send_as(self, box: FakeMailbox, rest, query, headers, body) -> Reply:
        return Reply(200, {"sendAs": [dict(entry) for entry in box.send_as]})


# -- request helpers -------------------------------------------------------------------------


def insufficient_scopes() -> Reply:
    """Return Google's 403 for a token without the method's scope."""
    reply = google_error(
        403, "Request had insufficient authentication scopes.", "insufficientPermissions"
    )
    reply.body["error"]["errors"][0]["message"] = "Insufficient Permission"
    reply.body["error"]["details"] = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "domain": "googleapis.com",
        }
    ]
    return reply


def split_head(data: bytes) -> tuple[bytes, bytes]:
    """Split a header block from what follows its blank line."""
    blank = re.search(rb"\r?\n\r?\n", data)
    return (data[: blank.start()], data[blank.end() :]) if blank else (data, b"")


def redirect(uri: str, params: dict) -> Reply:
    separator = "&" if "?" in uri else "?"
    return Reply(302, b"", {"Location": uri + separator + urlencode(params)})


def parse_form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def page_size(query: dict, default: int) -> int | None:
    """Return maxResults capped at Gmail's 500, or None when it is not a positive number."""
    value = query.get("maxResults", [str(default)])[0]
    if not value.isdigit() or int(value) < 1:
        return None
    return min(int(value), 500)


def encode_page_token(position: str) -> str:
    return b64url(position.encode())


def decode_page_token(query: dict) -> tuple[int, str] | None:
    """Return the (internalDate, id) position a page token stands for, or None."""
    token = query.get("pageToken", [""])[0]
    if not token:
        return None
    try:
        date, _, last = b64url_decode(token).decode().partition(":")
        return int(date), last
    except (ValueError, UnicodeDecodeError):
        return None


def deliver_onward(server: tuple[str, int, str, str], sender: str, recipients, raw) -> None:
    """Hand a sent message to an SMTP server, envelope from the Gmail account, no Bcc header."""
    host, port, user, password = server
    head, sep, body = raw.partition(b"\r\n\r\n")
    kept = re.sub(rb"(?im)^bcc:.*(?:\r\n[ \t].*)*\r\n?", b"", head + b"\r\n")
    with smtplib.SMTP(host, port, timeout=10) as smtp:
        smtp.login(user, password)
        smtp.sendmail(sender, recipients, kept + b"\r\n" + body if sep else raw)


def delivery_addresses(raw: bytes) -> list[str]:
    """Return the lower-cased addresses in To, Cc and Bcc: whom Gmail delivers to."""
    headers = raw_headers(raw)
    values = [v for n, v in headers if n.lower() in ("to", "cc", "bcc")]
    return [a.lower() for _, a in email.utils.getaddresses(values) if "@" in a]


class GoogleHandler(BaseHTTPRequestHandler):
    """Pass each request to the FakeGoogle set on the subclass."""

    fake: FakeGoogle
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds
    # ~40 ms to every request.
    disable_nagle_algorithm = True
    # Idle keep-alive connections end after this, so stopped fakes leave no threads behind.
    timeout = 10

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.fake.handle(self.command, self.path, headers, body)
        if self.fake.reply_lost(self.path):
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

    do_GET = _answer  # noqa: N815
    do_POST = _answer  # noqa: N815

    def log_message(self, format: str, *args) -> None:
        """Keep test output quiet."""


def start_fake_google() -> FakeGoogle:
    """Start a FakeGoogle on a free loopback port; call stop() when done."""
    return FakeGoogle().start()
