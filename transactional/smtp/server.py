"""The SMTP API server on aiosmtpd: STARTTLS on the submission port, implicit TLS on another,
AUTH PLAIN and LOGIN against SMTP tokens, never before TLS (538, RFC 4954), MAIL never before
AUTH (530), SIZE advertised and enforced (552), each message stored before its answer.

Database work (the login check, storing a message) runs in a small thread pool, so the event
loop keeps serving other clients meanwhile; a failed login is answered after a delay that
grows with the address's failures (limits.failure_delay), without holding anyone else up.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import unicodedata
import warnings
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection, connections

from transactional.credentials.auth import authenticate_smtp
from transactional.smtp import limits
from transactional.smtp.store import Submission, store_many

log = logging.getLogger(__name__)

INVALID = "535 5.7.8 Authentication credentials invalid"
# The most messages stored in one transaction.
BATCH = 50
TRY_LATER = "451 4.3.0 The message could not be stored; nothing was sent: try again"


def ascii_reply(reply: str) -> str:
    """A reply SMTP can carry (ASCII without SMTPUTF8): a translation's accents dropped, so
    the answer to a stored message is never lost to an encoding error."""
    plain = unicodedata.normalize("NFKD", reply).encode("ascii", "ignore").decode()
    return " ".join(plain.split())


def _login(username: str, password: str, address: str):
    close_old_connections()
    return authenticate_smtp(username, password, client_address=address)


class Handler:
    """aiosmtpd's handler: DATA stores the message and answers for it.

    Messages whose DATA ends while others are being stored wait for the next batch: up to
    one batch per database thread at a time, each one transaction (store.store_many), so the
    commits of many clients are shared (a group commit) and each still answers after its own.
    """

    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self.store_many = sync_to_async(store_many, thread_sensitive=False, executor=executor)
        self.threads = executor._max_workers
        self.pending: list[tuple[Submission, asyncio.Future]] = []
        self.running = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        credential = session.auth_data
        submission = Submission(
            credential_id=credential.pk,
            secret_hash=credential.secret_hash,
            mail_from=envelope.mail_from,
            recipients=list(envelope.rcpt_tos),
            raw=bytes(envelope.original_content or envelope.content),
        )
        answer = asyncio.get_running_loop().create_future()
        self.pending.append((submission, answer))
        if self.running < self.threads:
            self.running += 1
            asyncio.ensure_future(self._drain())
        return await answer

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending[:BATCH], self.pending[BATCH:]
                try:
                    replies = await self.store_many([s for s, _ in batch])
                except Exception:
                    log.exception("SMTP API: messages could not be stored")
                    replies = [TRY_LATER] * len(batch)
                for (_, answer), reply in zip(batch, replies, strict=True):
                    if not answer.done():
                        answer.set_result(ascii_reply(reply))
        finally:
            self.running -= 1


class TokenSMTP(SMTP):
    """aiosmtpd's SMTP whose AUTH checks a token in a thread, after a delay on failure."""

    def __init__(self, handler: Handler, executor: ThreadPoolExecutor, **kwargs) -> None:
        super().__init__(handler, authenticator=self._offer, **kwargs)
        self._offered: LoginPassword | None = None
        self._login = sync_to_async(_login, thread_sensitive=False, executor=executor)
        self._delay = sync_to_async(limits.failure_delay, thread_sensitive=False, executor=executor)

    def _offer(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        # aiosmtpd calls this without awaiting: keep what was offered, check it in _verify.
        self._offered = auth_data
        return AuthResult(success=False)

    async def auth_PLAIN(self, _, args) -> AuthResult:  # noqa: N802
        self._offered = None
        return await self._verify(await super().auth_PLAIN(_, args))

    async def auth_LOGIN(self, _, args) -> AuthResult:  # noqa: N802
        self._offered = None
        return await self._verify(await super().auth_LOGIN(_, args))

    async def _verify(self, result: AuthResult) -> AuthResult:
        offered, self._offered = self._offered, None
        if offered is None:
            return result  # a syntax error, already answered
        address = self.session.peer[0] if self.session.peer else ""
        username = offered.login.decode("utf-8", "replace")
        password = offered.password.decode("utf-8", "replace")
        credential = await self._login(username, password, address)
        if credential is None:
            await asyncio.sleep(await self._delay(address))
            return AuthResult(success=False, handled=False, message=INVALID)
        return AuthResult(success=True, auth_data=credential)


class ApiController(Controller):
    """One listening port: `implicit_tls` True wraps every connection in TLS at once, else
    the port offers STARTTLS and requires it before AUTH."""

    def __init__(
        self, executor, tls_context, *, implicit_tls: bool, reuse_port: bool = False, **kwargs
    ) -> None:
        self.executor = executor
        self.tls = tls_context
        self.implicit_tls = implicit_tls
        self.reuse_port = reuse_port
        super().__init__(
            Handler(executor),
            ssl_context=tls_context if implicit_tls else None,
            **kwargs,
        )

    def _create_server(self):
        if not self.reuse_port:
            return super()._create_server()
        # SO_REUSEPORT: every server process listens on the port, the kernel spreads the
        # connections between them.
        return self.loop.create_server(
            self._factory_invoker,
            host=self.hostname,
            port=self.port,
            ssl=self.ssl_context,
            reuse_port=True,
        )

    def _trigger_server(self):
        # aiosmtpd connects once to see its factory work; with a shared port that connection
        # may reach another process: connect until one reaches this one.
        for _ in range(100):
            try:
                super()._trigger_server()
            except TimeoutError:  # socket.timeout: answered by a busy process
                pass
            if not self.reuse_port or self._factory_invoked.wait(0.05):
                return

    def factory(self):
        options = {
            "data_size_limit": settings.SMTP_API_MAX_MESSAGE_BYTES,
            "auth_required": True,
            "hostname": settings.SMTP_API_HOSTNAME,
            "ident": "CRM SMTP API",
        }
        if not self.implicit_tls:
            options |= {
                "tls_context": self.tls,
                "require_starttls": True,
                "auth_require_tls": True,
            }
            return TokenSMTP(self.handler, self.executor, **options)
        # aiosmtpd warns of AUTH without STARTTLS, and logs it at WARNING for every
        # connection: this port is TLS from the first byte.
        mail_log = logging.getLogger("mail.log")
        mail_log.addFilter(_no_tls_notice)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
                return TokenSMTP(self.handler, self.executor, auth_require_tls=False, **options)
        finally:
            mail_log.removeFilter(_no_tls_notice)


def _no_tls_notice(record: logging.LogRecord) -> bool:
    return record.msg != "auth_required == True but auth_require_tls == False"


def start(
    host: str,
    port: int,
    tls_port: int,
    tls_context,
    *,
    threads: int | None = None,
    reuse_port: bool = False,
):
    """Start both ports (each serves on a thread of its own); return their controllers.
    SQLite has one writer: one database thread there; else `threads` (2: the work holds the
    GIL most of the time, and fewer threads make bigger group commits; measured by the bench).
    `reuse_port`: other processes serve the same ports (manage.py smtp_api --processes)."""
    if threads is None:
        threads = 1 if connection.vendor == "sqlite" else 2
    executor = ThreadPoolExecutor(threads, thread_name_prefix="smtp-api-db")
    options = {"hostname": host, "reuse_port": reuse_port}
    controllers = [
        ApiController(executor, tls_context, implicit_tls=False, port=port, **options),
        ApiController(executor, tls_context, implicit_tls=True, port=tls_port, **options),
    ]
    started = []
    try:
        for controller in controllers:
            controller.start()
            started.append(controller)
    except Exception:  # a port taken: nothing left listening on the other
        for controller in started:
            controller.stop()
        executor.shutdown(wait=False)
        raise
    return controllers


def stop(controllers) -> None:
    for controller in controllers:
        controller.stop()
    executor = controllers[0].executor
    # Each database thread closes its connection (a barrier: one task per thread).
    barrier = threading.Barrier(executor._max_workers)

    def close():
        barrier.wait(timeout=5)
        connections.close_all()

    for future in [executor.submit(close) for _ in range(executor._max_workers)]:
        future.result()
    executor.shutdown(wait=True)
