"""Reach a Gmail or Google Workspace inbox through the Gmail REST API (v1).

The API is called with `requests` and a bearer token; google-auth only refreshes the token.
(googleapiclient is deliberately not used: it adds a discovery layer and its own retries,
and its media-upload URLs cannot be pointed at a local fake.) The wire formats are those of
Google's Gmail API v1 and OAuth 2.0 references; tests/fakes/google.py serves the same subset.

Cursors are "init:<historyId>:<pageToken>" while the first listing of a folder is under way
and "h:<historyId>" (or "h:<historyId>:<pageToken>" in the middle of a long history) after.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

import google.auth.exceptions
import google.auth.transport.requests
import google.oauth2.credentials
import requests
import requests.structures

from mailboxes.providers.base import (
    ChangePage,
    FetchedHeader,
    FetchedMessage,
    Folder,
    MailProvider,
    OutgoingMessage,
    ProviderError,
    SendResult,
    Sentence,
    gettext_noop,
)
from mailboxes.providers.gmail_errors import (
    RECONNECT_MESSAGE,
    SERVER_ERROR_RETRY_AFTER,
    api_error,
    connection_error,
    is_rate_limited,
    json_body,
    may_have_arrived,
    refresh_error,
)
from mailboxes.providers.gmail_wire import (
    HistoryChanges,
    PartAnswer,
    api_url,
    b64url_decode,
    b64url_encode,
    call_units,
    can_send,
    check_recipients,
    header_from_metadata,
    parse_cursor,
    require_history_id,
    split_batch,
    with_envelope_bcc,
)
from mailboxes.providers.headers import (
    normalize_message_id,
)
from mailboxes.providers.pacing import QuotaBudget, local_budget

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GMAIL_API_BASE = "https://gmail.googleapis.com/"

# The header fields sync reads, as the IMAP adapter fetches them: threading and addresses,
# plus the automatic-mail markers callers check in FetchedHeader.raw_headers.
METADATA_HEADERS = [
    "Message-ID",
    "In-Reply-To",
    "References",
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Content-Type",
    "Auto-Submitted",
    "X-Autoreply",
    "X-Autorespond",
    "Precedence",
    "X-Auto-Response-Suppress",
]
# Gmail's ceiling for messages.list and history.list pages.
MAX_PAGE = 500
# History pages read per changes() call when few of them carry new mail (label changes on
# a busy account): the cursor then keeps the page token and the next call goes on.
MAX_HISTORY_PAGES = 20
# Bodies up to this size go as JSON {"raw": ...}; larger ones through the media-upload
# endpoint, which takes the message bytes as they are (base64 would add a third, and Google
# does not document a size limit for the JSON form).
JSON_SEND_LIMIT = 4 * 1024 * 1024
# Google's per-user quota: 250 units a second as a moving average, short bursts allowed;
# each call costs its method's units, also inside a batch request (call_units).
QUOTA_UNITS_PER_SECOND = 250.0
# The adapter paces itself at 90% of it, in bursts of at most 200 units, so that the jitter
# between its clock and Google's never tips a call over the quota; every adapter of the same
# account (sync and sender, in any worker) books from one budget (GmailSettings.budget).
PACE_RATE = 0.9 * QUOTA_UNITS_PER_SECOND
PACE_BURST = 200.0
# A booking that would wait longer than this (the account's budget taken by other work, or
# a Retry-After) is given up as a temporary error with this as its retry hint.
MAX_PACE_WAIT = 15.0
# Calls in one HTTP batch request: Google takes up to 50; 40 messages.get cost 200 units,
# the burst we allow ourselves. Raw fetches also stop at BATCH_RAW_BYTES by the sizes the
# headers gave, so one batch answer stays a few megabytes.
BATCH_SIZE = 40
BATCH_RAW_BYTES = 8 * 1024 * 1024
UNKNOWN_SIZE = 1024 * 1024
# A batch's parts refused for the rate (429) are sent again, only they, after the longest
# Retry-After among them, up to this many times, when that wait is at most MAX_RETRY_WAIT;
# otherwise the sync stops with a temporary error and resumes from its cursor next run.
BATCH_RETRIES = 3
MAX_RETRY_WAIT = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class GmailSettings:
    """Hold what is needed to reach one Gmail inbox through the API.

    `token_saver` is called with {"access_token", "refresh_token", "expiry", "scope"} every
    time the tokens change (expiry is an aware UTC datetime, scope space-separated), so a
    rotated refresh token is never lost. `scopes` are the scopes granted at connect time;
    leave them empty to refresh without narrowing. Secrets are left out of repr().
    """

    email: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_token: str | None = field(default=None, repr=False)
    token_expiry: datetime | None = None
    token_uri: str = GOOGLE_TOKEN_URI
    api_base: str = GMAIL_API_BASE
    scopes: tuple[str, ...] = ()
    token_saver: Callable[[dict], None] | None = field(default=None, repr=False, compare=False)
    timeout: float = 30.0
    # The account's rate budget (providers/pacing.py), shared with every other adapter of
    # the same account; None means this process's own budget for the address.
    budget: QuotaBudget | None = field(default=None, repr=False, compare=False)


class SendAsAlias(NamedTuple):
    """One address the account may send as (Gmail's "Send mail as" setting)."""

    email: str
    display_name: str
    is_primary: bool


@dataclass(frozen=True, slots=True)
class GmailSendResult(SendResult):
    """A SendResult that also carries the Message-ID and thread Gmail finally stored.

    `message_id` is None when the re-read after sending failed: the message was sent all
    the same, so that failure is not raised.
    """

    message_id: str | None = None
    thread_id: str | None = None


class HistoryExpired(Exception):
    """Gmail no longer keeps history from the cursor's historyId (HTTP 404)."""


class GmailProvider(MailProvider):
    """Read and send mail for one Gmail account through the Gmail API.

    Folders are Gmail's system labels INBOX and SENT. Refs are Gmail message ids. The access
    token is refreshed when it is about to expire and once more when the API answers 401.
    """

    kind = "gmail"
    settings_class = GmailSettings
    # Gmail files every message sent through the API under SENT itself.
    saves_sent_copy = True

    def __init__(self, settings: GmailSettings) -> None:
        super().__init__(settings)
        self._session: requests.Session | None = None
        self._credentials = build_credentials(settings)
        self._budget = settings.budget or local_budget(
            f"gmail:{settings.api_base}:{settings.email.casefold()}"
        )
        # sizeEstimate of the messages whose headers were read, to size raw-fetch batches.
        self._sizes: dict[str, int] = {}

    # -- interface ---------------------------------------------------------------------

    def verify(self) -> None:
        """Read the profile, labels and send-as settings; raise if any of them fails.

        Also refuse a token that belongs to a different Google account than the inbox's.
        Sending cannot be tested without sending, so the granted scopes are checked instead
        when they are known.
        """
        profile = self._call(
            "GET", "profile", action=Sentence(gettext_noop("reading the account profile"))
        )
        address = str(profile.get("emailAddress", ""))
        if address.casefold() != self.settings.email.casefold():
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "This Google sign-in belongs to %(account)s, not %(email)s: reconnect "
                        "with the right account."
                    ),
                    account=address or Sentence(gettext_noop("another account")),
                    email=self.settings.email,
                ),
                stage="auth",
                permanent=True,
            )
        action = Sentence(gettext_noop("listing labels"))
        labels = self._call("GET", "labels", action=action).get("labels", [])
        if not any(label.get("id") == "INBOX" for label in labels):
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "The Gmail API answered without an INBOX label; is this a Gmail account?"
                    )
                ),
                stage="protocol",
                permanent=True,
            )
        self.send_as_aliases()
        if self.settings.scopes and not can_send(self.settings.scopes):
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "Google was not allowed to send mail for this inbox; reconnect and tick "
                        '"Send email on your behalf".'
                    )
                ),
                stage="auth",
                permanent=True,
            )

    def list_folders(self) -> list[Folder]:
        """Return the two labels sync reads; Gmail's other labels are views, not folders."""
        return [Folder("INBOX", "inbox"), Folder("SENT", "sent")]

    def changes(self, folder: str, cursor: str, limit: int) -> ChangePage:
        """Return messages that arrived in the label since `cursor`.

        An empty cursor lists the label from the newest message back, page by page, after
        noting the mailbox's historyId; later calls read history from that id, so nothing
        that arrives during a long first listing is missed (it may be seen twice). When
        Google has dropped the history (404), the label is listed again with `reset`.
        Archived or trashed messages still exist and are not reported as deleted; only
        messages deleted for good are.
        """
        limit = max(1, min(limit, MAX_PAGE))
        kind, history_id, page_token = parse_cursor(cursor)
        if kind == "h":
            try:
                return self._history_page(folder, history_id, page_token, limit)
            except HistoryExpired:
                return self._listing_page(folder, None, None, limit, reset=True)
        if kind == "init":
            return self._listing_page(folder, history_id, page_token, limit)
        return self._listing_page(folder, None, None, limit, reset=bool(cursor))

    def fetch_raw(self, folder: str, refs: list[str]) -> list[FetchedMessage]:
        """Return the exact RFC 822 bytes of the given messages; deleted ones are skipped."""
        wanted = list(dict.fromkeys(refs))
        found: dict[str, dict] = {}
        action = Sentence(gettext_noop("reading messages"))
        for chunk in self._raw_chunks(wanted):
            found.update(self._get_batch(chunk, {"format": "raw"}, action))
        return [
            FetchedMessage(ref=ref, raw=b64url_decode(found[ref]["raw"]))
            for ref in wanted
            if "raw" in found.get(ref, {})
        ]

    def find_by_message_id(self, folder: str, message_id: str) -> str | None:
        """Return the id of a message in the label with this Message-ID, or None.

        Gmail's rfc822msgid: search is not an exact match on every account, so candidates
        are confirmed by reading their Message-ID back. Spam and trash are searched too: a
        sent message the user trashed right away was still sent.
        """
        target = normalize_message_id(message_id)
        if target is None:
            return None
        params = {
            "q": f"rfc822msgid:{target[1:-1]}",
            "labelIds": [folder],
            "includeSpamTrash": "true",
        }
        found = self._call(
            "GET",
            "messages",
            params=params,
            action=Sentence(gettext_noop("searching for a message")),
        )
        for candidate in found.get("messages", []):
            header = self._metadata(candidate["id"])
            if header is not None and header.message_id == target:
                return header.ref
        return None

    def send(self, message: OutgoingMessage) -> SendResult:
        """Send the message once through Gmail, which files it under SENT.

        Gmail delivers to the To, Cc and Bcc headers, not to an envelope, so envelope
        recipients missing from those headers are added as Bcc. A connection lost after the
        request went out raises a temporary "tcp" error with `maybe_sent`: the message may
        have been sent, so look it up with find_by_message_id() before sending again.
        """
        check_recipients(message.recipients)
        raw = with_envelope_bcc(message.raw, message.recipients)
        if len(raw) > JSON_SEND_LIMIT:
            sent = self._call(
                "POST",
                "messages/send",
                params={"uploadType": "media"},
                data=raw,
                headers={"Content-Type": "message/rfc822"},
                upload=True,
                action=Sentence(gettext_noop("sending the message")),
            )
        else:
            sent = self._call(
                "POST",
                "messages/send",
                json={"raw": b64url_encode(raw)},
                action=Sentence(gettext_noop("sending the message")),
            )
        provider_id = str(sent.get("id", ""))
        if not provider_id:
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "Gmail accepted the message but returned no id; it may have been sent."
                    )
                ),
                stage="protocol",
                maybe_sent=True,
            )
        try:
            stored = self._metadata(provider_id)
        except ProviderError:
            stored = None
        return GmailSendResult(
            provider_id=provider_id,
            accepted_recipients=list(message.recipients),
            message_id=stored.message_id if stored else None,
            thread_id=sent.get("threadId"),
        )

    def send_as_aliases(self) -> list[SendAsAlias]:
        """Return the addresses this account may send as: the primary and verified aliases."""
        entries = self._call(
            "GET", "settings/sendAs", action=Sentence(gettext_noop("reading send-as addresses"))
        )
        return [
            SendAsAlias(
                email=str(entry.get("sendAsEmail", "")),
                display_name=str(entry.get("displayName", "")),
                is_primary=bool(entry.get("isPrimary")),
            )
            for entry in entries.get("sendAs", [])
            if entry.get("sendAsEmail")
            and (entry.get("isPrimary") or entry.get("verificationStatus") == "accepted")
        ]

    def close(self) -> None:
        """Close the HTTP connections; safe to call twice."""
        session, self._session = self._session, None
        if session is not None:
            session.close()

    # -- sync --------------------------------------------------------------------------

    def _listing_page(
        self,
        folder: str,
        history_id: str | None,
        page_token: str | None,
        limit: int,
        reset: bool = False,
    ) -> ChangePage:
        """List one page of the label, newest first, and read those messages' headers."""
        if history_id is None:
            profile = self._call(
                "GET", "profile", action=Sentence(gettext_noop("reading the account profile"))
            )
            history_id = require_history_id(profile)
        params: dict[str, Any] = {"labelIds": [folder], "maxResults": limit}
        if page_token:
            params["pageToken"] = page_token
        try:
            listed = self._call(
                "GET",
                "messages",
                params=params,
                action=Sentence(gettext_noop("listing %(folder)s"), folder=folder),
            )
        except ProviderError as exc:
            if not (page_token and exc.code == 400):
                raise
            # A page token Google no longer accepts would wedge the first sync for good;
            # starting over costs only time, and Message-IDs prevent duplicates.
            return self._listing_page(folder, None, None, limit, reset=True)
        ids = [str(m["id"]) for m in listed.get("messages", []) if m.get("id")]
        # Oldest first within the page, as the IMAP adapter delivers them.
        headers = self._metadata_many(reversed(ids))
        label = self._call(
            "GET",
            f"labels/{quote(folder, safe='')}",
            action=Sentence(gettext_noop("reading a label")),
        )
        next_token = listed.get("nextPageToken")
        return ChangePage(
            headers=headers,
            cursor=f"init:{history_id}:{next_token}" if next_token else f"h:{history_id}",
            more=bool(next_token),
            reset=reset,
            total=label.get("messagesTotal"),
        )

    def _history_page(
        self, folder: str, start: str, page_token: str | None, limit: int
    ) -> ChangePage:
        """Follow history from `start` until `limit` messages arrived or history ends.

        The mailbox's new historyId goes into the cursor only with the final page; until
        then the cursor keeps `start` and the next page token, so a crash re-reads pages
        rather than skipping them.
        """
        changes = HistoryChanges(folder)
        cursor = f"h:{start}"
        for _ in range(MAX_HISTORY_PAGES):
            params: dict[str, Any] = {
                "startHistoryId": start,
                "historyTypes": ["messageAdded", "labelAdded", "messageDeleted"],
                "labelId": folder,
                "maxResults": limit,
            }
            if page_token:
                params["pageToken"] = page_token
            body = self._call(
                "GET",
                "history",
                params=params,
                action=Sentence(gettext_noop("reading history")),
                not_found=HistoryExpired,
            )
            for record in body.get("history", []):
                changes.add_record(record)
            page_token = body.get("nextPageToken")
            if not page_token:
                cursor = f"h:{require_history_id(body)}"
                break
            cursor = f"h:{start}:{page_token}"
            if len(changes.added) >= limit:
                break
        return ChangePage(
            headers=self._metadata_many(changes.added),
            cursor=cursor,
            more=bool(page_token),
            deleted=tuple(changes.deleted),
        )

    def _metadata_many(self, ids: Iterable[str]) -> list[FetchedHeader]:
        """Return the sync headers of several messages, in order, skipping those gone."""
        wanted = list(ids)
        params = {"format": "metadata", "metadataHeaders": METADATA_HEADERS}
        found: dict[str, dict] = {}
        action = Sentence(gettext_noop("reading message headers"))
        for start in range(0, len(wanted), BATCH_SIZE):
            chunk = wanted[start : start + BATCH_SIZE]
            found.update(self._get_batch(chunk, params, action))
        headers = [header_from_metadata(found[ref]) for ref in wanted if ref in found]
        self._sizes.update((h.ref, h.size) for h in headers)
        return headers

    def _raw_chunks(self, refs: list[str]) -> Iterable[list[str]]:
        """Split refs into batches of at most BATCH_SIZE and about BATCH_RAW_BYTES."""
        chunk: list[str] = []
        size = 0
        for ref in refs:
            grows = self._sizes.get(ref, UNKNOWN_SIZE)
            if chunk and (len(chunk) >= BATCH_SIZE or size + grows > BATCH_RAW_BYTES):
                yield chunk
                chunk, size = [], 0
            chunk.append(ref)
            size += grows
        if chunk:
            yield chunk

    def _get_batch(self, ids: list[str], params: dict, action: str) -> dict[str, dict]:
        """messages.get of each id in one batch request; ids of messages gone are left out.

        Parts Google refused for the rate, or answered with a server error, are sent again,
        only they, after the longest Retry-After among them (BATCH_RETRIES times at most,
        when that wait is short); a part refused for good raises at once.
        """
        found: dict[str, dict] = {}
        pending = ids
        for attempt in range(BATCH_RETRIES + 1):
            answers = self._batch(pending, params, action)
            retry: list[str] = []
            wait = 0.0
            error: ProviderError | None = None
            for ref in pending:
                answer = answers.get(ref)
                if answer is not None and answer.status_code == 200:
                    found[ref] = json_body(answer, action)
                    continue
                if answer is not None and answer.status_code == 404:
                    continue
                if answer is None:  # a part missing from the answer: ask again
                    retry.append(ref)
                    continue
                if answer.status_code == 401:
                    error = ProviderError(Sentence(RECONNECT_MESSAGE), stage="auth", permanent=True)
                    self._credentials.token = None  # refreshed before the next batch
                    retry.append(ref)
                    continue
                error = api_error(answer, action)
                if error.permanent:
                    raise error
                if is_rate_limited(answer):
                    self._budget.pause(error.retry_after or 0, rate=PACE_RATE, burst=PACE_BURST)
                wait = max(wait, error.retry_after or 0)
                retry.append(ref)
            if not retry:
                return found
            if attempt == BATCH_RETRIES or wait > MAX_RETRY_WAIT:
                raise error or ProviderError(
                    Sentence(
                        gettext_noop(
                            "Gmail left %(count)s answers out of a batch while %(action)s."
                        ),
                        count=len(retry),
                        action=action,
                    ),
                    stage="protocol",
                    retry_after=SERVER_ERROR_RETRY_AFTER,
                )
            if wait and not any(is_rate_limited(answers[r]) for r in retry if r in answers):
                time.sleep(wait)  # a server error's back-off; a rate limit paused the budget
            pending = retry
        return found

    def _batch(self, ids: list[str], params: dict, action: str) -> dict[str, PartAnswer]:
        """Send messages.get of each id in one HTTP batch request; answers by id."""
        boundary = "batch_" + secrets.token_hex(12)
        query = urlencode(params, doseq=True)
        parts = [
            f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item{n}>\r\n\r\n"
            f"GET /gmail/v1/users/me/messages/{quote(ref, safe='')}?{query} HTTP/1.1\r\n\r\n"
            for n, ref in enumerate(ids)
        ]
        body = ("".join(parts) + f"--{boundary}--\r\n").encode()
        headers = {"Content-Type": f"multipart/mixed; boundary={boundary}"}
        url = self.settings.api_base.rstrip("/") + "/batch/gmail/v1"
        self._ensure_token()
        self._pace(call_units("GET", "messages/") * len(ids))
        response = self._send("POST", url, None, None, body, headers, action, reads=True)
        if response.status_code == 401:
            self._refresh()
            response = self._send("POST", url, None, None, body, headers, action, reads=True)
        if response.status_code >= 400:
            raise api_error(response, action)
        answers = split_batch(response, action)
        return {ids[n]: answer for n, answer in answers.items() if n < len(ids)}

    def _pace(self, units: float) -> None:
        """Wait until the account's budget allows `units` more; refuse to wait long."""
        wait = self._budget.reserve(units, rate=PACE_RATE, burst=PACE_BURST, max_wait=MAX_PACE_WAIT)
        if wait is None:
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "Gmail's per-user rate quota of this account is taken up by other work "
                        "(syncing or sending) or Gmail asked us to slow down; trying again "
                        "shortly."
                    )
                ),
                retry_after=MAX_PACE_WAIT,
            )
        if wait > 0:
            time.sleep(wait)

    def _metadata(self, message_id: str) -> FetchedHeader | None:
        """Return the sync headers of one message, or None when it is gone."""
        message = self._get_message(
            message_id,
            {"format": "metadata", "metadataHeaders": METADATA_HEADERS},
            Sentence(gettext_noop("reading message headers")),
        )
        return header_from_metadata(message) if message is not None else None

    def _get_message(self, message_id: str, params: dict, action: str) -> dict | None:
        try:
            return self._call(
                "GET",
                f"messages/{quote(message_id, safe='')}",
                params=params,
                action=action,
                not_found=LookupError,
            )
        except LookupError:
            return None

    # -- HTTP plumbing -----------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        action: str,
        params: dict | None = None,
        json: dict | None = None,
        data: bytes | None = None,
        headers: dict | None = None,
        upload: bool = False,
        not_found: type[Exception] | None = None,
    ) -> dict:
        """Call one Gmail endpoint under users/me and return its JSON body.

        A 401 gets one token refresh and one retry; Google sends it when a token was revoked
        early or the clock is off. With `not_found`, a 404 raises that exception instead of
        a ProviderError, for callers to whom "gone" is an answer.
        """
        url = api_url(self.settings.api_base, path, upload=upload)
        self._ensure_token()
        self._pace(call_units(method, path))
        response = self._send(method, url, params, json, data, headers, action)
        if response.status_code == 401:
            self._refresh()
            self._pace(call_units(method, path))
            response = self._send(method, url, params, json, data, headers, action)
            if response.status_code == 401:
                raise ProviderError(
                    Sentence(RECONNECT_MESSAGE), stage="auth", permanent=True, code=401
                )
        if response.status_code == 404 and not_found is not None:
            raise not_found(url)
        if response.status_code >= 400:
            error = api_error(response, action)
            if is_rate_limited(response):
                # The sender and every sync of this account hold back as well.
                self._budget.pause(error.retry_after or 0, rate=PACE_RATE, burst=PACE_BURST)
            raise error
        return json_body(response, action)

    def _send(
        self, method, url, params, json, data, headers, action, reads: bool = False
    ) -> requests.Response:
        all_headers = {"Authorization": f"Bearer {self._credentials.token}", **(headers or {})}
        try:
            return self._http().request(
                method,
                url,
                params=params,
                json=json,
                data=data,
                headers=all_headers,
                timeout=self.settings.timeout,
            )
        except requests.RequestException as exc:
            error = connection_error(exc, url, self.settings.timeout)
            if method == "POST" and not reads and may_have_arrived(exc):
                error = ProviderError(
                    Sentence(
                        gettext_noop(
                            "%(error)s The request was cut off while %(action)s; it may or may "
                            "not have taken effect."
                        ),
                        error=error.message,
                        action=action,
                    ),
                    stage=error.stage,
                    maybe_sent=True,
                )
            raise error from exc

    def _http(self) -> requests.Session:
        if self._session is None:
            self._session = requests.Session()
        return self._session

    def _ensure_token(self) -> None:
        # google-auth counts a token as expired 3m45s early, so a long request does not
        # start with a token that dies half-way.
        if not self._credentials.token or self._credentials.expired:
            self._refresh()

    def _refresh(self) -> None:
        """Get a new access token and hand the new tokens to the settings' saver."""
        request = functools.partial(
            google.auth.transport.requests.Request(self._http()), timeout=self.settings.timeout
        )
        try:
            self._credentials.refresh(request)
        except google.auth.exceptions.RefreshError as exc:
            raise refresh_error(exc) from exc
        except google.auth.exceptions.TransportError as exc:
            raise connection_error(exc, self.settings.token_uri, self.settings.timeout) from exc
        if self.settings.token_saver is not None:
            self.settings.token_saver(token_record(self._credentials, self.settings.scopes))


# -- tokens ------------------------------------------------------------------------------


def build_credentials(settings: GmailSettings) -> google.oauth2.credentials.Credentials:
    """Build google-auth credentials that can refresh themselves from the settings."""
    return google.oauth2.credentials.Credentials(
        token=settings.access_token or None,
        refresh_token=settings.refresh_token or None,
        token_uri=settings.token_uri,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        # Asking for the granted scopes again is harmless; asking for more fails the refresh.
        scopes=list(settings.scopes) or None,
        expiry=naive_utc(settings.token_expiry),
    )


def token_record(credentials: google.oauth2.credentials.Credentials, scopes) -> dict:
    """Return what the token saver stores, with an aware UTC expiry."""
    granted = credentials.granted_scopes or list(scopes)
    expiry = credentials.expiry
    return {
        "access_token": credentials.token,
        "refresh_token": credentials.refresh_token,
        "expiry": expiry.replace(tzinfo=UTC) if expiry is not None else None,
        "scope": " ".join(granted),
    }


def naive_utc(value: datetime | None) -> datetime | None:
    """Convert to the naive UTC datetime google-auth compares expiry with."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)
