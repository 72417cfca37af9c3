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
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

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
from exchangelib.errors import AutoDiscoverError, ErrorInvalidSyncStateData, EWSError
from exchangelib.items import ID_ONLY
from exchangelib.protocol import BaseProtocol, Protocol

from mailboxes.providers.base import (
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
    gettext_noop,
)
from mailboxes.providers.ews_errors import autodiscover_failure, ews_error
from mailboxes.providers.ews_wire import (
    CURSOR_PREFIX,
    TolerantSyncFolderItems,
    header_from_item,
    hidden_recipients,
    split_changes,
    sync_state_from_cursor,
)
from mailboxes.providers.headers import normalize_message_id
from mailboxes.providers.network import GuardedPools, NetworkPolicy, guarded_http

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
