"""Reach any inbox over IMAP (reading) and SMTP submission (sending).

imapclient is synchronous; aiosmtplib is async and runs in a private event loop held by the
provider, because callers are synchronous Celery tasks. One IMAP and one SMTP connection are
kept per provider instance and reused.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import aiosmtplib
from imapclient import IMAPClient, imap4, tls
from imapclient.exceptions import (
    CapabilityError,
    IMAPClientAbortError,
    IMAPClientError,
    LoginError,
)

from mailboxes.providers.base import (
    ChangePage,
    ConnectionSettings,
    FetchedHeader,
    FetchedMessage,
    Folder,
    FolderState,
    MailProvider,
    OutgoingMessage,
    ProviderError,
    SendResult,
    Sentence,
    gettext_noop,
)
from mailboxes.providers.headers import (
    normalize_message_id,
)
from mailboxes.providers.imap_errors import (
    all_recipients_refused,
    connection_error,
    imap_refusal,
    login_error,
    server_text,
    smtp_connection_error,
    smtp_refusal,
)
from mailboxes.providers.imap_replies import (
    HEADER_FETCH,
    RAW_FETCH_BATCH,
    fetch_batched,
    folders_with_roles,
    header_from_fetch,
    parse_imap_cursor,
)
from mailboxes.providers.network import NetworkPolicy, open_connection

T = TypeVar("T")

# A connection idle longer than this gets a NOOP before reuse: servers drop idle sessions
# (IMAP after ~30 minutes, SMTP after ~5), and a dead socket found mid-APPEND or mid-DATA
# would leave us unsure whether the command took effect.
IDLE_CHECK_SECONDS = 30.0
BURST_SECONDS = 1.0


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
