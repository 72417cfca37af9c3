"""Define the one interface every mail provider adapter implements.

Nothing here imports Django, the CRM or a provider library: callers (sync, sending, the
connect flow) see only these dataclasses and `ProviderError`, whichever provider is behind.
What a user reads (an error's message) is a `Sentence`: English, with its template marked for
the translation catalogue by `gettext_noop` and its values beside it, which the CRM translates
where it shows or stores the text (docs/architecture.md, "User-facing text").
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Stage = Literal["dns", "tcp", "tls", "auth", "protocol", "blocked", "other"]
Security = Literal["ssl", "starttls", "none"]
FolderRole = Literal["inbox", "sent", "drafts", "trash", "junk", "archive"]

STAGES = ("dns", "tcp", "tls", "auth", "protocol", "blocked", "other")
SECURITY_MODES = ("ssl", "starttls", "none")


def gettext_noop(message: str) -> str:
    """Mark `message` for the translation catalogue (makemessages looks for this name), as
    Django's own does; providers/ imports nothing of Django."""
    return message


class Sentence(str):
    """A sentence for the user: the English text, which a caller with a translation catalogue
    translates from `template` (its %(name)s placeholders filled from `params`, themselves
    sentences or plain values such as a server's own words)."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> Sentence:
        sentence = super().__new__(cls, template % params if params else template)
        sentence.template, sentence.params = template, params
        return sentence


class ProviderError(Exception):
    """Report a provider failure with what a user or a retry policy needs to act on.

    `message` is written for the inbox owner ("check the server name"), never a traceback: a
    `Sentence`, or plain text when it is only the server's own words.
    `permanent` tells workers to stop retrying and mark the inbox as needing attention;
    `retry_after` (seconds) is a hint for temporary failures. `stage` says where it failed:
    "dns", "tcp", "tls", "auth", "protocol" (wrong kind of server, unexpected reply),
    "blocked" (the server's address is one the network policy refuses; nothing was sent) or
    "other". `code` carries the server's numeric reply when there is one (SMTP 550 etc.).
    `maybe_sent` marks a send whose request reached the provider and whose answer was lost
    (a connection dropped after the message went out): it may or may not have been accepted,
    so the caller must look it up before sending it again, never retry it blind.
    """

    def __init__(
        self,
        message: str,
        *,
        stage: Stage = "other",
        permanent: bool = False,
        retry_after: float | None = None,
        code: int | None = None,
        maybe_sent: bool = False,
    ) -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        super().__init__(message)
        self.message = message
        self.stage = stage
        self.permanent = permanent
        self.retry_after = retry_after
        self.code = code
        self.maybe_sent = maybe_sent

    def __reduce__(self):
        # Keep stage/permanent when the error crosses a process boundary (Celery results).
        kwargs = {
            "stage": self.stage,
            "permanent": self.permanent,
            "retry_after": self.retry_after,
            "code": self.code,
            "maybe_sent": self.maybe_sent,
        }
        return (_rebuild_provider_error, (self.message, kwargs))

    def __repr__(self) -> str:
        return (
            f"ProviderError({self.message!r}, stage={self.stage!r}, "
            f"permanent={self.permanent!r}, retry_after={self.retry_after!r}, code={self.code!r}, "
            f"maybe_sent={self.maybe_sent!r})"
        )


def _rebuild_provider_error(message: str, kwargs: dict) -> ProviderError:
    return ProviderError(message, **kwargs)


class AddressNotAllowed(OSError):
    """A host resolved to an address the network policy refuses; nothing was connected.

    An OSError, so that the libraries adapters use pass it on as a failed connection; adapters
    turn it into `refused_address(error)`.
    """

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}, which is not a public address")
        self.host = host
        self.address = address


def refused_address(error: AddressNotAllowed) -> ProviderError:
    """Explain a refused address to the inbox's owner, without the address it resolved to
    (an internal name's address is not for everyone who can type the name)."""
    return ProviderError(
        Sentence(
            gettext_noop(
                "%(host)s is on a private or local network, which this CRM connects to only "
                "when an admin has allowed it. Use the server's public name, or ask an admin to "
                "allow it."
            ),
            host=error.host,
        ),
        stage="blocked",
        permanent=True,
    )


class SharedMailboxError(ProviderError):
    """The account is an Office 365 shared mailbox, which cannot be connected (BOX-3).

    Raised by the Graph adapter's `verify()`; the connect flow shows only its message.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionSettings:
    """Hold what is needed to reach one IMAP/SMTP inbox.

    SMTP credentials default to the IMAP ones; most providers use the same login for both.
    Passwords are left out of repr() so they never end up in logs or error reports.
    Keyword-only, because a swapped host and port would fail far from the mistake.
    """

    email: str
    username: str
    password: str = field(repr=False)
    imap_host: str
    imap_port: int
    imap_security: Security
    smtp_host: str
    smtp_port: int
    smtp_security: Security
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    trust_any_certificate: bool = False
    timeout: float = 30.0
    # Which addresses the servers may resolve to: a providers.network.NetworkPolicy (not
    # imported here, which network.py imports), or None for no check.
    network: object | None = None

    def __post_init__(self) -> None:
        for name in ("imap_security", "smtp_security"):
            if getattr(self, name) not in SECURITY_MODES:
                raise ValueError(f"{name} must be one of {SECURITY_MODES}")

    @property
    def smtp_login(self) -> tuple[str, str]:
        """Return the SMTP (username, password), falling back to the IMAP login."""
        username = self.smtp_username if self.smtp_username is not None else self.username
        password = self.smtp_password if self.smtp_password is not None else self.password
        return username, password


@dataclass(frozen=True, slots=True)
class Folder:
    """Name a folder and its role ("sent", "trash", ...) or None for ordinary folders."""

    name: str
    role: FolderRole | None = None


@dataclass(frozen=True, slots=True)
class FolderState:
    """Snapshot what sync needs to tell whether a folder changed since its cursor."""

    uidvalidity: int
    uidnext: int
    highestmodseq: int | None = None


@dataclass(frozen=True, slots=True)
class FetchedHeader:
    """Carry the decoded headers sync uses to decide whether a message matters.

    Text fields are always str (undecodable bytes become U+FFFD); addresses are bare
    addr-specs. `date` is the Date header, or the server's arrival time when that header is
    missing or unparsable, always timezone-aware.
    """

    ref: str
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    from_addr: str
    to_addrs: tuple[str, ...]
    cc_addrs: tuple[str, ...]
    subject: str
    date: datetime | None
    size: int
    flags: tuple[str, ...]
    from_name: str = ""
    # The header block as the provider gave it (or rebuilt as "Name: value" lines by API
    # adapters): callers read the automatic-mail headers (Auto-Submitted, Precedence, ...)
    # from it without fetching the message.
    raw_headers: bytes = b""


@dataclass(frozen=True, slots=True)
class FetchedMessage:
    """Carry one message's exact bytes as stored on the server."""

    ref: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """Describe one send: the SMTP envelope and the finished RFC 5322 bytes."""

    envelope_from: str
    recipients: list[str]
    raw: bytes
    message_id: str
    # When set, and the SMTP server advertises DSN (RFC 3461), ask it for a delivery status
    # notification on success and on failure, with this envelope id (ENVID) and each
    # recipient as its ORCPT. A server without DSN gets the plain envelope. SMTP only.
    dsn_envelope_id: str = ""


@dataclass(frozen=True, slots=True)
class SendResult:
    """Report what the server accepted.

    `refused` maps a recipient to the server's (code, text) for recipients refused while
    others were accepted; when all are refused, `send()` raises instead.
    """

    provider_id: str
    accepted_recipients: list[str]
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChangePage:
    """One step of incremental sync in a folder.

    Store `cursor` only after the page's messages are committed: a worker that dies in between
    then re-reads the page, and Message-IDs keep that from duplicating anything.
    """

    headers: list[FetchedHeader]
    cursor: str
    more: bool
    reset: bool = False  # the old cursor was void (UIDVALIDITY change, expired history/delta)
    deleted: tuple[str, ...] = ()  # refs of messages gone from the folder
    total: int | None = None  # messages in the folder, when cheap to know (progress)


class MailProvider(abc.ABC):
    """Talk to one connected inbox: read folders, fetch mail, send.

    Every method raises only `ProviderError` for failures a user or a worker can act on.
    Instances hold connections; they are not thread-safe, so use one per worker task and
    close it (or use it as a context manager). Each adapter takes its own settings
    dataclass, its `settings_class` (`ConnectionSettings` for IMAP/SMTP); OAuth adapters
    call the settings' token saver whenever the provider hands out new tokens, so rotated
    refresh tokens are never lost. `ref`s are the provider's own message ids as strings (an
    IMAP UID, a Gmail id); cursors are opaque strings only the adapter reads.
    """

    kind: str = ""
    # The settings dataclass the adapter takes (the registry's `settings_class(kind)`).
    settings_class: type
    # Whether the provider files a copy of sent mail in the Sent folder by itself.
    saves_sent_copy: bool = True

    def __init__(self, settings) -> None:
        self.settings = settings

    @abc.abstractmethod
    def verify(self) -> None:
        """Log in to receiving and sending sides without sending anything; raise on failure."""

    @abc.abstractmethod
    def list_folders(self) -> list[Folder]:
        """Return every folder sync may read, with its detected role."""

    @abc.abstractmethod
    def changes(self, folder: str, cursor: str, limit: int) -> ChangePage:
        """Return what arrived in `folder` since `cursor` ("" means from the beginning)."""

    @abc.abstractmethod
    def fetch_raw(self, folder: str, refs: list[str]) -> list[FetchedMessage]:
        """Return the exact bytes of the given messages without marking them read."""

    @abc.abstractmethod
    def find_by_message_id(self, folder: str, message_id: str) -> str | None:
        """Return the ref of a message with this Message-ID in the folder, or None."""

    @abc.abstractmethod
    def send(self, message: OutgoingMessage) -> SendResult:
        """Submit a message; raise ProviderError when no recipient was accepted."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; safe to call twice."""

    def __enter__(self) -> MailProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def exception_chain(exc: BaseException) -> list[BaseException]:
    """Return `exc` and everything it wraps, nearest first.

    Libraries re-raise socket and TLS errors as their own types (exchangelib, imaplib,
    aiosmtplib), and requests and urllib3 keep the original in `args` or `reason` as well as in
    the cause chain; an adapter explains a failure by the first of these it recognises.
    """
    seen: list[BaseException] = []
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked.extend(getattr(current, "args", ()))
        # ssl.SSLError.reason is a string, and args hold messages as well as exceptions.
        pending.extend(e for e in linked if isinstance(e, BaseException))
    return seen


def first_of(chain: list[BaseException], kind) -> BaseException | None:
    """The first exception in `chain` of `kind` (a type or a tuple of types), or None."""
    return next((e for e in chain if isinstance(e, kind)), None)
