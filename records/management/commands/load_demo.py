from django.core.management.base import BaseCommand

from records.demo import DEMO_PASSWORD, DEMO_USERS, load_demo


class Command(BaseCommand):
    help = "Load the demo account (users in two teams, ~200 contacts, companies, deals, tickets)."

    def handle(self, *args, **options):
        counts = load_demo()
        if counts:
            summary = ", ".join(f"{n} {what}" for what, n in counts.items())
            self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {summary}."))
        else:
            self.stdout.write("Demo data already loaded.")
        self.stdout.write(f"Demo logins (password {DEMO_PASSWORD!r}):")
        for username, first, last, team, seat, access, admin in DEMO_USERS:
            role = "admin, " if admin else ""
            self.stdout.write(
                f"  {username:<7} {first} {last}: {role}{seat.label} seat, "
                f"team {team or '—'}, sees {access.label.lower()}"
            )
