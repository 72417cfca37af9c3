"""The "Email bounces" panel on a contact's record page: its hard-bounced addresses."""

from mailboxes.models import BouncedAddress
from records.models import Contact

PANEL_TEMPLATE = "mailboxes/bounces/panel.html"


def bounced_addresses(contact: Contact):
    """Return the contact's hard-bounced addresses, newest first, in one query."""
    addresses = contact.emails.values("address")
    return (
        BouncedAddress.objects.filter(address__in=addresses)
        .select_related("message")
        .only("address", "reason", "bounced_at", "message__subject")
        .order_by("-bounced_at", "address")
    )


def panel_context(request, record) -> dict:
    """Context of the "Email bounces" panel (records.extensions.RecordPanel.context)."""
    return {"bounced": list(bounced_addresses(record))}
