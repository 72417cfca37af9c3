"""Start private Dovecot and aiosmtpd servers for integration tests.

Everything lives under one temp dir and listens on loopback ports picked at start, so test
runs on the same machine (or pytest-xdist workers) never share a server or a mailbox.
"""

from __future__ import annotations

import asyncio
import grp
import itertools
import os
import pwd
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from imapclient import IMAPClient

DOVECOT_CANDIDATES = ("dovecot", "/usr/sbin/dovecot")
REDIS_CANDIDATES = ("redis-server", "/usr/bin/redis-server")
# Folders that carry a SPECIAL-USE attribute once created; none exists until a test asks,
# so a fresh user has only INBOX.
SPECIAL_USE = {
    "Sent": "\\Sent",
    "Drafts": "\\Drafts",
    "Trash": "\\Trash",
    "Junk": "\\Junk",
    "Archive": "\\Archive",
}
NOBODY = 65534
_delivery_counter = itertools.count()


def find_dovecot() -> str | None:
    """Return the dovecot binary's path, or None when it is not installed."""
    for candidate in DOVECOT_CANDIDATES:
        path = shutil.which(candidate)
        if path:
            return path
    return None


def stop_process_group(process: subprocess.Popen, grace: float) -> None:
    """Warm shutdown (the task at hand may finish within `grace` seconds), then the process's
    whole group is killed (a Celery worker's pool children with it)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def free_port() -> int:
    """Return a loopback port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """Wait until the port accepts connections; fail early if the server process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class DovecotAccount:
    """One mail user on a private Dovecot, with helpers that write its Maildir directly."""

    server: DovecotServer
    user: str
    password: str

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def email(self) -> str:
        return f"{self.user}@example.test"

    @property
    def maildir(self) -> Path:
        return self.server.root / "mail" / self.user / "Maildir"

    def folder_dir(self, folder: str) -> Path:
        """Return the Maildir++ directory Dovecot uses for `folder`."""
        if folder.upper() == "INBOX":
            return self.maildir
        return self.maildir / ("." + folder.replace("/", "."))

    def imap(self) -> IMAPClient:
        """Return a logged-in imapclient session, for checks the provider does not offer."""
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(self.user, self.password)
        return client

    def create_folder(self, name: str) -> str:
        """Create a folder over IMAP; Sent, Drafts, Trash, Junk and Archive get SPECIAL-USE."""
        # CREATE over IMAP rather than mkdir, so Dovecot's mailbox list index knows it.
        with self.imap() as client:
            if not client.folder_exists(name):
                client.create_folder(name)
        return name

    def deliver(self, raw: bytes, folder: str = "INBOX", seen: bool = False) -> Path:
        """Drop a message into the folder's Maildir: ~30x faster than APPEND.

        The file is written to tmp/ and renamed into new/ (or cur/ with the S flag), the
        Maildir way of making a message appear atomically.
        """
        directory = self.folder_dir(folder)
        if folder.upper() != "INBOX" and not directory.exists():
            self.create_folder(folder)
        self.server.make_maildir(directory)
        unique = f"{time.time_ns()}.P{os.getpid()}Q{next(_delivery_counter)}.crmtest"
        base = f"{unique},S={len(raw)}"
        tmp = directory / "tmp" / base
        tmp.write_bytes(raw)
        self.server.give_to_mail_user(tmp)
        target = directory / "cur" / f"{base}:2,S" if seen else directory / "new" / base
        tmp.rename(target)
        return target

    def bump_uidvalidity(self, folder: str = "INBOX", *, reorder: bool = False) -> None:
        """Make Dovecot give the folder a new UIDVALIDITY, as after a server-side restore.

        Deleting the uidlist and indexes makes Dovecot renumber the messages it finds on
        its next access. It numbers them in the order of their file names, so on its own that
        gives each message its old UID again; with `reorder`, the files are renamed so that
        the first comes last, as a restore that copied them in another order, and each
        message gets another UID (its bytes, flags and arrival time unchanged). Close every
        session on the folder first.
        """
        directory = self.folder_dir(folder)
        for path in directory.glob("dovecot-uidlist*"):
            path.unlink()
        for path in directory.glob("dovecot.index*"):
            path.unlink()
        if reorder:
            files = sorted(
                (p for sub in ("cur", "new") for p in (directory / sub).iterdir()),
                key=lambda p: p.name,
            )
            # A Maildir name starts with the delivery time, which Dovecot numbers by: the first
            # file takes the last one's time, each other the time of the one before it.
            times = [path.name.split(".", 1)[0] for path in files]
            for path, time_ in zip(files, times[-1:] + times[:-1], strict=True):
                path.rename(path.parent / f"{time_}.{path.name.split('.', 1)[1]}")


@dataclass
class DovecotServer:
    """A private Dovecot master process and its temp dir."""

    binary: str
    root: Path
    host: str = "127.0.0.1"
    port: int = 0
    process: subprocess.Popen | None = None
    mail_uid: int = NOBODY
    mail_gid: int = NOBODY
    _users: itertools.count = field(default_factory=itertools.count)

    @property
    def users_dir(self) -> Path:
        return self.root / "users"

    @property
    def log_path(self) -> Path:
        return self.root / "dovecot.log"

    def start(self, attempts: int = 3) -> None:
        """Start Dovecot in the foreground on a free port; retry if the port got taken."""
        self.users_dir.mkdir(exist_ok=True)
        (self.root / "mail").mkdir(exist_ok=True)
        stderr_path = self.root / "stderr.log"
        for _ in range(attempts):
            self.port = free_port()
            (self.root / "dovecot.conf").write_text(self.config())
            # Startup errors (bad config) go to stderr before log_path is opened.
            with stderr_path.open("wb") as stderr:
                self.process = subprocess.Popen(
                    [self.binary, "-F", "-c", str(self.root / "dovecot.conf")],
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                )
            try:
                wait_for_port(self.port, self.process)
                return
            except RuntimeError:
                self.stop()
        log = self.log_path.read_text() if self.log_path.exists() else ""
        raise RuntimeError(f"Dovecot did not start.\n{stderr_path.read_text()}\n{log}")

    def stop(self) -> None:
        """Stop the master by its PID; it takes its children down with it."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def add_account(self, password: str | None = None) -> DovecotAccount:
        """Add a fresh user, so a test sees only its own mail."""
        user = f"user{next(self._users)}x{secrets.token_hex(3)}"
        password = password or secrets.token_urlsafe(12)
        # One passwd-file per user: Dovecot notices a changed passwd-file by its mtime in
        # whole seconds, so a second user added to a shared file within the same second
        # would be unknown. A new file is always read.
        (self.users_dir / user).write_text(f"{user}:{{PLAIN}}{password}::::::\n")
        account = DovecotAccount(server=self, user=user, password=password)
        home = account.maildir.parent
        home.mkdir()
        self.give_to_mail_user(home)
        self.make_maildir(account.maildir)
        return account

    def make_maildir(self, directory: Path) -> None:
        """Create cur/new/tmp under `directory`, owned by the mail user."""
        for path in (directory, directory / "cur", directory / "new", directory / "tmp"):
            if not path.exists():
                path.mkdir(mode=0o700)
                self.give_to_mail_user(path)

    def give_to_mail_user(self, path: Path) -> None:
        """Hand a file we wrote to the uid Dovecot's mail processes run as."""
        if os.geteuid() == 0:
            os.chown(path, self.mail_uid, self.mail_gid)

    def config(self) -> str:
        """Return a dovecot.conf (2.3 syntax) that keeps everything under the temp dir."""
        root = self.root
        mailboxes = "\n".join(
            f"  mailbox {name} {{\n    special_use = {flag}\n    auto = no\n  }}"
            for name, flag in SPECIAL_USE.items()
        )
        # Without root, processes cannot chroot, and all run as the current user.
        chroot = "" if os.geteuid() == 0 else "  chroot =\n"
        return f"""\
instance_name = crm-test-{os.getpid()}-{secrets.token_hex(4)}
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# Wrong-password tests would otherwise wait two seconds each.
auth_failure_delay = 0
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
# Tests open several sessions per user at once.
mail_max_userip_connections = 100
{self.privilege_config()}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users/%u
  default_fields = uid={self.mail_uid} gid={self.mail_gid} home={root}/mail/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}
}}
service anvil {{
  # No growing per-IP delay after the wrong-password tests (Dovecot's auth penalty).
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
{chroot}}}
service imap-login {{
{chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""

    def privilege_config(self) -> str:
        """Run every process as the current user when not root (no setuid possible)."""
        if os.geteuid() == 0:
            return ""
        user = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(os.getegid()).gr_name
        return f"""\
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
"""


def dovecot_version(binary: str) -> tuple[int, ...]:
    """Return the installed Dovecot's version, e.g. (2, 3, 19, 1)."""
    output = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    return tuple(int(part) for part in output.split()[0].split(".") if part.isdigit())


def start_dovecot(binary: str, server_class: type[DovecotServer] | None = None) -> DovecotServer:
    """Start a private Dovecot under a new temp dir and return it (`server_class`: a
    DovecotServer with other settings)."""
    version = dovecot_version(binary)
    if version >= (2, 4):
        # 2.4 renamed most settings (mail_driver, passdb_passwd_file_path, ...).
        raise RuntimeError(
            f"Dovecot {version} is installed; this fixture writes 2.3 configuration "
            "(Debian 12's dovecot-imapd). Add a 2.4 variant of DovecotServer.config()."
        )
    root = Path(tempfile.mkdtemp(prefix="crm-dovecot-"))
    # Mail processes run as nobody when we are root and must reach the Maildirs.
    root.chmod(0o755)
    server = (server_class or DovecotServer)(binary=binary, root=root)
    if os.geteuid() != 0:
        server.mail_uid, server.mail_gid = os.geteuid(), os.getegid()
    try:
        server.start()
    except BaseException:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


def stop_dovecot(server: DovecotServer) -> None:
    """Stop the server and remove its temp dir."""
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


# -- Redis, and a server that hangs ------------------------------------------------------------


def find_redis_server() -> str | None:
    """Return the redis-server binary's path, or None when it is not installed."""
    for candidate in REDIS_CANDIDATES:
        path = shutil.which(candidate)
        if path:
            return path
    return None


@dataclass
class RedisServer:
    """A private redis-server on a loopback port, keeping nothing on disk: stopped and started
    again, it is back on the same port and empty, as a Redis restarted without its data."""

    binary: str
    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with (self.root / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
                + ["--appendonly", "no", "--dir", str(self.root)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, self.process)

    def stop(self) -> None:
        """Stop it as a crash does: connections are refused until it starts again."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def pause(self) -> None:
        """Hang it: the kernel still accepts connections, nothing answers (SIGSTOP)."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)


def start_redis(binary: str) -> RedisServer:
    server = RedisServer(binary=binary, root=Path(tempfile.mkdtemp(prefix="crm-redis-")))
    server.start()
    return server


def stop_redis(server: RedisServer) -> None:
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


class HungServer:
    """A loopback port whose connections the kernel completes and nobody ever reads or answers:
    a server that hangs after accepting (a stuck Redis, a dead peer behind a firewall)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=64)  # never accept()ed
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()


# -- SMTP sink -----------------------------------------------------------------------------


@dataclass
class ReceivedMessage:
    """One message the sink accepted, with the login that sent it and when (time.time())
    it answered DATA: the moment a server counts it against a sending limit."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None
    tls: bool
    received_at: float = 0.0
    # What a client asked of a DSN relay (start_smtp_sink(dsn=True)): MAIL FROM's RET and
    # ENVID, and each recipient's NOTIFY and ORCPT, as sent.
    dsn_mail: dict[str, str] = field(default_factory=dict)
    dsn_rcpt: dict[str, dict[str, str]] = field(default_factory=dict)


class SinkHandler:
    """Store accepted messages; answer chosen recipients with a chosen reply, and DATA after
    `data_delay` seconds (a slow server).

    Fault switches: `lose_answer(n)` decides, for the n-th DATA (from 1), whether to drop the
    connection before answering it: "stored" keeps the message first (a server that queued
    it, then lost the connection), "unstored" keeps nothing; `drop_at_rcpt` drops the
    connection at RCPT TO, before any message. `on_store(data)` runs for every message kept
    (e.g. to file it in a Sent folder, as Gmail's and Office 365's SMTP do).
    """

    def __init__(self) -> None:
        self.messages: list[ReceivedMessage] = []
        self.recipient_replies: dict[str, str] = {}
        self.sessions = 0
        self.quits = 0
        self.data_commands = 0
        self.lose_answer: Callable[[int], str | None] | None = None
        self.drop_at_rcpt = False
        self.on_store: Callable[[bytes], None] | None = None
        self.data_delay = 0.0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        # A client says EHLO once per connection (twice around STARTTLS, not used here).
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_QUIT(self, server, session, envelope):  # noqa: N802
        self.quits += 1
        return "221 Bye"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.drop_at_rcpt:
            server.transport.abort()
            return "250 OK"  # never reaches the client
        reply = self.recipient_replies.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.data_commands += 1
        lost = self.lose_answer(self.data_commands) if self.lose_answer else None
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if lost != "unstored":
            auth = session.auth_data
            login = auth.login.decode() if isinstance(auth, LoginPassword) else None
            data = bytes(envelope.original_content or envelope.content)
            self.messages.append(
                ReceivedMessage(
                    mail_from=envelope.mail_from,
                    rcpt_tos=list(envelope.rcpt_tos),
                    data=data,
                    login=login,
                    tls=session.ssl is not None,
                    received_at=time.time(),
                    dsn_mail=dict(getattr(envelope, "dsn_mail", {})),
                    dsn_rcpt=dict(getattr(envelope, "dsn_rcpt", {})),
                )
            )
            if self.on_store is not None:
                self.on_store(data)
        if lost:
            server.transport.abort()
            return "250 OK"  # never reaches the client
        return f"250 2.0.0 Ok: queued as Q{len(self.messages)}"


class DsnSMTP(SMTP):
    """aiosmtpd speaking RFC 3461 as a relay that offers DSN does: "DSN" in its EHLO answer,
    RET and ENVID on MAIL FROM, NOTIFY and ORCPT on RCPT TO, kept on the envelope (aiosmtpd
    itself refuses parameters it does not know)."""

    MAIL_PARAMS = ("RET", "ENVID")
    RCPT_PARAMS = ("NOTIFY", "ORCPT")

    @staticmethod
    def _take(arg: str | None, names) -> tuple[str | None, dict[str, str]]:
        if not arg:
            return arg, {}
        kept, taken = [], {}
        for word in arg.split(" "):
            key, _, value = word.partition("=")
            if key.upper() in names and value:
                taken[key.upper()] = value
            else:
                kept.append(word)
        return " ".join(kept), taken

    async def smtp_MAIL(self, arg):  # noqa: N802
        arg, taken = self._take(arg, self.MAIL_PARAMS)
        await super().smtp_MAIL(arg)
        if self.envelope is not None and self.envelope.mail_from:
            self.envelope.dsn_mail = taken
            self.envelope.dsn_rcpt = {}

    async def smtp_RCPT(self, arg):  # noqa: N802
        arg, taken = self._take(arg, self.RCPT_PARAMS)
        before = len(self.envelope.rcpt_tos) if self.envelope is not None else 0
        await super().smtp_RCPT(arg)
        if self.envelope is not None and len(self.envelope.rcpt_tos) > before:
            self.envelope.dsn_rcpt[self.envelope.rcpt_tos[-1]] = taken


class DsnSinkHandler(SinkHandler):
    """The sink's handler, advertising DSN in the EHLO answer."""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        responses = await super().handle_EHLO(server, session, envelope, hostname, responses)
        return [responses[0], "250-DSN", *responses[1:]]


class _DsnController(Controller):
    def factory(self):
        return DsnSMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class SmtpSink:
    """An aiosmtpd server on a free loopback port that requires AUTH."""

    controller: Controller
    handler: SinkHandler
    user: str
    password: str
    host: str = "127.0.0.1"
    port: int = 0

    @property
    def messages(self) -> list[ReceivedMessage]:
        return self.handler.messages

    @property
    def sessions(self) -> int:
        return self.handler.sessions

    def refuse(self, recipient: str, reply: str) -> None:
        """Answer RCPT TO for this recipient with `reply`, e.g. "550 5.1.1 No such user"."""
        self.handler.recipient_replies[recipient.lower()] = reply


def start_smtp_sink(
    tls_context: ssl.SSLContext | None = None,
    handler: SinkHandler | None = None,
    *,
    dsn: bool = False,
) -> SmtpSink:
    """Start an AUTH-requiring aiosmtpd Controller and return it.

    With `tls_context`, the sink also offers STARTTLS (without requiring it); `handler` is a
    SinkHandler that misbehaves on purpose (faults/harness.py); with `dsn`, it is a relay that
    offers delivery status notifications (RFC 3461) and keeps what each message asked for.
    """
    user, password = "sender", secrets.token_urlsafe(12)
    handler = handler or (DsnSinkHandler() if dsn else SinkHandler())

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        # handled=False makes aiosmtpd send its own 535 reply on failure.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    port = free_port()
    controller = (_DsnController if dsn else Controller)(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        # Test traffic stays on loopback; production submission always uses TLS.
        auth_require_tls=False,
        tls_context=tls_context,
    )
    controller.start()
    return SmtpSink(controller=controller, handler=handler, user=user, password=password, port=port)


def self_signed_tls_context(directory: Path) -> ssl.SSLContext:
    """Return a server TLS context with a fresh self-signed certificate for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crm-test.invalid")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


def arrivals_by_window(arrivals: Iterable[tuple[str, float]]) -> Counter:
    """Count each (sender, time.time()) arrival in its (sender, "minute" or "day", window
    start): what a server keeping the CRM's fixed windows counts against an inbox's limits."""
    from mailboxes.models.outbound import DAY, MINUTE, window_start

    counts: Counter = Counter()
    for sender, at in arrivals:
        moment = datetime.fromtimestamp(at, UTC)
        for window in (MINUTE, DAY):
            counts[sender, window, window_start(window, moment)] += 1
    return counts


def over_limits(arrivals: Iterable[tuple[str, float]], limits: dict[str, dict]) -> list[str]:
    """Windows in which a sender's mail reached the sink more often than its limit
    (`limits`: {sender: {"minute": n, "day": n}}), described."""
    return [
        f"{sender}: {count} in the {window} from {start.isoformat()} (limit {limit})"
        for (sender, window, start), count in arrivals_by_window(arrivals).items()
        if count > (limit := limits[sender][window])
    ]
