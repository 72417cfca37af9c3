"""Reach an Office 365 inbox through Microsoft Graph: delta sync per folder, MIME sending.

Every request carries `Prefer: IdType="ImmutableId"` (it applies per request), so refs stay
the same when a message moves between folders. The access token is refreshed shortly before
it expires and once on a 401; Microsoft rotates refresh tokens, so each refresh goes to the
settings' `token_saver` at once.

Concurrency: Outlook allows 4 concurrent requests per app and mailbox (and 10,000 per 10
minutes). Every request takes slots from the mailbox's `ConcurrencySlots` (settings'
`slots`, shared by every adapter of the mailbox: the sync and the sender, in any worker) and
waits while 4 are in flight; a JSON batch, which Graph runs up to 4 requests of at once,
takes min(4, its size). Bodies and internet headers are read through JSON batches of 20
(`$batch`); a batch's requests throttled with 429 are sent again, only they, after their
Retry-After when that is short; otherwise, as for any single request,
the 429 becomes a temporary error carrying `retry_after`. Either way the Retry-After is kept
in the settings' `budget` as a "not before" time that every adapter of the mailbox waits
out (or, when it is long, gives up on at once) before its next request.

Headers: delta cannot select `internetMessageHeaders`, yet sync needs In-Reply-To and
References (threading) and the automatic-mail markers (Auto-Submitted, Precedence, ...: an
out-of-office answer must not count as a reply). They cost one GET per message, so the
cursor carries a phase. In "live" rounds (after the first deltaLink: new mail, few
messages, where replies end sequence enrollments) every message's headers are read. In the
"backfill" round (the first full listing, possibly tens of thousands of messages) only
probable replies are (see `looks_like_reply`), which keeps the threads of past mail
without a request for every message; other backfilled messages get an empty `raw_headers`,
and sync falls back to their subject.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import requests
import requests.structures
from urllib3.exceptions import NewConnectionError

from mailboxes.providers import microsoft_oauth
from mailboxes.providers.base import (
    ChangePage,
    FetchedMessage,
    Folder,
    MailProvider,
    OutgoingMessage,
    ProviderError,
    SendResult,
    Sentence,
    SharedMailboxError,
    exception_chain,
    first_of,
    gettext_noop,
)
from mailboxes.providers.graph_errors import error_code, graph_failure, json_body
from mailboxes.providers.graph_wire import (
    BACKFILL,
    LIVE,
    BatchPart,
    batch_bytes,
    clean_text,
    header_from_item,
    looks_like_reply,
    mime_for_graph,
    parse_cursor,
)
from mailboxes.providers.headers import (
    normalize_message_id,
)
from mailboxes.providers.microsoft_oauth import DEFAULT_AUTHORITY, MicrosoftAuthError
from mailboxes.providers.pacing import ConcurrencySlots, QuotaBudget, local_budget, local_slots

GRAPH_BASE = "https://graph.microsoft.com/v1.0"
# Refresh this long before the access token's expiry, so a token never dies mid-request.
REFRESH_MARGIN = 300.0
IMMUTABLE_IDS = 'IdType="ImmutableId"'
# The largest delta page Graph hands out (Prefer: odata.maxpagesize), with DELTA_SELECT only.
MAX_PAGE_SIZE = 1000
# Outlook's requests in flight per app and mailbox, and how long a request waits for a slot.
MAILBOX_CONCURRENCY = 4
SLOT_WAIT = 30.0
# Graph's JSON batching takes up to 20 requests.
BATCH_SIZE = 20
# A batch's throttled requests are sent again, only they, up to this many times, when their
# Retry-After is at most MAX_RETRY_WAIT seconds (THROTTLED_WAIT when Graph gives none).
BATCH_RETRIES = 3
MAX_RETRY_WAIT = 10.0
THROTTLED_WAIT = 2.0
# What sync needs from each message to decide whether it concerns the CRM.
DELTA_SELECT = ",".join(
    [
        "internetMessageId",
        "subject",
        "from",
        "toRecipients",
        "ccRecipients",
        "receivedDateTime",
        "sentDateTime",
        "conversationId",
        "conversationIndex",
        "isRead",
        "isDraft",
    ]
)
# Error codes Graph uses when a delta token is void (410, or 400 syncStateNotFound on some
# resources); compared lower-cased.
EXPIRED_SYNC_CODES = {"syncstatenotfound", "syncstateinvalid", "resyncrequired"}
SHARED_MAILBOX_MESSAGE = gettext_noop(
    "%(address)s is a shared mailbox. Shared mailboxes of Office 365 cannot be connected: "
    "nobody signs in as them. Connect a user mailbox instead (for a team inbox, a licensed "
    "user mailbox that receives the team's mail)."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphSettings:
    """Hold what is needed to reach one Office 365 mailbox through Graph.

    `expires_at` is the access token's expiry in epoch seconds (0 forces a refresh first).
    `token_saver` receives {"access_token", "refresh_token", "expires_at"} every time the
    tokens change; it must persist them before returning, because Microsoft rotates refresh
    tokens. `verify` is requests' and msal's: True, or a CA bundle path (tests' fake).
    Secrets are left out of repr().
    """

    email: str
    client_id: str
    client_secret: str = field(repr=False)
    authority: str = DEFAULT_AUTHORITY
    graph_base: str = GRAPH_BASE
    access_token: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    expires_at: float = 0.0
    token_saver: Callable[[dict], None] | None = field(default=None, repr=False, compare=False)
    verify: str | bool = True
    timeout: float = 30.0
    # The mailbox's concurrency slots, shared with every other adapter of the mailbox; None
    # means this process's own for the address.
    slots: ConcurrencySlots | None = field(default=None, repr=False, compare=False)
    # Where a 429's Retry-After is kept for every adapter of the mailbox (a QuotaBudget used
    # as a "not before" gate); None means this process's own.
    budget: QuotaBudget | None = field(default=None, repr=False, compare=False)


class GraphProvider(MailProvider):
    """Read and send one user's Office 365 mail through Microsoft Graph.

    Folders are Graph's well-known names ("inbox", "sentitems"); refs are immutable message
    ids; a folder's cursor is the nextLink (mid-round) or deltaLink (end of round) that Graph
    returned, tagged with the sync phase and followed verbatim.
    """

    kind = "office365"
    settings_class = GraphSettings
    # Exchange files sent mail in Sent Items itself.
    saves_sent_copy = True

    def __init__(self, settings: GraphSettings) -> None:
        super().__init__(settings)
        self._session: requests.Session | None = None
        self._access_token = settings.access_token
        self._refresh_token = settings.refresh_token
        self._expires_at = float(settings.expires_at or 0)
        account = f"graph:{settings.graph_base}:{settings.email.casefold()}"
        self._slots = settings.slots or local_slots(account)
        self._gate = settings.budget or local_budget(account)

    # -- interface ---------------------------------------------------------------------

    def verify(self) -> None:
        """Read the account and its mailbox settings; refuse a shared mailbox."""
        me = self._get_json("me", action=Sentence(gettext_noop("reading the account")))
        purpose = self._get_json(
            "me/mailboxSettings",
            params={"$select": "userPurpose"},
            action=Sentence(gettext_noop("reading the mailbox settings")),
        ).get("userPurpose")
        if purpose == "shared":
            address = me.get("mail") or me.get("userPrincipalName") or self.settings.email
            raise SharedMailboxError(
                Sentence(SHARED_MAILBOX_MESSAGE, address=address),
                stage="protocol",
                permanent=True,
            )

    def is_shared_mailbox(self, upn: str) -> bool:
        """Tell whether the address is an Office 365 shared mailbox (userPurpose "shared")."""
        body = self._get_json(
            f"users/{quote(upn, safe='@')}/mailboxSettings",
            params={"$select": "userPurpose"},
            action=Sentence(
                gettext_noop("reading the mailbox settings of %(address)s"), address=upn
            ),
        )
        return body.get("userPurpose") == "shared"

    def list_folders(self) -> list[Folder]:
        """Return Inbox and Sent Items by their well-known names; no request needed."""
        return [Folder(name="inbox", role="inbox"), Folder(name="sentitems", role="sent")]

    def changes(self, folder: str, cursor: str, limit: int) -> ChangePage:
        """Return one delta page of `folder` after `cursor` ("" starts the initial round).

        The cursor is "<phase>|<link>": the nextLink (mid-round) or deltaLink (end of a
        round) Graph returned, followed verbatim, tagged "backfill" or "live" (see the
        module docstring). `more` is True while Graph hands out nextLinks. A void delta
        token (410, or 400 syncStateNotFound) or an unreadable cursor restarts the initial
        round with `reset=True`: the caller re-reads the folder, relies on Message-IDs
        against duplicates, and may treat refs it does not see again as deleted, since an
        initial round lists only what exists.
        """
        page_size = max(1, min(limit, MAX_PAGE_SIZE))
        phase, link = parse_cursor(cursor) if cursor else (BACKFILL, "")
        reset = bool(cursor) and not (phase and self._is_graph_link(link))
        if reset:
            phase, link = BACKFILL, ""
        body = self._delta_page(link or self._delta_start(folder), page_size)
        if body is None:
            if not link:
                raise ProviderError(
                    Sentence(
                        gettext_noop("Microsoft Graph refused to start syncing %(folder)s."),
                        folder=folder,
                    ),
                    stage="protocol",
                )
            # A Location header may name a fresh delta URL, but without our $select; start
            # our own initial round instead.
            phase, reset = BACKFILL, True
            body = self._delta_page(self._delta_start(folder), page_size)
            if body is None:
                raise ProviderError(
                    Sentence(
                        gettext_noop(
                            "Microsoft Graph keeps refusing to sync %(folder)s; try again later."
                        ),
                        folder=folder,
                    ),
                    stage="protocol",
                )
        return self._change_page(body, phase, reset)

    def fetch_raw(self, folder: str, refs: list[str]) -> list[FetchedMessage]:
        """Return the MIME bytes of the given messages; ones that no longer exist are skipped.

        Graph's $value never marks a message read.
        """
        urls = {ref: f"/me/messages/{quote(ref, safe='')}/$value" for ref in dict.fromkeys(refs)}
        action = Sentence(gettext_noop("reading messages"))
        answers = self._batch_get(urls, action)
        return [
            FetchedMessage(ref=ref, raw=batch_bytes(answers[ref], action))
            for ref in urls
            if ref in answers
        ]

    def find_by_message_id(self, folder: str, message_id: str) -> str | None:
        """Return the id of the message in `folder` with this Message-ID, or None.

        The sent copy of a message appears in Sent Items after a short lag, so a miss right
        after sending does not prove the send failed.
        """
        target = normalize_message_id(message_id)
        if target is None:
            return None
        # OData string literals escape a single quote by doubling it.
        literal = target.replace("'", "''")
        body = self._get_json(
            f"me/mailFolders/{quote(folder, safe='')}/messages",
            params={
                "$filter": f"internetMessageId eq '{literal}'",
                "$select": "id,internetMessageId",
                "$top": "10",
            },
            action=Sentence(gettext_noop("searching %(folder)s"), folder=folder),
        )
        for item in body.get("value", []):
            if normalize_message_id(item.get("internetMessageId")) == target and item.get("id"):
                return item["id"]
        return None

    def send(self, message: OutgoingMessage) -> SendResult:
        """Submit the MIME bytes with sendMail once; never retry here.

        Graph answers 202 without an id, so `provider_id` is the message's own Message-ID,
        which Exchange keeps. (POSTing a draft to /me/messages and sending it would yield the
        item id too, at the cost of two more requests and a Sent Items lag.) A 4xx is
        permanent, a 429 temporary with `retry_after`; after a 5xx or a dropped connection
        the message may have gone out: look it up in "sentitems" before resending.
        """
        raw = mime_for_graph(message)
        self._request(
            "POST",
            self._url("me/sendMail"),
            data=base64.b64encode(raw),
            headers={"Content-Type": "text/plain"},
            action=Sentence(gettext_noop("sending the message")),
            ok=(202,),
        )
        return SendResult(
            provider_id=message.message_id, accepted_recipients=list(message.recipients)
        )

    def close(self) -> None:
        """Close the HTTP session; safe to call twice."""
        session, self._session = self._session, None
        if session is not None:
            session.close()

    # -- delta ---------------------------------------------------------------------------

    def _delta_start(self, folder: str) -> str:
        return self._url(f"me/mailFolders/{quote(folder, safe='')}/messages/delta") + (
            f"?$select={DELTA_SELECT}"
        )

    def _is_graph_link(self, url: str) -> bool:
        # Never send the bearer token to a host other than Graph's, whatever a stored
        # cursor says.
        return url.startswith(self.settings.graph_base.rstrip("/") + "/")

    def _delta_page(self, url: str, page_size: int) -> dict | None:
        """GET one delta page; return None when Graph says the delta token is void."""
        action = Sentence(gettext_noop("reading changes"))
        response = self._request(
            "GET",
            url,
            action=action,
            prefer=(f"odata.maxpagesize={page_size}",),
            allow=(400, 410),
        )
        if response.status_code == 410:
            return None
        if response.status_code == 400:
            if error_code(response).lower() in EXPIRED_SYNC_CODES:
                return None
            raise graph_failure(response, action)
        return json_body(response, action)

    def _change_page(self, body: dict, phase: str, reset: bool) -> ChangePage:
        items, deleted = [], []
        for item in body.get("value") or []:
            if not isinstance(item, dict) or not item.get("id"):
                continue
            if "@removed" in item:
                deleted.append(item["id"])
                continue
            items.append(item)
        wanted = [i["id"] for i in items if phase == LIVE or looks_like_reply(i)]
        internet = self._internet_headers(wanted)
        headers = [header_from_item(item, internet.get(item["id"])) for item in items]
        next_link = body.get("@odata.nextLink")
        delta_link = body.get("@odata.deltaLink")
        if not (next_link or delta_link):
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "Microsoft Graph answered a delta request without a next or delta link."
                    )
                ),
                stage="protocol",
            )
        # The round after a deltaLink only brings changes: it is live from then on.
        cursor = f"{phase}|{next_link}" if next_link else f"{LIVE}|{delta_link}"
        return ChangePage(
            headers=headers,
            cursor=cursor,
            more=bool(next_link),
            reset=reset,
            deleted=tuple(deleted),
        )

    def _internet_headers(self, refs: list[str]) -> dict[str, list[tuple[str, str]]]:
        """Return messages' internet headers as (name, value) pairs by ref, through JSON
        batches; a message deleted since the delta page was built is left out (the next
        round reports it removed)."""
        action = Sentence(gettext_noop("reading messages' headers"))
        urls = {
            ref: f"/me/messages/{quote(ref, safe='')}?$select=internetMessageHeaders"
            for ref in dict.fromkeys(refs)
        }
        found = {}
        for ref, answer in self._batch_get(urls, action).items():
            body = answer.get("body")
            listed = body.get("internetMessageHeaders") if isinstance(body, dict) else None
            found[ref] = [
                (clean_text(entry.get("name")), str(entry.get("value") or ""))
                for entry in listed or []
                if isinstance(entry, dict) and clean_text(entry.get("name"))
            ]
        return found

    # -- JSON batching -------------------------------------------------------------------

    def _batch_get(self, urls: dict[str, str], action: str) -> dict[str, dict]:
        """GET each URL (relative to the version root) through JSON batches of BATCH_SIZE;
        return the answers by key, those answered 404 left out."""
        keys = list(urls)
        found: dict[str, dict] = {}
        for start in range(0, len(keys), BATCH_SIZE):
            chunk = {key: urls[key] for key in keys[start : start + BATCH_SIZE]}
            found.update(self._batch_chunk(chunk, action))
        return found

    def _batch_chunk(self, urls: dict[str, str], action: str) -> dict[str, dict]:
        """One batch; its requests throttled (429) are sent again alone after Retry-After."""
        found: dict[str, dict] = {}
        pending = urls
        for attempt in range(BATCH_RETRIES + 1):
            keys = list(pending)
            request = {
                "requests": [
                    # Prefer applies per request, inside a batch too.
                    {
                        "id": str(n),
                        "method": "GET",
                        "url": pending[key],
                        "headers": {"Prefer": IMMUTABLE_IDS},
                    }
                    for n, key in enumerate(keys)
                ]
            }
            response = self._request(
                "POST",
                self._url("$batch"),
                data=json.dumps(request).encode(),
                headers={"Content-Type": "application/json"},
                action=action,
                slots=min(MAILBOX_CONCURRENCY, len(keys)),
                reads=True,
            )
            answers = {
                str(a.get("id")): a
                for a in json_body(response, action).get("responses") or []
                if isinstance(a, dict)
            }
            retry: dict[str, str] = {}
            wait = 0.0
            error: ProviderError | None = None
            for n, key in enumerate(keys):
                answer = answers.get(str(n))
                status = int(answer.get("status") or 0) if answer else 0
                if status == 200:
                    found[key] = answer  # type: ignore[assignment]
                    continue
                if status == 404:
                    continue
                if answer is not None:
                    error = graph_failure(BatchPart(answer), action)
                    if status != 429:  # refused for good, or a server error: next run
                        raise error
                    wait = max(wait, error.retry_after or THROTTLED_WAIT)
                retry[key] = pending[key]
            if not retry:
                return found
            if wait:
                self.hold_back(wait)  # the next batch, and the sender, wait it out
            if attempt == BATCH_RETRIES or wait > MAX_RETRY_WAIT:
                raise error or ProviderError(
                    Sentence(
                        gettext_noop(
                            "Microsoft Graph left requests out of a batch while %(action)s."
                        ),
                        action=action,
                    ),
                    stage="protocol",
                )
            pending = retry
        return found

    # -- HTTP and tokens -----------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.settings.graph_base.rstrip('/')}/{path}"

    def _get_json(self, path: str, *, action: str, params: dict | None = None) -> dict:
        return json_body(
            self._request("GET", self._url(path), params=params, action=action), action
        )

    def _request(
        self,
        method: str,
        url: str,
        *,
        action: str,
        params: dict | None = None,
        data: bytes | None = None,
        headers: dict | None = None,
        prefer: tuple[str, ...] = (),
        ok: tuple[int, ...] = (200,),
        allow: tuple[int, ...] = (),
        slots: int = 1,
        reads: bool = False,
    ) -> requests.Response:
        """Send one Graph request; refresh and retry once on 401; raise on other failures.

        It holds `slots` of the mailbox's concurrency slots while in flight. `reads` marks
        a POST that changes nothing (a batch of GETs), so a failure never says "may have
        been sent".
        """
        self._wait_out_retry_after(action)
        held = self._slots.acquire(slots, limit=MAILBOX_CONCURRENCY, timeout=SLOT_WAIT)
        if held is None:
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "Office 365 takes %(count)s requests at a time per mailbox and other work "
                        "on this inbox holds them; %(action)s is tried again shortly."
                    ),
                    count=MAILBOX_CONCURRENCY,
                    action=action,
                ),
                retry_after=SLOT_WAIT,
            )
        try:
            response = self._call(method, url, params, data, headers, prefer, action, reads)
            if response.status_code == 401:
                self._refresh()
                response = self._call(method, url, params, data, headers, prefer, action, reads)
        finally:
            self._slots.release(held)
        if response.status_code in ok or response.status_code in allow:
            return response
        error = graph_failure(response, action, maybe_sent=method == "POST" and not reads)
        if response.status_code == 429:
            self.hold_back(error.retry_after or THROTTLED_WAIT)
        raise error

    def hold_back(self, seconds: float) -> None:
        """Send nothing for `seconds` from any adapter of this mailbox (a Retry-After)."""
        self._gate.pause(seconds, rate=1.0, burst=0.0)

    def _wait_out_retry_after(self, action: str) -> None:
        """Sleep out a Retry-After this mailbox was given; refuse to sleep long."""
        wait = self._gate.reserve(0, rate=1.0, burst=0.0, max_wait=MAX_RETRY_WAIT)
        if wait is None:
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "Microsoft Graph asked to slow down on this mailbox a moment ago; "
                        "%(action)s is tried again shortly."
                    ),
                    action=action,
                ),
                retry_after=MAX_RETRY_WAIT,
            )
        if wait > 0:
            time.sleep(wait)

    def _call(
        self, method, url, params, data, headers, prefer, action, reads=False
    ) -> requests.Response:
        all_headers = {
            "Authorization": f"Bearer {self._token()}",
            "Accept": "application/json",
            "Prefer": ", ".join((IMMUTABLE_IDS, *prefer)),
            **(headers or {}),
        }
        try:
            return self._http().request(
                method,
                url,
                params=params,
                data=data,
                headers=all_headers,
                # Per request, because REQUESTS_CA_BUNDLE overrides a session's `verify`.
                verify=self.settings.verify,
                timeout=self.settings.timeout,
            )
        except requests.exceptions.SSLError as exc:
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "The secure connection to Microsoft Graph failed while %(action)s "
                        "(%(error)s)."
                    ),
                    action=action,
                    error=str(exc),
                ),
                stage="tls",
            ) from exc
        except requests.exceptions.RequestException as exc:
            # A request that never connected cannot have sent anything.
            unsent = isinstance(exc, requests.exceptions.ConnectTimeout) or first_of(
                exception_chain(exc), (ConnectionRefusedError, NewConnectionError)
            )
            maybe_sent = method == "POST" and not reads and not unsent
            if maybe_sent:
                words = gettext_noop(
                    "Microsoft Graph could not be reached while %(action)s; try again in a "
                    "moment. The message may or may not have been sent."
                )
            else:
                words = gettext_noop(
                    "Microsoft Graph could not be reached while %(action)s; try again in a moment."
                )
            raise ProviderError(
                Sentence(words, action=action),
                stage="tcp",
                maybe_sent=maybe_sent,
            ) from exc

    def _http(self) -> requests.Session:
        if self._session is None:
            self._session = requests.Session()
        return self._session

    def _token(self) -> str:
        if not self._access_token or time.time() >= self._expires_at - REFRESH_MARGIN:
            self._refresh()
        return self._access_token

    def _refresh(self) -> None:
        """Get new tokens with the refresh token and hand them to the token saver."""
        s = self.settings
        if not self._refresh_token:
            raise MicrosoftAuthError(
                Sentence(
                    gettext_noop(
                        "Office 365: no refresh token is stored for %(email)s; reconnect the inbox."
                    ),
                    email=s.email,
                ),
                reason="reconnect",
            )
        tokens = microsoft_oauth.refresh(
            s.client_id,
            s.client_secret,
            s.authority,
            self._refresh_token,
            verify=s.verify,
            timeout=s.timeout,
        )
        self._access_token = tokens["access_token"]
        self._refresh_token = tokens["refresh_token"]
        self._expires_at = float(tokens["expires_at"])
        if s.token_saver is not None:
            s.token_saver(
                {
                    "access_token": self._access_token,
                    "refresh_token": self._refresh_token,
                    "expires_at": tokens["expires_at"],
                }
            )
