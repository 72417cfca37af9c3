from datetime import timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    """A state change of a transactional message; the value is the webhook's `type`.

    `sent` is the relay's 250. `delivered` is the receiving server's acceptance (HubSpot's
    DELIVERED), never guessed from the 250: the pool asks a relay that advertises DSN for a
    success report (RFC 3461), and one that comes back to the envelope From, a connected inbox,
    is read by mailboxes' bounce processing (`delivery_reported`), once per recipient. From a
    relay without DSN, or when the From address is no inbox the CRM syncs, `sent` stays the
    last state. A message that later bounces gets `email.bounced`.
    """

    QUEUED = "email.queued", _("Queued")
    DEFERRED = "email.deferred", _("Deferred")
    SENT = "email.sent", _("Sent (the relay accepted it)")
    DELIVERED = "email.delivered", _("Delivered (the receiving server took it)")
    FAILED = "email.failed", _("Failed")
    UNCERTAIN = "email.uncertain", _("Uncertain")
    CANCELLED = "email.cancelled", _("Cancelled")
    BOUNCED = "email.bounced", _("Bounced")
    OPENED = "email.opened", _("Opened")
    CLICKED = "email.clicked", _("Clicked")
    COMPLAINED = "email.complained", _("Spam complaint")


# The type of "Send test event" (never part of a message's history).
TEST_TYPE = "webhook.test"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


# Waits after the 1st, 2nd, ... failed attempt (Standard Webhooks' schedule): about 27 hours
# in all, then the delivery is failed. Each is stretched or shrunk by up to JITTER so that
# many deliveries failed together do not come back together.
RETRY_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
JITTER = 0.1
# Seconds to connect and to wait for an answer: an endpoint that hangs costs little.
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0
# What the log keeps of an answer.
SNIPPET_CHARS = 500
# A worker that died mid-attempt leaves its claim; another takes the delivery after this.
CLAIM_LEASE = timedelta(minutes=2)
