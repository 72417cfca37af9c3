"""The pool page's "Send test email": one message straight to the relay, answered on the page.

Not queued, unlike every email to a contact: it is a check of the relay's settings, and the
admin waits for the relay's own answer (a short timeout; nothing about it is retried).
"""

from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from django.utils import timezone
from django.utils.translation import gettext as _

from mailboxes.providers.base import ProviderError
from mailboxes.sentences import translated
from transactional.pool import relay
from transactional.pool.models import SendingPool

PROBE_TIMEOUT = 10.0


def test_message(pool: SendingPool, to: str) -> tuple[bytes, str]:
    mime = EmailMessage()
    mime["From"] = (
        formataddr((pool.from_name, pool.from_address)) if pool.from_name else pool.from_address
    )
    mime["To"] = to
    mime["Subject"] = _("Test email from the CRM's sending pool")
    mime["Date"] = format_datetime(timezone.now())
    message_id = make_msgid(domain=pool.domain)
    mime["Message-ID"] = message_id
    signing = _("It is DKIM-signed for %(domain)s.") % {"domain": pool.domain}
    mime.set_content(
        _("This email went through %(host)s, the relay of the sending pool.") % {"host": pool.host}
        + (" " + signing if pool.signs else "")
        + "\n"
    )
    return mime.as_bytes(policy=mime.policy.clone(linesep="\r\n")), message_id


def send_test(pool: SendingPool, to: str) -> tuple[bool, str]:
    """Send a test email through the relay now; return (accepted, the relay's answer)."""
    raw, message_id = test_message(pool, to)
    provider = relay.open_relay(pool, PROBE_TIMEOUT)
    try:
        result = provider.send(relay.outgoing(pool, pool.from_address, [to], raw, message_id))
    except ProviderError as error:
        return False, translated(error.message)
    finally:
        provider.close()
    return True, _("%(host)s accepted it (%(id)s).") % {
        "host": pool.host,
        "id": result.provider_id,
    }
