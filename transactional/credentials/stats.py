"""What a credential sent: the emails queued with its id as their source, counted in one
query over the outbox, the messages' bounces and their tracking rollups (opens and clicks by
people only, as every report counts them), and spam complaints.

Complaints are recorded by events/ (a `StatusEvent` per complaint, from mailboxes'
`complaint_received`); events/ says which outbound rows one concerns (`models.complained`),
counted in the same query. events/ imports nothing of credentials, so there is no cycle.
"""

from dataclasses import dataclass

from django.db.models import Count, Q

from mailboxes.constants import SendSource, SendStatus
from mailboxes.models import Outbound
from transactional.credentials.models import Credential
from transactional.events.models import complained

_WENT_OUT = Q(status__in=[SendStatus.SENT, SendStatus.RECONCILED])
_WAITING = Q(
    status__in=[
        SendStatus.SCHEDULED,
        SendStatus.QUEUED,
        SendStatus.DEFERRED,  # the pool's relay deferred it: it waits for its next try
        SendStatus.SENDING,
        SendStatus.CHECKING,
    ]
)


@dataclass(frozen=True)
class SendStats:
    sent: int
    waiting: int
    failed: int
    bounced: int
    opened: int
    clicked: int
    complained: int

    @property
    def delivered(self) -> int:
        return self.sent - self.bounced

    def rate(self, count: int) -> int | None:
        """A percentage of the delivered, or None before anything was delivered."""
        return round(100 * count / self.delivered) if self.delivered else None

    @property
    def open_rate(self) -> int | None:
        return self.rate(self.opened)

    @property
    def click_rate(self) -> int | None:
        return self.rate(self.clicked)

    @property
    def complaint_rate(self) -> int | None:
        return self.rate(self.complained)


def send_stats(credential: Credential) -> SendStats:
    counts = Outbound.objects.filter(
        source=SendSource.TRANSACTIONAL, source_id=credential.pk
    ).aggregate(
        sent=Count("pk", filter=_WENT_OUT),
        waiting=Count("pk", filter=_WAITING),
        failed=Count("pk", filter=Q(status=SendStatus.FAILED)),
        bounced=Count("pk", filter=_WENT_OUT & ~Q(message__bounce="")),
        opened=Count("pk", filter=_WENT_OUT & Q(message__tracking__human_opens__gt=0)),
        clicked=Count("pk", filter=_WENT_OUT & Q(message__tracking__human_clicks__gt=0)),
        complained=Count("pk", filter=_WENT_OUT & complained()),
    )
    return SendStats(**counts)
