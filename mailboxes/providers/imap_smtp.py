"""Reach any inbox over IMAP (reading) and SMTP submission (sending).

imapclient is synchronous; aiosmtplib is async and runs in a private event loop held by the
provider, because callers are synchronous Celery tasks. One IMAP and one SMTP connection are
kept per provider instance and reused.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

import aiosmtplib
from imapclient import IMAPClient, imap4, tls
from imapclient.datetime_util import parse_to_datetime
from imapclient.exceptions import (
    CapabilityError,
    IMAPClientAbortError,
    IMAPClientError,
    LoginError,
)
from imapclient.response_parser import parse_fetch_response
from imapclient.util import to_unicode

from mailboxes.providers.base import (
    AddressNotAllowed,
    ChangePage,
    ConnectionSettings,
    FetchedHeader,
    FetchedMessage,
    Folder,
    FolderRole,
    FolderState,
    MailProvider,
    OutgoingMessage,
    ProviderError,
    SendResult,
    Sentence,
    Stage,
    exception_chain,
    first_of,
    gettext_noop,
    refused_address,
)
from mailboxes.providers.headers import (
    CONTROL_CHARS,
    MAX_PARSED_ADDRESS_FIELD,
    decode_encoded_words,
    decode_text,
    header_ids,
    normalize_message_id,
    parse_addresses,
    parse_date,
    split_header_fields,
)
from mailboxes.providers.network import NetworkPolicy, open_connection

T = TypeVar("T")

# A connection idle longer than this gets a NOOP before reuse: servers drop idle sessions
# (IMAP after ~30 minutes, SMTP after ~5), and a dead socket found mid-APPEND or mid-DATA
# would leave us unsure whether the command took effect.
IDLE_CHECK_SECONDS = 30.0
BURST_SECONDS = 1.0

# Greylisting and "mailbox busy" replies usually clear within a few minutes.
SMTP_RETRY_AFTER = 300.0

HEADER_FIELDS = (
    "MESSAGE-ID IN-REPLY-TO REFERENCES FROM TO CC SUBJECT DATE CONTENT-TYPE AUTO-SUBMITTED "
    "X-AUTOREPLY X-AUTORESPOND PRECEDENCE X-AUTO-RESPONSE-SUPPRESS"
)
HEADER_FETCH = [
    "UID",
    "FLAGS",
    "RFC822.SIZE",
    "INTERNALDATE",
    f"BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})]",
]
# UIDs per FETCH command: runs are sent as ranges ("1:500"), scattered UIDs one by one, so
# batches keep the command line well under the 8-64 KB that servers accept while still
# fetching many messages per round trip.
FETCH_BATCH = 500
# Whole messages are up to tens of megabytes; smaller batches bound the reply buffer.
RAW_FETCH_BATCH = 100


def utf8_options(message: OutgoingMessage) -> list[str]:
    """The MAIL FROM options of `message`'s envelope: non-ASCII mailboxes need SMTPUTF8
    (RFC 6531); smtplib and aiosmtplib refuse to send them otherwise."""
    addresses = [message.envelope_from, *message.recipients]
    return [] if all(a.isascii() for a in addresses) else ["SMTPUTF8"]


class ImapSmtpProvider(MailProvider):
    """Read mail over IMAP and send it over SMTP for one user's account.

    Call it from synchronous code only: SMTP runs on the instance's own event loop, which
    cannot run inside another running loop.
    """

    kind = "imap"
    settings_class = ConnectionSettings
    # Plain SMTP servers rarely file what they relay; the sender appends to Sent itself.
    saves_sent_copy = False
    # Reading touches nothing but the IMAP connection (no database, no token refresh), so
    # sync may read ahead from a helper thread, one call at a time (mailboxes.sync.engine).
    reads_off_thread = True

    def __init__(self, settings: ConnectionSettings) -> None:
        super().__init__(settings)
        self._imap: IMAPClient | None = None
        self._imap_used_at = 0.0
        self._selected: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._smtp: aiosmtplib.SMTP | None = None
        self._smtp_used_at = 0.0

    # -- interface ---------------------------------------------------------------------

    def verify(self) -> None:
        """Log in to IMAP and list folders, then EHLO and AUTH on SMTP; send nothing."""
        self._drop_imap()
        self.list_folders()
        self._run(self._smtp_drop())
        self._run(self._smtp_client())

    def list_folders(self) -> list[Folder]:
        """Return selectable folders, with roles from SPECIAL-USE flags or well-known names."""
        return self._imap_call(
            Sentence(gettext_noop("listing folders")),
            lambda c: folders_with_roles(c.list_folders()),
        )

    def folder_state(self, folder: str) -> FolderState:
        """Select the folder afresh and return its UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ."""

        def op(client: IMAPClient) -> FolderState:
            self._selected = None
            info = client.select_folder(folder, readonly=True)
            self._selected = folder
            uidnext = info.get(b"UIDNEXT")
            if uidnext is None:
                # IMAP4rev1 only says SHOULD for UIDNEXT on SELECT; STATUS always has it.
                uidnext = client.folder_status(folder, [b"UIDNEXT"])[b"UIDNEXT"]
            modseq = info.get(b"HIGHESTMODSEQ")
            return FolderState(
                uidvalidity=int(info[b"UIDVALIDITY"]),
                uidnext=int(uidnext),
                highestmodseq=int(modseq) if modseq else None,
            )

        return self._imap_call(Sentence(gettext_noop("opening %(folder)s"), folder=folder), op)

    def fetch_headers(self, folder: str, uid_from: int, limit: int) -> list[FetchedHeader]:
        """Return decoded headers of up to `limit` messages with UID >= uid_from, oldest first.

        Only the header fields sync needs are fetched, with BODY.PEEK so nothing is marked
        read. Decoding never raises: bad charsets and encodings become U+FFFD.
        """
        uid_from = max(1, uid_from)

        def op(client: IMAPClient) -> list[FetchedHeader]:
            self._select(client, folder)
            # "n:*" always matches the highest UID even when it is below n, hence the filter.
            uids = sorted(u for u in client.search(["UID", f"{uid_from}:*"]) if u >= uid_from)
            uids = uids[:limit]
            if not uids:
                return []
            response = fetch_batched(client, uids, HEADER_FETCH)
            return [header_from_fetch(uid, response[uid]) for uid in uids if uid in response]

        return self._imap_call(
            Sentence(gettext_noop("reading headers in %(folder)s"), folder=folder), op
        )

    def changes(self, folder: str, cursor: str, limit: int) -> ChangePage:
        """Return headers of messages that arrived after the cursor, oldest first.

        The cursor is "v1:<UIDVALIDITY>:<last UID seen>:<HIGHESTMODSEQ>". When the server's
        UIDVALIDITY differs from the cursor's, every UID it holds is void: start over and say
        so (`reset`), so the caller re-reads the folder and relies on Message-IDs to avoid
        duplicates.
        """
        state = self.folder_state(folder)
        validity, last_uid = parse_imap_cursor(cursor)
        reset = bool(cursor) and validity != state.uidvalidity
        if reset or not cursor:
            last_uid = 0
        headers = (
            self.fetch_headers(folder, last_uid + 1, limit) if state.uidnext > last_uid + 1 else []
        )
        if headers:
            last_uid = max(int(h.ref) for h in headers)
        modseq = state.highestmodseq or 0
        return ChangePage(
            headers=headers,
            cursor=f"v1:{state.uidvalidity}:{last_uid}:{modseq}",
            more=len(headers) >= limit and last_uid + 1 < state.uidnext,
            reset=reset,
            total=state.uidnext - 1,
        )

    def fetch_raw(self, folder: str, refs: list[str]) -> list[FetchedMessage]:
        """Return the exact bytes of the given UIDs (missing ones are skipped), unread."""
        wanted = sorted({int(ref) for ref in refs})

        def op(client: IMAPClient) -> list[FetchedMessage]:
            self._select(client, folder)
            response = fetch_batched(client, wanted, ["BODY.PEEK[]"], RAW_FETCH_BATCH)
            return [
                FetchedMessage(ref=str(uid), raw=bytes(response[uid][b"BODY[]"]))
                for uid in wanted
                if response.get(uid, {}).get(b"BODY[]") is not None
            ]

        if not wanted:
            return []
        return self._imap_call(
            Sentence(gettext_noop("reading messages in %(folder)s"), folder=folder), op
        )

    def find_by_message_id(self, folder: str, message_id: str) -> str | None:
        """Return the lowest UID whose Message-ID equals `message_id`, or None.

        SEARCH HEADER is a substring match on most servers, so candidates are confirmed by
        reading their Message-ID back.
        """
        target = normalize_message_id(message_id)
        if target is None:
            return None

        def op(client: IMAPClient) -> str | None:
            self._select(client, folder)
            needle = target.strip("<>")
            charset = None if needle.isascii() else "UTF-8"
            candidates = sorted(client.search(["HEADER", "Message-ID", needle], charset))
            if not candidates:
                return None
            response = fetch_batched(client, candidates, HEADER_FETCH)
            for uid in sorted(response):
                if header_from_fetch(uid, response[uid]).message_id == target:
                    return str(uid)
            return None

        return self._imap_call(Sentence(gettext_noop("searching %(folder)s"), folder=folder), op)

    def append(self, folder: str, raw: bytes, flags: tuple[str, ...] = ()) -> str | None:
        """Store `raw` in `folder` with `flags`; return the new UID when the server says it."""

        def op(client: IMAPClient) -> str | None:
            reply = client.append(folder, raw, flags=flags)
            match = re.search(rb"\[APPENDUID \d+ (\d+)\]", reply or b"")
            return match.group(1).decode() if match else None

        return self._imap_call(
            Sentence(gettext_noop("saving a copy to %(folder)s"), folder=folder), op
        )

    def send(self, message: OutgoingMessage) -> SendResult:
        """Submit the message over SMTP once; never retry here (the caller owns retries).

        Raises a permanent ProviderError for 5xx refusals, a temporary one with
        `retry_after` for 4xx, and a temporary "tcp" one when the connection drops: before
        DATA nothing went out; after it the error has `maybe_sent` (the message may or may
        not have been accepted: look it up, never resend blind).
        """
        check_envelope(message)
        return self._run(self._smtp_send(message))

    def close(self) -> None:
        """Log out of IMAP and quit SMTP, ignoring errors from already-dead connections."""
        self._drop_imap(logout=True)
        if self._loop is not None and not self._loop.is_closed():
            self._run(self._smtp_drop(quit=True))
            self._loop.close()
        self._loop = None

    # -- IMAP plumbing -----------------------------------------------------------------

    def _imap_call(self, action: Sentence, op: Callable[[IMAPClient], T]) -> T:
        client = self._imap_client()
        try:
            result = op(client)
        except (IMAPClientAbortError, OSError) as exc:
            self._drop_imap()
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "The connection to %(host)s dropped while %(action)s. Try again in a "
                        "moment."
                    ),
                    host=self.settings.imap_host,
                    action=action,
                ),
                stage="tcp",
            ) from exc
        except IMAPClientError as exc:
            # A failed SELECT leaves no mailbox selected.
            self._selected = None
            raise imap_refusal(exc, action) from exc
        self._imap_used_at = time.monotonic()
        return result

    def _imap_client(self) -> IMAPClient:
        if self._imap is not None and time.monotonic() - self._imap_used_at > IDLE_CHECK_SECONDS:
            try:
                self._imap.noop()
            except (IMAPClientError, OSError):
                self._drop_imap()
        if self._imap is None:
            self._imap = self._imap_connect()
            self._imap_used_at = time.monotonic()
        return self._imap

    def _imap_connect(self) -> IMAPClient:
        s = self.settings
        # Loading the system's certificates takes tens of milliseconds: only for TLS.
        context = ssl_context(s) if s.imap_security != "none" else None
        try:
            client = GuardedIMAPClient(
                s.imap_host,
                port=s.imap_port,
                ssl=s.imap_security == "ssl",
                ssl_context=context,
                timeout=s.timeout,
                network=s.network,
            )
        except (OSError, IMAPClientError) as exc:
            raise connection_error(exc, "IMAP", s.imap_host, s.imap_port, s.timeout) from exc
        # imapclient turns on imaplib's debug copy of every response line, which makes bulk
        # FETCH about six times slower (0.6 ms against 0.095 ms a message from Dovecot).
        client._imap.debug = 0
        # Keep INTERNALDATE timezone-aware instead of converted to the worker's local time.
        client.normalise_times = False
        try:
            if s.imap_security == "starttls":
                self._imap_starttls(client, context)
            if f"{s.username}{s.password}".isascii():
                client.login(s.username, s.password)
            else:
                # imaplib sends LOGIN arguments as ASCII; AUTHENTICATE PLAIN carries UTF-8.
                client.plain_login(s.username, s.password)
            enable_condstore(client)
        except LoginError as exc:
            shutdown_quietly(client)
            raise login_error(server_text(exc), "IMAP", s.imap_host) from exc
        except ProviderError:
            shutdown_quietly(client)
            raise
        except (OSError, IMAPClientError) as exc:
            shutdown_quietly(client)
            raise connection_error(exc, "IMAP", s.imap_host, s.imap_port, s.timeout) from exc
        self._selected = None
        return client

    def _imap_starttls(self, client: IMAPClient, context: ssl.SSLContext) -> None:
        try:
            client.starttls(context)
        except CapabilityError as exc:
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "%(host)s does not offer STARTTLS on port %(port)s: choose SSL (usually "
                        "port 993) instead."
                    ),
                    host=self.settings.imap_host,
                    port=self.settings.imap_port,
                ),
                stage="tls",
                permanent=True,
            ) from exc

    def _select(self, client: IMAPClient, folder: str) -> None:
        # EXAMINE (read-only) is a second guarantee, after BODY.PEEK, that reading never
        # changes \Seen; APPEND does not need a selected mailbox.
        if self._selected != folder:
            self._selected = None
            client.select_folder(folder, readonly=True)
            self._selected = folder

    def _drop_imap(self, logout: bool = False) -> None:
        client, self._imap, self._selected = self._imap, None, None
        if client is None:
            return
        if logout:
            try:
                client.logout()
                return
            except (IMAPClientError, OSError):
                pass
        shutdown_quietly(client)

    # -- SMTP plumbing -----------------------------------------------------------------

    def _run(self, coro):
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # the usual case: no loop runs on this thread
            return self._loop.run_until_complete(coro)
        # Called from inside another event loop (Playwright's, a notebook's), where ours
        # cannot run: run it on a thread of its own.
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(self._loop.run_until_complete, coro).result()

    async def _smtp_client(self) -> aiosmtplib.SMTP:
        smtp = self._smtp
        if time.monotonic() - self._smtp_used_at > BURST_SECONDS:
            # Let a pending connection_lost callback run so a socket the server closed while
            # the loop was idle shows up as disconnected. Not between the sends of a burst:
            # each extra turn of the loop lets another thread take the interpreter lock.
            await asyncio.sleep(0)
        if smtp is not None and smtp.is_connected:
            if time.monotonic() - self._smtp_used_at > IDLE_CHECK_SECONDS:
                try:
                    await smtp.noop()
                except (aiosmtplib.SMTPException, OSError):
                    smtp.close()
        if smtp is None or not smtp.is_connected:
            self._smtp = None
            smtp = await self._smtp_connect()
            self._smtp = smtp
        self._smtp_used_at = time.monotonic()
        return smtp

    async def _smtp_connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        host, port = s.smtp_host, s.smtp_port
        try:
            # The socket is ours, opened to an address the network policy allowed; TLS still
            # checks the certificate against the host name.
            sock = open_connection(host, port, s.timeout, s.network)
        except OSError as exc:
            raise smtp_connection_error(exc, s) from exc
        # STARTTLS is done by hand below so a server that does not offer it gets a clear
        # message instead of a silent plain-text session.
        smtp = _SMTP(
            hostname=host,
            sock=sock,
            use_tls=s.smtp_security == "ssl",
            start_tls=False,
            tls_context=ssl_context(s),
            timeout=s.timeout,
        )
        try:
            await smtp.connect()
            await smtp.ehlo()
            if s.smtp_security == "starttls":
                if not smtp.supports_extension("starttls"):
                    raise ProviderError(
                        Sentence(
                            gettext_noop(
                                "%(host)s does not offer STARTTLS on port %(port)s: choose SSL "
                                "(usually port 465) instead."
                            ),
                            host=host,
                            port=port,
                        ),
                        stage="tls",
                        permanent=True,
                    )
                await smtp.starttls()
                await smtp.ehlo()
        except ProviderError:
            smtp.close()
            raise
        except (aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise smtp_connection_error(exc, s) from exc
        username, password = s.smtp_login
        if username:
            try:
                await smtp.login(username, password)
            except aiosmtplib.SMTPAuthenticationError as exc:
                smtp.close()
                raise login_error(f"{exc.code} {exc.message}", "SMTP", host, exc.code) from exc
            except aiosmtplib.SMTPResponseException as exc:
                smtp.close()
                raise smtp_refusal(exc, Sentence(gettext_noop("the login")), stage="auth") from exc
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
                smtp.close()
                raise smtp_connection_error(exc, s) from exc
            except aiosmtplib.SMTPException as exc:
                smtp.close()
                raise ProviderError(
                    Sentence(
                        gettext_noop(
                            "%(host)s does not offer a login this product can use (%(error)s). "
                            "Check the SMTP security setting: many servers offer login only "
                            "after STARTTLS or on SSL."
                        ),
                        host=host,
                        error=str(exc),
                    ),
                    stage="auth",
                    permanent=True,
                ) from exc
        return smtp

    async def _smtp_send(self, message: OutgoingMessage) -> SendResult:
        smtp = await self._smtp_client()
        smtp.in_data = False
        options = utf8_options(message)
        smtp.dsn = bool(message.dsn_envelope_id) and smtp.supports_extension("dsn")
        if smtp.dsn:
            options += dsn_mail_options(message.dsn_envelope_id)
        try:
            errors, reply = await smtp.sendmail(
                message.envelope_from, message.recipients, message.raw, mail_options=options
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise all_recipients_refused(exc) from exc
        except aiosmtplib.SMTPNotSupported as exc:
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "The SMTP server cannot send to or from non-ASCII addresses (%(error)s)."
                    ),
                    error=str(exc),
                ),
                permanent=True,
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code == 421:
                # 421 means the server is closing this session; start a fresh one next time.
                smtp.close()
            raise smtp_refusal(exc, Sentence(gettext_noop("the message"))) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            if not smtp.in_data:
                # Dropped during MAIL FROM or RCPT TO: the server has no message to deliver.
                raise ProviderError(
                    Sentence(
                        gettext_noop(
                            "The connection to %(host)s dropped before the message was sent; "
                            "nothing went out."
                        ),
                        host=self.settings.smtp_host,
                    ),
                    stage="tcp",
                ) from exc
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "The connection to %(host)s dropped while sending, before the server "
                        "answered; the message may or may not have been accepted."
                    ),
                    host=self.settings.smtp_host,
                ),
                stage="tcp",
                maybe_sent=True,
            ) from exc
        except ValueError as exc:
            # aiosmtplib's own check for characters that cannot go on an SMTP command line.
            raise ProviderError(
                Sentence(gettext_noop("Refusing to send: %(error)s."), error=str(exc)),
                permanent=True,
            ) from exc
        self._smtp_used_at = time.monotonic()
        refused = {rcpt: (resp.code, resp.message) for rcpt, resp in errors.items()}
        return SendResult(
            provider_id=queue_id(reply) or message.message_id,
            accepted_recipients=[r for r in message.recipients if r not in refused],
            refused=refused,
        )

    async def _smtp_drop(self, quit: bool = False) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        if quit and smtp.is_connected:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                pass
        smtp.close()


# -- connection and error helpers ----------------------------------------------------------


class _SMTP(aiosmtplib.SMTP):
    """aiosmtplib's client, noting when DATA starts: a connection lost before it cannot have
    delivered anything, one lost after it may have (the server may have stored the message
    and dropped the connection before its 250)."""

    in_data = False
    # Ask for delivery status notifications on each RCPT (set per message, `_smtp_send`).
    dsn = False

    async def data(self, *args, **kwargs):
        self.in_data = True
        return await super().data(*args, **kwargs)

    async def rcpt(self, recipient: str, options: Iterable[str] | None = None, **kwargs):
        if self.dsn:
            options = [*(options or ()), *dsn_rcpt_options(recipient)]
        return await super().rcpt(recipient, options=options, **kwargs)


def xtext(value: str) -> str:
    """RFC 3461's xtext: "+", "=" and anything outside "!".."~" as "+" and two hex digits."""
    return "".join(
        c if "!" <= c <= "~" and c not in "+=" else "".join(f"+{b:02X}" for b in c.encode())
        for c in value
    )


# RFC 3461 caps ENVID at 100 characters (xtext included).
ENVID_LIMIT = 100


def dsn_mail_options(envelope_id: str) -> list[str]:
    """MAIL FROM's DSN parameters: only the headers returned, and the envelope id when it fits
    (without it a report is still matched by the Message-ID in the returned headers)."""
    envid = xtext(envelope_id)
    return ["RET=HDRS", *([f"ENVID={envid}"] if len(envid) <= ENVID_LIMIT else [])]


def dsn_rcpt_options(recipient: str) -> list[str]:
    """RCPT TO's DSN parameters: a report on success and on failure (not on delay), and the
    address as given (ORCPT, rfc822 type: an ASCII address only, RFC 6533 covers the rest)."""
    options = ["NOTIFY=SUCCESS,FAILURE"]
    if recipient.isascii():
        options.append(f"ORCPT=rfc822;{xtext(recipient)}")
    return options


class GuardedIMAPClient(IMAPClient):
    """IMAPClient whose socket comes from `open_connection`, so the network policy is checked
    on the address actually connected to (imaplib would resolve the name again itself)."""

    def __init__(self, *args, network: NetworkPolicy | None = None, **kwargs) -> None:
        self._network = network  # read by _create_IMAP4, which IMAPClient.__init__ calls
        super().__init__(*args, **kwargs)

    def _create_IMAP4(self):
        timeout = getattr(self._timeout, "connect", None)
        if self.ssl:
            return _GuardedIMAP4TLS(self.host, self.port, self.ssl_context, timeout, self._network)
        return _GuardedIMAP4(self.host, self.port, timeout, self._network)


class _GuardedIMAP4(imap4.IMAP4WithTimeout):
    def __init__(self, host, port, timeout, network) -> None:
        self._network = network
        super().__init__(host, port, timeout)

    def _create_socket(self, timeout=None):
        return open_connection(
            self.host, self.port, timeout if timeout is not None else self._timeout, self._network
        )


class _GuardedIMAP4TLS(tls.IMAP4_TLS):
    def __init__(self, host, port, ssl_context, timeout, network) -> None:
        self._network = network
        super().__init__(host, port, ssl_context, timeout)

    def _create_socket(self, timeout=None):
        sock = open_connection(
            self.host, self.port, timeout if timeout is not None else self._timeout, self._network
        )
        return tls.wrap_socket(sock, self.ssl_context, self.host)


def ssl_context(settings: ConnectionSettings) -> ssl.SSLContext:
    """Build a verifying TLS context, or one that trusts any certificate when asked to."""
    context = ssl.create_default_context()
    if settings.trust_any_certificate:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def enable_condstore(client: IMAPClient) -> None:
    """Ask for HIGHESTMODSEQ on SELECT; without ENABLE, Dovecot and others leave it out."""
    if not client.has_capability("CONDSTORE"):
        return
    try:
        client.enable("CONDSTORE")
    except IMAPClientAbortError:
        raise
    except IMAPClientError:
        # Optional: sync then falls back to UIDs alone (highestmodseq is None).
        pass


def shutdown_quietly(client: IMAPClient) -> None:
    """Close an IMAP socket that may already be dead."""
    try:
        client.shutdown()
    except (IMAPClientError, OSError):
        pass


def connection_error(
    exc: BaseException, service: str, host: str, port: int, timeout: float
) -> ProviderError:
    """Explain a failure to open a session, by the first stage that went wrong."""
    chain = exception_chain(exc)

    where = Sentence(gettext_noop("%(host)s port %(port)s"), host=host, port=port)
    if refused := first_of(chain, AddressNotAllowed):
        return refused_address(refused)
    if first_of(chain, socket.gaierror):
        return ProviderError(
            Sentence(gettext_noop("Could not resolve %(host)s: check the server name."), host=host),
            stage="dns",
        )
    if cert_error := first_of(chain, ssl.SSLCertVerificationError):
        reason = getattr(cert_error, "verify_message", "") or Sentence(gettext_noop("not trusted"))
        return ProviderError(
            Sentence(
                gettext_noop(
                    "The certificate of %(host)s could not be verified (%(reason)s). Check the "
                    'server name, or turn on "trust any certificate" if you trust this server.'
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
                    "The secure connection to %(where)s failed (%(reason)s). Check that the "
                    "security setting matches the port (SSL is usually 993 for IMAP and 465 for "
                    "SMTP, STARTTLS 143 and 587)."
                ),
                where=where,
                reason=str(reason),
            ),
            stage="tls",
        )
    if first_of(chain, ConnectionRefusedError):
        return ProviderError(
            Sentence(
                gettext_noop(
                    "%(where)s refused the connection: check the %(service)s port and server name."
                ),
                where=where,
                service=service,
            ),
            stage="tcp",
        )
    if first_of(chain, TimeoutError):
        return ProviderError(
            Sentence(
                gettext_noop(
                    "No answer from %(where)s within %(timeout)g seconds: check the server name "
                    "and port, and that the security setting matches the port."
                ),
                where=where,
                timeout=timeout,
            ),
            stage="tcp",
        )
    if os_error := first_of(chain, OSError):
        reason = getattr(os_error, "strerror", None) or os_error
        return ProviderError(
            Sentence(
                gettext_noop(
                    "Could not talk to %(where)s (%(reason)s): check the server name and port."
                ),
                where=where,
                reason=str(reason),
            ),
            stage="tcp",
        )
    return ProviderError(
        Sentence(
            gettext_noop(
                "%(where)s did not answer like an %(service)s server: check the port and the "
                "security setting."
            ),
            where=where,
            service=service,
        ),
        stage="protocol",
        permanent=True,
    )


def login_error(detail: str, service: str, host: str, code: int | None = None) -> ProviderError:
    """Explain a refused login; temporary only when the server says so."""
    upper = detail.upper()
    if "[UNAVAILABLE]" in upper or (code is not None and 400 <= code < 500):
        return ProviderError(
            Sentence(
                gettext_noop(
                    "%(host)s could not check the %(service)s login right now (%(detail)s). Try "
                    "again later."
                ),
                host=host,
                service=service,
                detail=detail,
            ),
            stage="auth",
            code=code,
        )
    # 530/538 and these IMAP codes mean "not over an unencrypted connection".
    if code in (530, 538) or any(
        hint in upper for hint in ("[PRIVACYREQUIRED]", "PLAINTEXT", "STARTTLS")
    ):
        return ProviderError(
            Sentence(
                gettext_noop(
                    "%(host)s accepts the %(service)s password only over an encrypted "
                    "connection: choose SSL or STARTTLS."
                ),
                host=host,
                service=service,
            ),
            stage="auth",
            permanent=True,
            code=code,
        )
    return ProviderError(
        Sentence(
            gettext_noop(
                "The %(service)s server rejected the username or password (%(detail)s). Check "
                "them; accounts with two-step verification need an app password."
            ),
            service=service,
            detail=detail,
        ),
        stage="auth",
        permanent=True,
        code=code,
    )


def server_text(exc: BaseException) -> str:
    """Return an imaplib error's server text without the b'...' that str() adds."""
    text = str(exc)
    match = re.fullmatch(r"b(['\"])(.*)\1", text, re.DOTALL)
    return match.group(2) if match else text


def imap_refusal(exc: IMAPClientError, action: Sentence) -> ProviderError:
    """Explain a NO or BAD reply to a command after login."""
    text = server_text(exc)
    temporary = any(code in text.upper() for code in ("[UNAVAILABLE]", "[INUSE]", "[LIMIT]"))
    return ProviderError(
        Sentence(
            gettext_noop("The IMAP server refused %(action)s: %(reply)s"), action=action, reply=text
        ),
        stage="protocol",
        permanent=not temporary,
    )


def smtp_connection_error(exc: BaseException, settings: ConnectionSettings) -> ProviderError:
    """Explain a failure to open an SMTP session, including a refusing greeting."""
    host, port = settings.smtp_host, settings.smtp_port
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 400:
        return ProviderError(
            Sentence(
                gettext_noop(
                    "%(host)s port %(port)s refused the SMTP session (%(code)s %(reply)s)."
                ),
                host=host,
                port=port,
                code=exc.code,
                reply=exc.message,
            ),
            stage="protocol",
            permanent=exc.code >= 500,
            retry_after=None if exc.code >= 500 else SMTP_RETRY_AFTER,
            code=exc.code,
        )
    return connection_error(exc, "SMTP", host, port, settings.timeout)


def smtp_refusal(
    exc: aiosmtplib.SMTPResponseException, what: Sentence, stage: Stage = "other"
) -> ProviderError:
    """Classify an SMTP reply code: 4xx is temporary, 5xx permanent."""
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        what = Sentence(gettext_noop("the sender address %(address)s"), address=exc.sender)
    temporary = 400 <= exc.code < 500
    return ProviderError(
        Sentence(
            gettext_noop("The SMTP server refused %(what)s (%(code)s %(reply)s)."),
            what=what,
            code=exc.code,
            reply=exc.message,
        ),
        # Codes outside 4xx/5xx (aiosmtplib uses -1 for garbage) mean a confused server.
        stage=stage if exc.code >= 400 else "protocol",
        permanent=not temporary,
        retry_after=SMTP_RETRY_AFTER if temporary else None,
        code=exc.code,
    )


def all_recipients_refused(exc: aiosmtplib.SMTPRecipientsRefused) -> ProviderError:
    """Turn "every recipient refused" into one error, temporary if any refusal was 4xx."""
    refusals = exc.recipients
    temporary = any(400 <= r.code < 500 for r in refusals)
    detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in refusals)
    return ProviderError(
        Sentence(
            gettext_noop("The SMTP server refused every recipient (%(detail)s)."), detail=detail
        ),
        permanent=not temporary,
        retry_after=SMTP_RETRY_AFTER if temporary else None,
        code=next((r.code for r in refusals if 400 <= r.code < 500), refusals[0].code),
    )


def check_envelope(message: OutgoingMessage) -> None:
    """Refuse envelopes that could smuggle extra SMTP commands or have no recipient."""
    if not message.recipients:
        raise ProviderError(
            Sentence(gettext_noop("Refusing to send: the message has no recipients.")),
            permanent=True,
        )
    for address in (message.envelope_from, *message.recipients):
        if "\r" in address or "\n" in address:
            raise ProviderError(
                Sentence(
                    gettext_noop(
                        "Refusing to send: the envelope address %(address)r contains a line break."
                    ),
                    address=address,
                ),
                permanent=True,
            )


def queue_id(reply: str) -> str | None:
    """Return the server's queue id from a DATA reply such as Postfix's "queued as ABC"."""
    match = re.search(r"queued as ([\w.-]+)", reply or "", re.IGNORECASE)
    return match.group(1) if match else None


# -- folders -----------------------------------------------------------------------------

SPECIAL_USE_ROLES: dict[bytes, FolderRole] = {
    b"\\sent": "sent",
    b"\\drafts": "drafts",
    b"\\trash": "trash",
    b"\\junk": "junk",
    b"\\archive": "archive",
}
# Fallbacks for servers without SPECIAL-USE, compared case-insensitively after any
# "INBOX." prefix (Courier and Cyrus nest everything under INBOX).
NAME_ROLES: dict[str, FolderRole] = {
    "sent": "sent",
    "sent items": "sent",
    "sent messages": "sent",
    "sent mail": "sent",
    "[gmail]/sent mail": "sent",
    "[google mail]/sent mail": "sent",
    "drafts": "drafts",
    "draft": "drafts",
    "[gmail]/drafts": "drafts",
    "trash": "trash",
    "deleted items": "trash",
    "deleted messages": "trash",
    "[gmail]/trash": "trash",
    "junk": "junk",
    "junk e-mail": "junk",
    "junk email": "junk",
    "spam": "junk",
    "[gmail]/spam": "junk",
    "archive": "archive",
    "archives": "archive",
}


def folders_with_roles(entries: Iterable[tuple]) -> list[Folder]:
    """Turn LIST replies into Folders; attributes win over names, one folder per role."""
    listed = []
    for flags, delimiter, name in entries:
        lowered = {bytes(f).lower() for f in flags}
        if b"\\noselect" in lowered or b"\\nonexistent" in lowered:
            continue
        if isinstance(delimiter, bytes):
            delimiter = delimiter.decode("ascii", "replace")
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        listed.append((lowered, delimiter or "", name))

    roles: dict[str, FolderRole] = {}

    def claim(name: str, role: FolderRole | None) -> None:
        if role is not None and name not in roles and role not in roles.values():
            roles[name] = role

    for _, _, name in listed:
        if name.upper() == "INBOX":
            claim(name, "inbox")
    for flags, _, name in listed:
        claim(name, next((r for f, r in SPECIAL_USE_ROLES.items() if f in flags), None))
    for _, delimiter, name in listed:
        key = name.lower()
        if delimiter and key.startswith("inbox" + delimiter):
            key = key[len("inbox" + delimiter) :]
        claim(name, NAME_ROLES.get(key))
    return [Folder(name=name, role=roles.get(name)) for _, _, name in listed]


def fetch_batched(
    client: IMAPClient, uids: list[int], items: list[str], batch: int = FETCH_BATCH
) -> dict[int, dict]:
    """UID FETCH `items` for many messages, a few hundred per command.

    The same result as imapclient's `fetch()`, but replies in the plain shape servers send
    (one literal per message, then atoms) are read by `parse_fetch_fast`, about five times
    faster than imapclient's tokenizer on header-sized messages; anything else goes through
    imapclient's parser. INTERNALDATE stays bytes on the fast path (see `internal_date`).
    """
    response: dict[int, dict] = {}
    command_items = "(" + " ".join(items) + ")"
    for start in range(0, len(uids), batch):
        wanted = uids[start : start + batch]
        typ, data = client._imap.uid("FETCH", sequence_set(wanted), command_items)
        if typ != "OK":
            raise IMAPClientError(f"fetch failed: {to_unicode(data[0])}")
        parsed = parse_fetch_fast(data)
        if parsed is None:
            parsed = parse_fetch_response(data, client.normalise_times, True)
        # Unsolicited FETCH replies may name other messages; keep the ones asked for.
        response.update((uid, parsed[uid]) for uid in wanted if uid in parsed)
    return response


def sequence_set(uids: list[int]) -> str:
    """Write sorted UIDs as an IMAP sequence set, runs as ranges: 1:500,502,504:510."""
    parts = []
    first = previous = None
    for uid in uids:
        if previous is not None and uid == previous + 1:
            previous = uid
            continue
        if first is not None:
            parts.append(str(first) if first == previous else f"{first}:{previous}")
        first = previous = uid
    if first is not None:
        parts.append(str(first) if first == previous else f"{first}:{previous}")
    return ",".join(parts)


# "<seq> (<atoms> <section> {<size>}": the part of a FETCH reply before its one literal.
_FETCH_HEAD = re.compile(rb"(\d+) \((.*?) ?(BODY\[[^\]]*\](?:<\d+>)?) \{\d+\}", re.I)
# The reply to HEADER_FETCH as Dovecot, Gmail and most servers send it, read in one match.
_FETCH_HEADER_REPLY = re.compile(
    rb'(\d+) \(UID (\d+) FLAGS \(([^()"{}\[\]]*)\) RFC822\.SIZE (\d+) INTERNALDATE "([^"\\]*)" '
    rb"(BODY\[HEADER\.FIELDS \([^\]]*\)\]) \{\d+\}"
)
_FETCH_ITEM = re.compile(
    rb'(UID|RFC822\.SIZE) (\d+)|(FLAGS) \(([^()"{}\[\]]*)\)|(INTERNALDATE) "([^"\\]*)"'
    rb"|(MODSEQ) \((\d+)\)",
    re.I,
)


def parse_fetch_fast(data: list) -> dict[int, dict] | None:
    """Parse imaplib's FETCH data when every reply is "(atoms, one literal, atoms)"; else None.

    Values match imapclient's `parse_fetch_response` for those replies (FLAGS a tuple of
    bytes, numbers ints, the literal bytes under its upper-cased section name), except
    INTERNALDATE, left as the server's bytes. Flags imapclient would turn into None or an int
    (NIL, digits), or any other shape, return None so that imapclient parses the reply.
    """
    if data == [None]:
        return {}
    if len(data) % 2:
        return None
    parsed: dict[int, dict] = {}
    for index in range(0, len(data), 2):
        head, tail = data[index], data[index + 1]
        if not (isinstance(head, tuple) and len(head) == 2 and isinstance(tail, bytes)):
            return None
        plain = _FETCH_HEADER_REPLY.fullmatch(head[0]) if tail == b")" else None
        if plain is not None:
            seq, uid, flags, size, date, section = plain.groups()
            flags = tuple(flags.split())
            if any(f.upper() == b"NIL" or f.isdigit() for f in flags):
                return None
            parsed.setdefault(int(uid), {}).update(
                {
                    b"SEQ": int(seq),
                    section: head[1],
                    b"FLAGS": flags,
                    b"RFC822.SIZE": int(size),
                    b"INTERNALDATE": date,
                }
            )
            continue
        match = _FETCH_HEAD.fullmatch(head[0])
        if match is None or not tail.endswith(b")"):
            return None
        message: dict = {b"SEQ": int(match.group(1)), match.group(3).upper(): head[1]}
        uid = None
        for atoms in (match.group(2), tail[:-1].strip()):
            position = 0
            while position < len(atoms):
                item = _FETCH_ITEM.match(atoms, position)
                if item is None:
                    return None
                name = item.group(1) or item.group(3) or item.group(5) or item.group(7)
                name = name.upper()
                if name == b"UID":
                    uid = int(item.group(2))
                elif name == b"RFC822.SIZE":
                    message[name] = int(item.group(2))
                elif name == b"FLAGS":
                    flags = tuple(item.group(4).split())
                    if any(f.upper() == b"NIL" or f.isdigit() for f in flags):
                        return None
                    message[name] = flags
                elif name == b"INTERNALDATE":
                    message[name] = item.group(6)
                else:
                    message[name] = (int(item.group(8)),)
                position = item.end()
                if position < len(atoms):
                    if atoms[position : position + 1] != b" ":
                        return None
                    position += 1
        if uid is None:
            return None
        parsed.setdefault(uid, {}).update(message)
    return parsed


def internal_date(value) -> datetime | None:
    """INTERNALDATE as imapclient gives it with normalise_times off: aware, or None."""
    if isinstance(value, bytes):
        try:
            return parse_to_datetime(value, normalise=False)
        except ValueError:
            return None
    return value if isinstance(value, datetime) else None


def parse_imap_cursor(cursor: str) -> tuple[int | None, int]:
    """Return (UIDVALIDITY, last UID) from a cursor; (None, 0) for an empty or unknown one."""
    parts = cursor.split(":")
    if len(parts) == 4 and parts[0] == "v1" and parts[1].isdigit() and parts[2].isdigit():
        return int(parts[1]), int(parts[2])
    return None, 0


def header_from_fetch(uid: int, data: dict) -> FetchedHeader:
    """Build a FetchedHeader from one FETCH result (see `fetch_batched`)."""
    block = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER")), b"") or b""
    fields = split_header_fields(bytes(block))

    def text(name: str) -> str:
        return decode_text(fields[name][0]) if name in fields else ""

    senders = addresses(fields.get("from", []))
    references = header_ids(fields, "references")
    date = parse_date(fields.get("date", []), None)
    if date is None:
        # The server's arrival time stands in for a missing or unreadable Date.
        date = parse_date([], internal_date(data.get(b"INTERNALDATE")))
    return FetchedHeader(
        ref=str(uid),
        message_id=normalize_message_id(text("message-id")),
        in_reply_to=next(iter(header_ids(fields, "in-reply-to")), None),
        references=tuple(references),
        from_addr=senders[0][1] if senders else "",
        to_addrs=tuple(a for _, a in addresses(fields.get("to", []))),
        cc_addrs=tuple(a for _, a in addresses(fields.get("cc", []))),
        subject=decode_encoded_words(fields["subject"][0]) if "subject" in fields else "",
        date=date,
        size=int(data.get(b"RFC822.SIZE") or 0),
        flags=tuple(
            f.decode("utf-8", "replace") if isinstance(f, bytes) else str(f)
            for f in data.get(b"FLAGS", ())
        ),
        from_name=senders[0][0] if senders else "",
        raw_headers=bytes(block),
    )


# Address fields in the common shapes: `Name <a@b>`, `"Name" <a@b>`, `<a@b>` and `a@b`, with
# ASCII atoms only, comma-separated. For these, `email.utils.getaddresses` (what
# `parse_addresses` calls, ~20 us an address here) returns exactly the name (atoms joined by
# one space, or the quoted text) and the addr-spec; anything else goes to parse_addresses.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR_SPEC = rf"{_ATEXT}(?:\.{_ATEXT})*@{_ATEXT}(?:\.{_ATEXT})*"
_SIMPLE_MAILBOX = re.compile(
    rf'[ \t]*(?:(?:"([^"\\\r\n]*)"|((?:{_ATEXT}[ \t]+)*{_ATEXT}))?[ \t]*<({_ADDR_SPEC})>'
    rf"|({_ADDR_SPEC}))[ \t]*"
)


def addresses(values: list[bytes]) -> list[tuple[str, str]]:
    """`parse_addresses(values)`, with a fast path for the common shapes."""
    if not values:
        return []
    raw = decode_text(values[0]) if len(values) == 1 else ", ".join(map(decode_text, values))
    if not raw or len(raw) > MAX_PARSED_ADDRESS_FIELD:
        return parse_addresses(values)
    found = []
    position = 0
    while True:
        match = _SIMPLE_MAILBOX.match(raw, position)
        if match is None:
            return parse_addresses(values)
        quoted, atoms, address, bare = match.groups()
        name = quoted if quoted is not None else " ".join(atoms.split()) if atoms else ""
        if name.isascii() and "=?" not in name:
            # What decode_encoded_words gives for plain ASCII, without its round trip.
            name = " ".join(CONTROL_CHARS.sub("", name).split())
        else:
            name = decode_encoded_words(name.encode("utf-8", "replace"))
        found.append((name, address or bare))
        position = match.end()
        if position == len(raw):
            return found
        if raw[position] != ",":
            return parse_addresses(values)
        position += 1
