"""Recompute the email reports' rollups from the stored emails and raw tracking events
(mailboxes/reports/rollups.py)."""

from django.core.management.base import BaseCommand

from mailboxes.reports import rollups


class Command(BaseCommand):
    help = "Rebuild the email reports' per-day rollups from the emails and raw tracking events."

    def handle(self, *args, **options):
        rows = rollups.rebuild()
        self.stdout.write(f"Rebuilt the email reports: {rows} rollup rows.")
