"""Act on delivery reports that arrive in an inbox: mark the email bounced, flag bad addresses.

Sync hands every message it takes for a delivery report to `process_report`. The report is
read by `reports.parse_bounce`, then matched to an email sent from the CRM: by the original
Message-ID (in any inbox: a bounce may come back to another address of the team), or, when
the report has none or it matches nothing, by the failed address and the most recent email
sent to it in the last 30 days. A report that matches no email of ours changes nothing: a
stranger's bounce (or a forged one) must not flag anybody's address.

- A bounce marks the email hard or soft with the reason in words. Hard wins: a later soft
  report about the same email does not downgrade it. Each hard-bounced address becomes a
  `BouncedAddress`, which the contact's record page shows.
- A delay notice ("still trying") is not a bounce and marks nothing.
- An ARF complaint ("abuse": the recipient pressed "report spam") or opt-out from a mailbox
  provider's feedback loop opts the contacts it concerns out of all email, through the privacy
  app, which records it in their privacy history, and sends `complaint_received`.
- A success DSN (`reports.parse_delivered`: Action delivered, a 2.x.x status, in a standard
  report; the pool's relay is asked for one with NOTIFY=SUCCESS) sends `delivery_reported`
  for each delivered recipient of an email the CRM sent. It is matched only by its envelope
  id (ENVID, the Message-ID) or the Message-ID of the returned headers, never by address,
  and only for addresses the email was sent to: nothing else is marked.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mailboxes import signals
from mailboxes.bounces.reports import (
    Bounce,
    Delivered,
    Feedback,
    Recipient,
    parse_bounce,
    parse_delivered,
)
from mailboxes.constants import BounceKind, Direction
from mailboxes.mime.parsing import normalize_message_id
from mailboxes.models import BouncedAddress, EmailMessage, Mailbox, Outbound
from privacy.constants import OptOutSource
from privacy.services import opt_out_of_all
from records.models import Contact

MATCH_DAYS = 30

# Why a delivery failed, by the report's reason code: the words its email and address keep.
REASON_WORDS = {
    "userunknown": gettext_lazy("the address does not exist"),
    "hostunknown": gettext_lazy("the domain does not exist or takes no mail"),
    "hasmoved": gettext_lazy("the person has moved to another address"),
    "notaccept": gettext_lazy("the domain accepts no mail"),
    "mailboxfull": gettext_lazy("the mailbox is full"),
    "filtered": gettext_lazy("a filter at the recipient's server refused it"),
    "blocked": gettext_lazy("the recipient's server blocked the sending server"),
    "rejected": gettext_lazy("the recipient's server refused the sender"),
    "expired": gettext_lazy("the server gave up after trying for too long"),
    "suspend": gettext_lazy("the mailbox is suspended"),
    "spamdetected": gettext_lazy("the message was taken for spam"),
    "policyviolation": gettext_lazy("the message broke the recipient's mail policy"),
    "authfailure": gettext_lazy("the sender failed SPF, DKIM or DMARC checks"),
    "requireptr": gettext_lazy("the sending server has no reverse DNS"),
    "norelaying": gettext_lazy("the server refused to relay the message"),
    "mesgtoobig": gettext_lazy("the message is too big"),
    "exceedlimit": gettext_lazy("the message exceeds the mailbox's size limit"),
    "securityerror": gettext_lazy("a security check refused it"),
    "systemerror": gettext_lazy("the recipient's server had an error"),
    "systemfull": gettext_lazy("the recipient's server is out of space"),
    "networkerror": gettext_lazy("a network error stopped the delivery"),
    "toomanyconn": gettext_lazy("too many connections to the recipient's server"),
    "speeding": gettext_lazy("too many messages were sent too fast"),
    "ratelimited": gettext_lazy("too many messages were sent too fast"),
    "suppressed": gettext_lazy("the sending service refuses this address after an earlier bounce"),
    "contenterror": gettext_lazy("the recipient's server could not read the message"),
    "notcompliantrfc": gettext_lazy("the message broke the email standards"),
    "badreputation": gettext_lazy("the sending server's reputation is too low"),
    "virusdetected": gettext_lazy("a virus was detected in the message"),
    "syntaxerror": gettext_lazy("the servers did not understand each other"),
    "mailererror": gettext_lazy("a program on the recipient's server failed"),
    "onhold": gettext_lazy("the delivery failed for a reason the report does not make clear"),
    "undefined": gettext_lazy("the delivery failed for a reason the report does not give"),
}


def describe(recipient: Recipient) -> str:
    """Say in words why one recipient failed, with the server's own words after."""
    words = str(REASON_WORDS.get(recipient.reason, REASON_WORDS["undefined"]))
    detail = " ".join(recipient.diagnostic.split())[:200]
    code = recipient.status or recipient.smtp_code
    server = ": ".join(part for part in (code, detail) if part)
    values = {"address": recipient.address, "reason": words, "server": server}
    if server:
        return _("%(address)s: %(reason)s (%(server)s)") % values
    return _("%(address)s: %(reason)s") % values


def _prefer(mailbox: Mailbox | None):
    if mailbox is None:
        return Value(0, output_field=IntegerField())
    return Case(When(mailbox=mailbox, then=0), default=1, output_field=IntegerField())


def find_original(
    mailbox: Mailbox | None, message_id: str | None, addresses
) -> EmailMessage | None:
    """Return the email of ours a report is about, by Message-ID, else by a failed address."""
    outgoing = EmailMessage.objects.filter(direction=Direction.OUTGOING).annotate(
        _other_inbox=_prefer(mailbox)
    )
    message_id = normalize_message_id(message_id) if message_id else None
    if message_id:
        found = outgoing.filter(message_id=message_id).order_by("_other_inbox", "-pk").first()
        if found is not None:
            return found
    since = timezone.now() - timedelta(days=MATCH_DAYS)
    for address in addresses:
        # Addresses are stored as JSON lists of strings: matching the quoted address finds
        # the element, not a longer address that ends with it.
        quoted = f'"{address.lower()}"'
        found = (
            outgoing.filter(sent_at__gte=since)
            .filter(
                Q(to_addrs__icontains=quoted)
                | Q(cc_addrs__icontains=quoted)
                | Q(outbound__recipients__icontains=quoted)
            )
            .order_by("_other_inbox", "-sent_at", "-pk")
            .first()
        )
        if found is not None:
            return found
    return None


def process_report(mailbox: Mailbox | None, raw: bytes) -> str | None:
    """Apply a delivery report found in `mailbox`; return what was done, None if not one.

    Never raises on a malformed report (parse_bounce does not); returns a short description
    for sync's log either way.
    """
    report = parse_bounce(raw)
    if isinstance(report, Feedback):
        return _apply_feedback(mailbox, report)
    done = _apply_bounce(mailbox, report) if isinstance(report, Bounce) else None
    if report is None or report.standard:
        # A DSN may say delivered for some recipients and failed for others.
        delivered = parse_delivered(raw)
        if delivered is not None:
            words = _apply_delivered(mailbox, delivered)
            done = f"{done} {words}" if done else words
    return done


def _apply_delivered(mailbox: Mailbox | None, report: Delivered) -> str:
    message = None
    for message_id in (report.original_envelope_id, report.original_message_id):
        if message_id and message is None:
            message = find_original(mailbox, message_id, ())  # by id only, never by address
    sent = _outbound_of(message) if message is not None else None
    if not sent or sent["pk"] is None:
        who = ", ".join(report.addresses)
        return f"Delivery report for {who}: no email sent from the CRM matches it; nothing changed."
    recipients = {r.lower() for r in sent["recipients"]}
    addresses = [a for a in report.addresses if a in recipients]
    if not addresses:
        return (
            f"Delivery report about \u201c{message.subject}\u201d names none of its recipients; "
            "nothing changed."
        )
    if signals.delivery_reported.has_listeners():
        events = [
            signals.DeliveryReported(
                message_id=message.pk,
                outbound_id=sent["pk"],
                address=address,
                reporting_mta=report.reporting_mta or "",
                source=sent["source"],
                source_id=sent["source_id"],
            )
            for address in addresses
        ]
        signals.send_on_commit(signals.delivery_reported, __name__, events)
    return f"Delivered: \u201c{message.subject}\u201d to {', '.join(addresses)}."


def _apply_bounce(mailbox: Mailbox | None, report: Bounce) -> str:
    failed = [r for r in report.recipients if r.action == "failed"]
    if not failed:
        delayed = ", ".join(r.address for r in report.recipients) or "a recipient"
        return f"Delivery to {delayed} is delayed; the server keeps trying (not a bounce)."
    addresses = [r.address for r in failed if r.address]
    message = find_original(mailbox, report.original_message_id, addresses)
    if message is None:
        who = ", ".join(addresses) or "an unnamed recipient"
        return f"Bounce for {who}: no email sent from the CRM matches it; nothing changed."
    hard = any(r.hard for r in failed)
    reason = "; ".join(describe(r) for r in failed)[:500]
    kind = BounceKind.HARD if hard else BounceKind.SOFT
    with transaction.atomic():
        current = (
            EmailMessage.objects.select_for_update()
            .filter(pk=message.pk)
            .values_list("bounce", flat=True)
            .first()
        )
        if not (current == BounceKind.HARD and not hard):
            EmailMessage.objects.filter(pk=message.pk).update(bounce=kind, bounce_reason=reason)
        for recipient in failed:
            if recipient.hard and recipient.address:
                BouncedAddress.objects.get_or_create(
                    address=recipient.address.lower(),
                    defaults={"reason": describe(recipient)[:500], "message": message},
                )
        _announce(message, failed)
    label = "Hard" if hard else "Soft"
    return f"{label} bounce of \u201c{message.subject}\u201d: {reason}"


def _outbound_of(message: EmailMessage) -> dict:
    """The pk, source and source id of the email's `Outbound` row (none: logged from an inbox)."""
    outbound = Outbound.objects.filter(message=message).values(
        "pk", "source", "source_id", "recipients"
    )
    return outbound.first() or {"pk": None, "source": "", "source_id": None, "recipients": []}


def _announce(message: EmailMessage, failed: list[Recipient]) -> None:
    """Queue bounce_recorded, one event per failed recipient (sent on commit)."""
    if not signals.bounce_recorded.has_listeners():
        return
    sent = _outbound_of(message)
    contact_ids = tuple(message.contacts.order_by("pk").values_list("pk", flat=True))
    signals.send_on_commit(
        signals.bounce_recorded,
        __name__,
        [
            signals.BounceRecorded(
                message_id=message.pk,
                outbound_id=sent["pk"],
                address=(r.address or "").lower(),
                hard=r.hard,
                reason=describe(r)[:500],
                source=sent["source"],
                source_id=sent["source_id"],
                contact_ids=contact_ids,
            )
            for r in failed
        ],
    )


def _apply_feedback(mailbox: Mailbox | None, report: Feedback) -> str:
    kind = report.feedback_type
    message = find_original(mailbox, report.original_message_id, report.recipients)
    if kind not in ("abuse", "opt-out"):
        return f"Feedback report ({kind}); nothing to do."
    if message is None:
        return f"Feedback report ({kind}) about an email not sent from the CRM; nothing changed."
    # Providers often redact the complaining address; the email's own contacts stand in.
    addresses = [a.lower() for a in report.recipients if a]
    if addresses:
        contacts = Contact.objects.filter(emails__address__in=addresses).distinct()
    else:
        contacts = message.contacts.all()
    # A spam report is the strongest unsubscribe there is; a feedback-loop opt-out is the
    # mail client's unsubscribe button.
    source = OptOutSource.SPAM_REPORT if kind == "abuse" else OptOutSource.ONE_CLICK
    names, ids = [], []
    with transaction.atomic():
        for contact in contacts.order_by("pk"):
            opt_out_of_all(contact, source=source)
            names.append(contact.name)
            ids.append(contact.pk)
        _announce_complaint(message, kind, addresses, ids)
    what = "Spam complaint" if kind == "abuse" else "Opt-out request"
    if not names:
        return f"{what} about \u201c{message.subject}\u201d from no known contact."
    return f"{what} about \u201c{message.subject}\u201d: {', '.join(names)} opted out of all email."


def _announce_complaint(message: EmailMessage, kind: str, addresses, contact_ids) -> None:
    """Queue complaint_received (sent on commit): transactional records it for its email."""
    if not signals.complaint_received.has_listeners():
        return
    sent = _outbound_of(message)
    event = signals.ComplaintReceived(
        message_id=message.pk,
        outbound_id=sent["pk"],
        feedback_type=kind,
        addresses=tuple(addresses),
        source=sent["source"],
        source_id=sent["source_id"],
        contact_ids=tuple(contact_ids),
    )
    signals.send_on_commit(signals.complaint_received, __name__, [event])
