from django.core.management.base import BaseCommand
from django.db import transaction

from mailboxes.models import Mailbox


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first key of CRM_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        count = 0
        for pk in Mailbox.objects.values_list("pk", flat=True):
            with transaction.atomic():
                mailbox = Mailbox.objects.select_for_update().get(pk=pk)
                # Reading decrypts with whichever key fits; saving encrypts with the first.
                mailbox.save(update_fields=["secret"])
                count += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted the secrets of {count} inboxes."))
