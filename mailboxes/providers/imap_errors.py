"""What went wrong on an IMAP or SMTP connection, as a ProviderError people can act on: the
stage that failed (DNS, TCP, TLS, login, a refused command) and what to check. Each message is
a Sentence, translated where it is shown."""

from __future__ import annotations

import re
import socket
import ssl

import aiosmtplib
from imapclient.exceptions import (
    IMAPClientError,
)

from mailboxes.providers.base import (
    AddressNotAllowed,
    ConnectionSettings,
    ProviderError,
    Sentence,
    Stage,
    exception_chain,
    first_of,
    gettext_noop,
    refused_address,
)

# Greylisting and "mailbox busy" replies usually clear within a few minutes.
SMTP_RETRY_AFTER = 300.0


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
