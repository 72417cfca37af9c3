"""File the team inboxes' already-synced mail into conversations (mailboxes/conversations/)."""

from django.core.management.base import BaseCommand

from mailboxes.conversations import filing


class Command(BaseCommand):
    help = "Build the conversations of mail synced from team inboxes before they existed."

    def add_arguments(self, parser):
        parser.add_argument("--mailbox", type=int, action="append", help="Only this inbox's id")

    def handle(self, *args, mailbox=None, **options):
        filed = filing.backfill(mailbox)
        self.stdout.write(f"Filed {filed} messages into conversations.")
