"""Reach an on-premises Exchange mailbox over Exchange Web Services (EWS), with exchangelib.

The user gives an address and a password; Autodiscover finds the EWS URL when they leave it
empty. After a successful `verify()`, the connect flow stores `provider.ews_url` (and
`provider.auth_type`) so later tasks skip Autodiscover and its DNS lookups. Exchange Online
refuses passwords; it connects through the Microsoft (OAuth) adapter instead.

exchangelib keeps process-wide state, and this module keeps each inbox's settings to itself:

- Certificates: `BaseProtocol.HTTP_ADAPTER_CLS` is one class for every EWS session in the
  process, so setting it to NoVerifyHTTPAdapter would stop verifying every inbox's server.
  Instead a subclass of whatever adapter is installed is put in place once; it skips
  verification only for requests made inside a call by a provider whose settings say
  `trust_any_certificate` (a context variable: other threads and other inboxes keep
  verifying). requests keys its connection pools on the verification mode, so a
  connection opened without verification is never reused for a verifying request.
- Addresses: the same adapter class opens its connections through providers/network.py,
  which refuses addresses the inbox's `network` policy does not allow (loopback, the LAN,
  cloud metadata), for the EWS URL and every URL Autodiscover tries alike; the policy is in
  force inside this provider's calls only (the same context variable pattern).
- Timeouts: `Protocol.TIMEOUT` is a class attribute; it is set on the inbox's own protocol.
- Protocols: exchangelib caches one Protocol (sessions, detected version) per EWS URL and
  credentials for the life of the process; `close()` closes it and drops it from the cache.
"""

from __future__ import annotations

import contextvars
import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import dns.exception
import requests
from exchangelib import (
    BASIC,
    DELEGATE,
    DIGEST,
    NTLM,
    Account,
    Configuration,
    Credentials,
    FailFast,
    ItemId,
    Mailbox,
    Message,
)
from exchangelib import UTC as EWS_UTC
from exchangelib.autodiscover.discovery import DNS_LOOKUP_ERRORS, Autodiscovery
from exchangelib.errors import (
    AutoDiscoverError,
    CASError,
    ErrorInvalidSyncStateData,
    ErrorServerBusy,
    EWSError,
    RedirectError,
    ResponseMessageError,
    UnauthorizedError,
)
from exchangelib.items import ID_ONLY
from exchangelib.protocol import BaseProtocol, Protocol
from exchangelib.services import SyncFolderItems
from exchangelib.services.sync_folder_hierarchy import SyncFolder
from exchangelib.util import MNS, xml_text_to_value

from mailboxes.providers.base import (
    AddressNotAllowed,
    ChangePage,
    FetchedHeader,
    FetchedMessage,
    Folder,
    FolderRole,
    MailProvider,
    OutgoingMessage,
    ProviderError,
    SendResult,
    Sentence,
    exception_chain,
    first_of,
    gettext_noop,
    refused_address,
)
from mailboxes.providers.ews_urls import ews_url_from_webmail
from mailboxes.providers.headers import (
    CONTROL_CHARS,
    RAW_HEADER_NAMES,
    message_ids,
    normalize_message_id,
    parse_addresses,
    split_header_fields,
)
from mailboxes.providers.network import (
    GuardedPools,
    NetworkPolicy,
    guarded_http,
)

# Cursors carry the SyncFolderItems state; the prefix leaves room for another format later.
CURSOR_PREFIX = "ews1:"
AUTH_TYPES = {"": None, "basic": BASIC, "ntlm": NTLM, "digest": DIGEST}
# The folders sync reads: (stable name shown in the product, role), by distinguished id.
FOLDERS: dict[str, tuple[str, FolderRole]] = {
    "inbox": ("Inbox", "inbox"),
    "sentitems": ("Sent Items", "sent"),
}
FOLDER_KEYS = {"inbox": "inbox", "sent items": "sentitems", "sentitems": "sentitems"}
# SyncFolderItems, like FindItem, cannot return recipients, so headers come from GetItem.
HEADER_FIELDS = [
    "message_id",
    "in_reply_to",
    "references",
    "subject",
    "author",
    "sender",
    "to_recipients",
    "cc_recipients",
    "datetime_sent",
    "datetime_received",
    "size",
    "is_read",
    "headers",
]
# EWS refuses MaxChangesReturned above 512.
MAX_SYNC_CHANGES = 512
# Whole messages can be tens of megabytes; GetItem's default of 100 a request is too many.
MIME_FETCH_CHUNK = 10
# Several copies of one Message-ID in a folder are possible (a message sent to oneself).
FIND_LIMIT = 10
# When a busy or failing server gives no back-off hint.
RETRY_AFTER = 60.0
# Response codes that say "later", not "never" (exchangelib raises them by these names).
TEMPORARY_CODES = {
    "ErrorADUnavailable",
    "ErrorConnectionFailed",
    "ErrorExceededConnectionCount",
    "ErrorInternalServerError",
    "ErrorInternalServerTransientError",
    "ErrorMailboxMoveInProgress",
    "ErrorMailboxStoreUnavailable",
    "ErrorSubmissionQuotaExceeded",
    "ErrorTimeoutExpired",
    "ErrorTooManyObjectsOpened",
}
AUTH_CODES = {
    "ErrorAccessDenied",
    "ErrorAccountDisabled",
    "ErrorImpersonateUserDenied",
    "ErrorNonExistentMailbox",
}
# A server that answers SOAP but no EWS version we speak, or not EWS at all.
PROTOCOL_CODES = {
    "ErrorIncorrectSchemaVersion",
    "ErrorInvalidSchemaVersionForMailboxVersion",
    "ErrorInvalidServerVersion",
}
EWS_URL_HINT = gettext_noop("it usually looks like https://mail.example.com/EWS/Exchange.asmx")

_trust_any_certificate: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "ews_trust_any_certificate", default=False
)


@dataclass(frozen=True, slots=True, kw_only=True)
class EwsSettings:
    """Hold what is needed to reach one Exchange mailbox over EWS.

    `username` defaults to the address (some servers want DOMAIN\\user or a UPN instead);
    an empty `ews_url` means "autodiscover it"; an empty `auth_type` means "ask the server"
    (it offers digest, NTLM or basic). The password is left out of repr().
    """

    email: str
    password: str = field(repr=False)
    username: str = ""
    ews_url: str = ""
    auth_type: str = ""
    trust_any_certificate: bool = False
    timeout: float = 30.0
    # Which addresses the EWS and Autodiscover hosts may resolve to; None: no check.
    network: NetworkPolicy | None = None

    def __post_init__(self) -> None:
        if self.auth_type not in AUTH_TYPES:
            raise ValueError(f"auth_type must be one of {sorted(AUTH_TYPES)}")
        if "@" not in self.email:
            raise ValueError("email must be an email address")

    @property
    def login(self) -> str:
        """Return the username to log in with."""
        return self.username.strip() or self.email


class EwsProvider(MailProvider):
    """Read and send mail for one Exchange mailbox over EWS.

    One exchangelib Account per instance, connected on first use. Calls are synchronous and
    fail fast (exchangelib's FailFast policy): workers own the retries, guided by
    `ProviderError.retry_after`.
    """

    kind = "exchange"
    settings_class = EwsSettings
    # Exchange files the copy itself (CreateItem with SendAndSaveCopy).
    saves_sent_copy = True

    def __init__(self, settings: EwsSettings) -> None:
        super().__init__(settings)
        install_scoped_certificate_checks()
        self.ews_url: str = settings.ews_url.strip()
        self._account: Account | None = None
        self._folders: dict[str, object] = {}

    # -- interface ---------------------------------------------------------------------

    def verify(self) -> None:
        """Find the EWS URL if needed, log in, and list the inbox; send nothing."""
        self.close()
        self.list_folders()
        inbox = self._folder("Inbox")
        with self._calling(Sentence(gettext_noop("listing the inbox"))):
            # FindItem then GetItem (exchangelib reads Message-IDs with GetItem): the two
            # calls sync relies on.
            list(inbox.all().only("message_id")[:1])

    def list_folders(self) -> list[Folder]:
        """Return the inbox and Sent Items, after checking that both can be opened."""
        for key in FOLDERS:
            self._folder(FOLDERS[key][0])
        return [Folder(name=name, role=role) for name, role in FOLDERS.values()]

    def changes(self, folder: str, cursor: str, limit: int) -> ChangePage:
        """Return one SyncFolderItems page of arrivals, edits and deletions since `cursor`.

        The cursor is "ews1:" plus Exchange's sync state. When Exchange says the state is
        no longer valid (ErrorInvalidSyncStateData, e.g. after a mailbox move), sync starts
        over from an empty state and says so with `reset`; Message-IDs keep the re-read from
        duplicating anything.
        """
        ews_folder = self._folder(folder)
        state, reset = sync_state_from_cursor(cursor)
        with self._calling(Sentence(gettext_noop("syncing %(folder)s"), folder=folder)):
            try:
                changes, new_state, last = self._sync_page(ews_folder, state, limit)
            except ErrorInvalidSyncStateData:
                reset = True
                state = None
                changes, new_state, last = self._sync_page(ews_folder, None, limit)
            refs, deleted = split_changes(changes)
            headers = self._headers(ews_folder, refs)
        return ChangePage(
            headers=headers,
            cursor=CURSOR_PREFIX + new_state,
            # exchangelib notes servers that repeat a state while claiming more: stop there.
            more=not last and new_state != state,
            reset=reset,
            deleted=deleted,
            total=getattr(ews_folder, "total_count", None),
        )

    def fetch_raw(self, folder: str, refs: list[str]) -> list[FetchedMessage]:
        """Return the MIME content of the given items; missing ones are skipped.

        GetItem does not mark anything read.
        """
        wanted = list(dict.fromkeys(refs))
        if not wanted:
            return []
        ews_folder = self._folder(folder)
        with self._calling(Sentence(gettext_noop("reading messages in %(folder)s"), folder=folder)):
            items = list(
                self._connect().fetch(
                    ids=[ItemId(id=ref) for ref in wanted],
                    folder=ews_folder,
                    only_fields=["mime_content"],
                    chunk_size=MIME_FETCH_CHUNK,
                )
            )
        return [
            FetchedMessage(ref=ref, raw=bytes(item.mime_content))
            for ref, item in zip(wanted, items, strict=False)
            if not isinstance(item, Exception) and item.mime_content is not None
        ]

    def find_by_message_id(self, folder: str, message_id: str) -> str | None:
        """Return the ItemId of a message with this InternetMessageId in the folder, or None."""
        target = normalize_message_id(message_id)
        if target is None:
            return None
        ews_folder = self._folder(folder)
        with self._calling(Sentence(gettext_noop("searching %(folder)s"), folder=folder)):
            found = list(ews_folder.filter(message_id=target).only("message_id")[:FIND_LIMIT])
        for item in found:
            # Confirm the match: Message-IDs are case-sensitive, Exchange's string
            # comparisons may not be.
            if not isinstance(item, Exception) and normalize_message_id(item.message_id) == target:
                return item.id
        return None

    def send(self, message: OutgoingMessage) -> SendResult:
        """Submit the raw MIME once with CreateItem (SendAndSaveCopy); never retry here.

        Exchange takes recipients from the MIME headers, so envelope recipients missing
        from To/Cc/Bcc are added as Bcc. Exchange keeps the Message-ID, which is the
        provider id: CreateItem returns no ItemId when it sends.
        """
        if not message.recipients:
            raise ProviderError(
                Sentence(gettext_noop("Refusing to send: the message has no recipients.")),
                permanent=True,
            )
        account = self._connect()
        item = Message(account=account, folder=self._folder("Sent Items"), mime_content=message.raw)
        hidden = hidden_recipients(message)
        if hidden:
            item.bcc_recipients = [Mailbox(email_address=address) for address in hidden]
        with self._calling(Sentence(gettext_noop("sending the message")), sending=True):
            item.send_and_save()
        return SendResult(
            provider_id=message.message_id, accepted_recipients=list(message.recipients)
        )

    def close(self) -> None:
        """Close this mailbox's EWS sessions and forget its cached protocol."""
        account, self._account = self._account, None
        self._folders = {}
        if account is None:
            return
        protocol = account.protocol
        protocol.close()
        with suppress(KeyError):
            # Keyed by EWS URL and credentials; a worker serving many inboxes would
            # otherwise keep every one (and its password) until it exits.
            del Protocol[protocol.config]

    # -- connection details the connect flow stores ----------------------------------------

    @property
    def auth_type(self) -> str:
        """Return the HTTP auth scheme in use ("basic", "ntlm", "digest"), once connected."""
        if self._account is None:
            return ""
        in_use = self._account.protocol.config.auth_type
        return next((name for name, value in AUTH_TYPES.items() if value and value == in_use), "")

    # -- plumbing ------------------------------------------------------------------------

    @contextmanager
    def _calling(self, action: Sentence, sending: bool = False) -> Iterator[None]:
        """Run exchangelib calls with this inbox's certificate policy; map their errors."""
        token = _trust_any_certificate.set(self.settings.trust_any_certificate)
        try:
            with guarded_http(self.settings.network):
                yield
        except (EWSError, requests.RequestException, OSError) as exc:
            raise ews_error(exc, action, self.ews_url, sending=sending) from exc
        finally:
            _trust_any_certificate.reset(token)

    def _connect(self) -> Account:
        if self._account is not None:
            return self._account
        s = self.settings
        credentials = Credentials(s.login, s.password)
        config = Configuration(
            service_endpoint=self.ews_url or None,
            credentials=credentials,
            auth_type=AUTH_TYPES[s.auth_type],
            retry_policy=FailFast(),
        )
        with self._calling(Sentence(gettext_noop("connecting to Exchange"))):
            if self.ews_url:
                # No network yet: the auth-type probe and version check run on first use.
                account = self._account_for(config, autodiscover=False)
            else:
                account = self._autodiscover(config)
        protocol = account.protocol
        protocol.TIMEOUT = s.timeout
        if config.auth_type:
            # A protocol cached from an earlier connection keeps its own detected type.
            protocol.config.auth_type = config.auth_type
        self.ews_url = protocol.service_endpoint
        self._account = account
        return account

    def _account_for(self, config: Configuration, autodiscover: bool) -> Account:
        return Account(
            primary_smtp_address=self.settings.email,
            credentials=config.credentials,
            config=config,
            autodiscover=autodiscover,
            access_type=DELEGATE,
            # Dates are converted to UTC anyway; this skips exchangelib's tzlocal lookup.
            default_timezone=EWS_UTC,
        )

    def _autodiscover(self, config: Configuration) -> Account:
        try:
            return self._account_for(config, autodiscover=True)
        except AutoDiscoverError as exc:
            raise autodiscover_failure(self.settings.email, exc) from exc

    def _folder(self, name: str):
        key = FOLDER_KEYS.get(name.strip().lower())
        if key is None:
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "The Exchange folder %(name)r is not synced; only Inbox and Sent Items are."
                    ),
                    name=name,
                ),
                permanent=True,
            )
        if key not in self._folders:
            account = self._connect()
            with self._calling(
                Sentence(gettext_noop("opening %(folder)s"), folder=FOLDERS[key][0])
            ):
                self._folders[key] = account.inbox if key == "inbox" else account.sent
        return self._folders[key]

    def _sync_page(self, ews_folder, state: str | None, limit: int) -> tuple[list, str, bool]:
        # The service directly, not folder.sync_items(): that generator keeps fetching
        # pages until the end, and a worker must be able to commit page by page.
        service = TolerantSyncFolderItems(account=self._connect())
        changes = list(
            service.call(
                folder=ews_folder,
                shape=ID_ONLY,
                additional_fields=set(),
                sync_state=state,
                ignore=None,
                max_changes_returned=max(1, min(limit, MAX_SYNC_CHANGES)),
                sync_scope=None,
            )
        )
        return changes, service.sync_state or "", bool(service.includes_last_item_in_range)

    def _headers(self, ews_folder, refs: list[str]) -> list[FetchedHeader]:
        if not refs:
            return []
        items = self._connect().fetch(
            ids=[ItemId(id=ref) for ref in refs], folder=ews_folder, only_fields=HEADER_FIELDS
        )
        return [
            header_from_item(ref, item)
            for ref, item in zip(refs, items, strict=False)
            # Deleted between the sync and the fetch: the next page reports the deletion.
            if not isinstance(item, Exception)
        ]


class TolerantSyncFolderItems(SyncFolderItems):
    """Run SyncFolderItems, coping with error replies that carry no SyncState.

    SyncState and IncludesLastItemInRange are optional in the schema (MS-OXWSSYNC
    3.1.4.2.3.6), but exchangelib 5.6 reads both before the ResponseCode, so an error reply
    without them would raise AttributeError instead of, say, ErrorInvalidSyncStateData.
    """

    def _get_element_container(self, message, name=None):
        self.sync_state = message.findtext(f"{{{MNS}}}SyncState")
        last = message.findtext(self.last_in_range_name)
        self.includes_last_item_in_range = xml_text_to_value(last, bool) if last else True
        # Skip SyncFolder's version, which reads the two elements unguarded.
        return super(SyncFolder, self)._get_element_container(message=message, name=name)


# -- certificate checks, scoped per call ------------------------------------------------------


class ScopedCertificateChecks:
    """Mix into a requests adapter: skip certificate checks inside a trusting call only."""

    def cert_verify(self, conn, url, verify, cert):
        return super().cert_verify(conn, url, _verify(verify), cert)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        # requests >= 2.32 picks (and keys) the connection pool here.
        return super().get_connection_with_tls_context(
            request, _verify(verify), proxies=proxies, cert=cert
        )


def _verify(verify):
    return False if _trust_any_certificate.get() else verify


def install_scoped_certificate_checks() -> None:
    """Put a ScopedCertificateChecks subclass of exchangelib's adapter class in place.

    Idempotent. An adapter class someone else installed (a proxy adapter, say) is kept
    as the base, so its behaviour stays.
    """
    current = BaseProtocol.HTTP_ADAPTER_CLS
    if issubclass(current, ScopedCertificateChecks):
        return
    BaseProtocol.HTTP_ADAPTER_CLS = type(
        f"Scoped{current.__name__}", (ScopedCertificateChecks, GuardedPools, current), {}
    )


# -- cursors, changes and headers ------------------------------------------------------------


def sync_state_from_cursor(cursor: str) -> tuple[str | None, bool]:
    """Return (sync state or None for "from the start", whether the cursor was unusable)."""
    if not cursor:
        return None, False
    if cursor.startswith(CURSOR_PREFIX) and len(cursor) > len(CURSOR_PREFIX):
        return cursor[len(CURSOR_PREFIX) :], False
    return None, True


def split_changes(changes: list) -> tuple[list[str], tuple[str, ...]]:
    """Return (refs created or updated, refs deleted); read-flag changes are ignored."""
    refs: dict[str, None] = {}
    deleted: dict[str, None] = {}
    for change in changes:
        if isinstance(change, Exception):
            continue
        kind, item = change
        if kind in (SyncFolderItems.CREATE, SyncFolderItems.UPDATE):
            refs[item.id] = None
        elif kind == SyncFolderItems.DELETE:
            refs.pop(item.id, None)
            deleted[item.id] = None
    return list(refs), tuple(deleted)


def header_from_item(ref: str, item) -> FetchedHeader:
    """Build a FetchedHeader from an exchangelib item fetched with HEADER_FIELDS."""
    author = getattr(item, "author", None) or getattr(item, "sender", None)
    date = getattr(item, "datetime_sent", None) or getattr(item, "datetime_received", None)
    return FetchedHeader(
        ref=ref,
        message_id=normalize_message_id(getattr(item, "message_id", None)),
        in_reply_to=next(iter(message_ids(clean(getattr(item, "in_reply_to", None)))), None),
        references=tuple(message_ids(clean(getattr(item, "references", None)))),
        from_addr=smtp_address(author),
        to_addrs=smtp_addresses(getattr(item, "to_recipients", None)),
        cc_addrs=smtp_addresses(getattr(item, "cc_recipients", None)),
        subject=clean(getattr(item, "subject", None)),
        date=datetime.fromtimestamp(date.timestamp(), tz=UTC) if date else None,
        size=getattr(item, "size", None) or 0,
        flags=("\\Seen",) if getattr(item, "is_read", False) else (),
        from_name=clean(author.name) if author is not None else "",
        raw_headers=header_block(getattr(item, "headers", None)),
    )


def header_block(headers) -> bytes:
    """Rebuild "Name: value" lines from InternetMessageHeaders, keeping RAW_HEADER_NAMES.

    Exchange has none for items that never went through transport (drafts, some copies in
    Sent Items); the block is then empty and callers fall back to the parsed fields.
    """
    lines = []
    for header in headers or ():
        name = CONTROL_CHARS.sub("", header.name or "").strip()
        if name.lower() in RAW_HEADER_NAMES:
            # A line break inside a value would forge extra header lines in the block.
            value = (header.value or "").replace("\r", " ").replace("\n", " ")
            lines.append(f"{name}: {value}\r\n".encode("utf-8", "replace"))
    return b"".join(lines)


def clean(value: str | None) -> str:
    """Return text with control characters removed and whitespace collapsed."""
    return " ".join(CONTROL_CHARS.sub("", value or "").split())


def smtp_address(mailbox) -> str:
    """Return a Mailbox's SMTP address, or "" for Exchange-internal (EX) addresses."""
    address = clean(getattr(mailbox, "email_address", None))
    if getattr(mailbox, "routing_type", None) == "EX" or "@" not in address:
        return ""
    return address


def smtp_addresses(mailboxes) -> tuple[str, ...]:
    return tuple(a for a in (smtp_address(m) for m in mailboxes or ()) if a)


def hidden_recipients(message: OutgoingMessage) -> list[str]:
    """Return envelope recipients that no To, Cc or Bcc header names."""
    head = re.split(rb"\r?\n\r?\n", message.raw, maxsplit=1)[0]
    fields = split_header_fields(head)
    named = {
        address.lower()
        for name in ("to", "cc", "bcc")
        for _, address in parse_addresses(fields.get(name, []))
    }
    return [r for r in dict.fromkeys(message.recipients) if r.lower() not in named]


# -- errors ----------------------------------------------------------------------------------


def network_error(exc: BaseException, url: str, sending: bool) -> ProviderError | None:
    """Explain a failure below HTTP (DNS, TCP, TLS), or return None if it was not one."""
    chain = exception_chain(exc)

    parts = urlsplit(url)
    host = parts.hostname or Sentence(gettext_noop("the Exchange server"))
    where = Sentence(
        gettext_noop("%(host)s port %(port)s"),
        host=host,
        port=parts.port or (80 if parts.scheme == "http" else 443),
    )
    if refused := first_of(chain, AddressNotAllowed):
        return refused_address(refused)
    if first_of(chain, socket.gaierror):
        return ProviderError(
            Sentence(
                gettext_noop("Could not resolve %(host)s: check the server name in the EWS URL."),
                host=host,
            ),
            stage="dns",
        )
    if cert_error := first_of(chain, ssl.SSLCertVerificationError):
        reason = getattr(cert_error, "verify_message", "") or Sentence(gettext_noop("not trusted"))
        return ProviderError(
            Sentence(
                gettext_noop(
                    "The certificate of %(host)s could not be verified (%(reason)s). Check the "
                    'EWS URL, or turn on "trust any certificate" if you trust this server.'
                ),
                host=host,
                reason=reason,
            ),
            stage="tls",
            permanent=True,
        )
    if tls_error := first_of(chain, ssl.SSLError):
        reason = getattr(tls_error, "reason", None) or tls_error
        return ProviderError(
            Sentence(
                gettext_noop(
                    "The secure connection to %(where)s failed (%(reason)s). EWS URLs start with "
                    "https:// and use the port of the webmail address."
                ),
                where=where,
                reason=str(reason),
            ),
            stage="tls",
        )
    if first_of(chain, ConnectionRefusedError):
        return ProviderError(
            Sentence(
                gettext_noop("%(where)s refused the connection: check the EWS URL."), where=where
            ),
            stage="tcp",
        )
    if first_of(chain, TimeoutError) or first_of(chain, requests.Timeout):
        if sending:
            words = gettext_noop(
                "%(where)s did not answer in time. The message may or may not have been sent: "
                "look in Sent Items before sending again."
            )
        else:
            words = gettext_noop("%(where)s did not answer in time.")
        return ProviderError(Sentence(words, where=where), stage="tcp", maybe_sent=sending)
    if os_error := first_of(chain, OSError) or first_of(chain, requests.ConnectionError):
        reason = getattr(os_error, "strerror", None) or os_error
        if sending:
            words = gettext_noop(
                "Could not talk to %(where)s (%(reason)s). The message may or may not have been "
                "sent: look in Sent Items before sending again."
            )
        else:
            words = gettext_noop("Could not talk to %(where)s (%(reason)s).")
        return ProviderError(
            Sentence(words, where=where, reason=str(reason)), stage="tcp", maybe_sent=sending
        )
    return None


def ews_error(
    exc: BaseException, action: Sentence, url: str, sending: bool = False
) -> ProviderError:
    """Classify an exchangelib, requests or socket error raised while doing `action`."""
    if network := network_error(exc, url, sending):
        return network
    code = type(exc).__name__
    if isinstance(exc, UnauthorizedError):
        return ProviderError(
            Sentence(
                gettext_noop(
                    "Exchange rejected the username or password. Check them; some servers want "
                    "the username as DOMAIN\\user, and accounts with two-step verification need "
                    "an app password."
                )
            ),
            stage="auth",
            permanent=True,
        )
    if isinstance(exc, ErrorServerBusy):
        return ProviderError(
            Sentence(
                gettext_noop("Exchange is busy and asked us to wait before %(action)s."),
                action=action,
            ),
            retry_after=exc.back_off or RETRY_AFTER,
        )
    if code in TEMPORARY_CODES:
        return ProviderError(
            Sentence(
                gettext_noop(
                    "Exchange could not finish %(action)s right now (%(code)s). Trying again later."
                ),
                action=action,
                code=code,
            ),
            retry_after=RETRY_AFTER,
        )
    if code == "ErrorNonExistentMailbox":
        return ProviderError(
            Sentence(
                gettext_noop(
                    "Exchange has no mailbox for this address (%(error)s). Check the email address."
                ),
                error=str(exc),
            ),
            stage="auth",
            permanent=True,
        )
    if code in AUTH_CODES:
        return ProviderError(
            Sentence(
                gettext_noop("Exchange refused access while %(action)s (%(code)s: %(error)s)."),
                action=action,
                code=code,
                error=str(exc),
            ),
            stage="auth",
            permanent=True,
        )
    if isinstance(exc, RedirectError):
        return not_ews(url, Sentence(gettext_noop("it redirects to %(url)s"), url=exc.url))
    if isinstance(exc, CASError):
        return ProviderError(
            Sentence(
                gettext_noop(
                    "The Exchange front end could not reach the mailbox while %(action)s "
                    "(%(error)s)."
                ),
                action=action,
                error=str(exc),
            ),
            stage="protocol",
            retry_after=RETRY_AFTER,
        )
    if code in PROTOCOL_CODES:
        return not_ews(url, str(exc))
    if isinstance(exc, ResponseMessageError):
        return ProviderError(
            Sentence(
                gettext_noop("Exchange refused %(action)s (%(code)s: %(error)s)."),
                action=action,
                code=code,
                error=str(exc),
            ),
            permanent=True,
        )
    if isinstance(exc, EWSError):
        # SOAP faults, unparsable replies, "Failed to get auth type from service".
        return not_ews(url, str(exc))
    return ProviderError(
        Sentence(
            gettext_noop("Exchange failed while %(action)s (%(error)s)."),
            action=action,
            error=str(exc),
        )
    )


def not_ews(url: str, detail: str) -> ProviderError:
    """Explain that the URL answers HTTP but not as Exchange Web Services."""
    suggestion = ews_url_from_webmail(url)
    where = url or Sentence(gettext_noop("The server"))
    if suggestion and suggestion.lower() != url.lower():
        words = Sentence(
            gettext_noop(
                "%(url)s does not answer like Exchange Web Services (%(detail)s). Did you mean "
                "%(suggestion)s?"
            ),
            url=where,
            detail=detail,
            suggestion=suggestion,
        )
    else:
        words = Sentence(
            gettext_noop(
                "%(url)s does not answer like Exchange Web Services (%(detail)s). Check the EWS "
                "URL: %(hint)s."
            ),
            url=where,
            detail=detail,
            hint=Sentence(EWS_URL_HINT),
        )
    return ProviderError(
        words,
        stage="protocol",
        permanent=True,
    )


def autodiscover_failure(email: str, exc: AutoDiscoverError) -> ProviderError:
    """Explain a failed Autodiscover and ask for the EWS URL.

    exchangelib skips hosts without an A record and reports only "all steps failed", so DNS
    is asked again to tell "no such names" (stage "dns") from "the servers there did not
    answer as Autodiscover" ("protocol").
    """
    domain = email.rsplit("@", 1)[-1].lower()
    ask = Sentence(
        gettext_noop("Fill in the EWS URL (%(hint)s; the address of your webmail works too)."),
        hint=Sentence(EWS_URL_HINT),
    )
    if not autodiscover_names_exist(email):
        return ProviderError(
            Sentence(
                gettext_noop(
                    "Autodiscover found no server for %(domain)s: neither %(domain)s, "
                    "autodiscover.%(domain)s nor an _autodiscover._tcp.%(domain)s record exists "
                    "in DNS. %(ask)s"
                ),
                domain=domain,
                ask=ask,
            ),
            stage="dns",
            permanent=True,
        )
    detail = str(exc)
    if detail.startswith("All steps"):
        detail = Sentence(gettext_noop("no autodiscover address answered"))
    return ProviderError(
        Sentence(
            gettext_noop(
                "Autodiscover could not find the Exchange server for %(email)s (%(detail)s). "
                "%(ask)s"
            ),
            email=email,
            detail=detail,
            ask=ask,
        ),
        stage="protocol",
        permanent=True,
    )


def autodiscover_names_exist(email: str) -> bool:
    """Return whether any name Autodiscover looks up for `email` exists in DNS."""
    domain = email.rsplit("@", 1)[-1].rstrip(".").lower()
    # exchangelib's own resolver settings, so this asks what Autodiscover asked.
    resolver = Autodiscovery(email=email).resolver
    lookups = (
        (domain, "A"),
        (f"autodiscover.{domain}", "A"),
        (f"_autodiscover._tcp.{domain}", "SRV"),
    )
    for name, rdtype in lookups:
        try:
            resolver.resolve(f"{name}.", rdtype, lifetime=Autodiscovery.DNS_RESOLVER_LIFETIME)
        except DNS_LOOKUP_ERRORS:
            continue
        except dns.exception.DNSException:
            return True  # DNS answered oddly: do not blame missing names
        return True
    return False
