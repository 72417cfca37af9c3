"""Contacts for unknown senders (a logging rule): who counts as a person, and their names."""

import re

from records import services

# Senders no person writes from, by local part: no contact is created for them.
MACHINE_SENDER = re.compile(
    r"^(?:no-?reply|do-?not-?reply|bounces?|notifications?|notify|alerts?|newsletters?|news|"
    r"mailer-daemon|postmaster|lists?|listserv|majordomo|owner-.+|.+-(?:request|bounces?|owner))"
    r"(?:[+.-].*)?$",
    re.IGNORECASE,
)


def machine_sender(address: str) -> bool:
    """Whether an address looks like a robot's or a mailing list's (noreply@, x-request@)."""
    return bool(MACHINE_SENDER.match(address.rpartition("@")[0]))


def split_name(display: str) -> tuple[str, str]:
    """First and last name from a From display name: "Ana Lima", "Lima, Ana"; none when it
    is empty or only repeats an address."""
    display = " ".join(display.replace('"', " ").split())
    if not display or "@" in display:
        return "", ""
    if display.count(",") == 1:
        last, first = (part.strip() for part in display.split(","))
        return first, last
    first, _, last = display.partition(" ")
    return first, last


def contacts_for_senders(senders: list[tuple[str, str]], owner_id: int | None) -> dict[str, int]:
    """The contact of each (lowercased address, display name), made in bulk for those who
    have none, owned by `owner_id` and named from the first display name seen."""
    people: dict[str, tuple[str, str]] = {}
    for address, display in senders:
        people.setdefault(address, split_name(display))
    return services.contacts_for_addresses(people, owner_id) if people else {}
