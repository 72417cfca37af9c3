from django.core.management.base import BaseCommand

from mailboxes.connecting.services import mailbox_connect_personal
from mailboxes.constants import Provider
from mailboxes.models import Mailbox
from records.models import User


class Command(BaseCommand):
    help = "Give every demo user who may send email a demo inbox that sends to the local catcher."

    def handle(self, *args, **options):
        created = 0
        for user in User.objects.filter(email__endswith="@crm-demo.example").order_by("pk"):
            if not user.can_reach_out or Mailbox.objects.filter(email__iexact=user.email).exists():
                continue
            # Connected like any inbox: the account's limits for new inboxes apply.
            mailbox_connect_personal(
                user,
                provider=Provider.DEMO,
                email=user.email,
                secret={},
                config={},
                display_name=user.display_name,
            )
            created += 1
        self.stdout.write(f"Demo inboxes: {created} created.")
