from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from mailboxes.connecting import caps
from mailboxes.connecting.services import mailbox_connect_personal
from mailboxes.constants import MailboxKind, Provider, TeamInboxKind
from mailboxes.demo import caught_name, customer_email, send_demo_emails
from mailboxes.models import Mailbox, TeamInbox
from mailboxes.sync.engine import sync_mailbox
from records.demo import DEMO_DOMAIN, demo_users
from records.models import Contact, Team

SUPPORT = f"support@{DEMO_DOMAIN}"
# The reps whose demo inboxes have sent a few emails (mailboxes/demo.py).
SENDERS = ("sam", "sara")
# What customers wrote to the demo's team address: (subject, text, minutes ago).
CUSTOMER_MAIL = [
    (
        "The parcel arrived damaged",
        "Hello,\n\nthe box was crushed and two mugs are broken. "
        "Can you send replacements?\n\nThanks",
        30,
    ),
    (
        "Invoice 2291: wrong VAT number",
        "Hi,\n\nour VAT number on the last invoice is wrong. "
        "Could you issue a corrected one?\n\nBest regards",
        180,
    ),
    (
        "Opening hours over the holidays",
        "Good morning,\n\nare you open between Christmas and "
        "New Year? We would like to pick up an order.\n\nKind regards",
        26 * 60,
    ),
]


class Command(BaseCommand):
    help = (
        "Give every demo user who may send email a demo inbox that sends to the local catcher, "
        "a few sales emails with some answers, and the Support team a conversations inbox "
        "with a few customer emails."
    )

    def handle(self, *args, **options):
        created = 0
        for user in demo_users().order_by("pk"):
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
        if settings.CRM_MAIL_CATCHER_DIR is None:
            return
        sent = sum(send_demo_emails(user) for user in demo_users().filter(username__in=SENDERS))
        if sent:
            self.stdout.write(f"Demo sales emails: {sent} queued, some with answers.")
        team = Team.objects.filter(name="Support").first()
        if team is None:
            return
        if not Mailbox.objects.filter(email__iexact=SUPPORT).exists():
            self._support_inbox(team)
            self.stdout.write(f"Demo team inbox: {SUPPORT}, with customer emails.")

    def _support_inbox(self, team: Team) -> None:
        inbox = TeamInbox.objects.create(
            name="Support",
            kind=TeamInboxKind.CONVERSATIONS,
            display_name="Acme Support",
            route_to_team=team,
        )
        # Real team inboxes are Gmail or Office 365 only (connecting/services.py); the demo's
        # stands in for one, its mail in the local catcher.
        mailbox = Mailbox.objects.create(
            kind=MailboxKind.TEAM,
            provider=Provider.DEMO,
            email=SUPPORT,
            team_inbox=inbox,
            display_name=inbox.display_name,
            **caps.new_inbox_limits(Provider.DEMO, SUPPORT, {}),
        )
        folder = Path(settings.CRM_MAIL_CATCHER_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        senders = Contact.objects.exclude(email="").order_by("pk")[: len(CUSTOMER_MAIL)]
        now = timezone.now()
        for contact, (subject, text, ago) in zip(senders, CUSTOMER_MAIL, strict=False):
            at = now - timedelta(minutes=ago)
            raw = customer_email(
                f"{contact.name} <{contact.email}>", f"Acme Support <{SUPPORT}>", subject, text, at
            )
            # Named as the catcher names what it catches, at the time written: they sort by
            # arrival.
            (folder / caught_name(at)).write_bytes(raw)
        sync_mailbox(mailbox.pk)
