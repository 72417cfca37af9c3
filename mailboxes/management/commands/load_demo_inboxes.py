from django.core.management.base import BaseCommand

from mailboxes.constants import MailboxKind, Provider
from mailboxes.models import Mailbox
from records.models import User


class Command(BaseCommand):
    help = "Give every demo user who may send email a demo inbox that sends to the local catcher."

    def handle(self, *args, **options):
        created = 0
        for user in User.objects.filter(email__endswith="@crm-demo.example").order_by("pk"):
            if not user.can_reach_out or Mailbox.objects.filter(email__iexact=user.email).exists():
                continue
            Mailbox.objects.create(
                kind=MailboxKind.PERSONAL,
                provider=Provider.DEMO,
                email=user.email,
                owner=user,
                display_name=user.display_name,
            )
            created += 1
        self.stdout.write(f"Demo inboxes: {created} created.")
