"""Tell machine-sent mail from human mail, from headers alone.

Sync calls `auto_reply_reason(headers)` before anything else: a non-None answer means "do not
count this as a person's reply" (a sequence must not end on an out-of-office) and "never send
an automatic answer to it" (RFC 3834). Bounces and read receipts are reported too, so sync can
hand them to `mailboxes.bounces.reports` instead of logging them as replies.

Reasons, most specific first:
- "delivery report": a DSN (multipart/report; report-type=delivery-status), a message from
  MAILER-DAEMON / postmaster / "Mail Delivery System", or one with a bounce subject and a null
  sender or Auto-Submitted (qmail, Exim and other non-standard bounces).
- "read receipt": an MDN (report-type=disposition-notification).
- "feedback report": an ARF complaint (report-type=feedback-report).
- "auto-reply": Auto-Submitted: auto-replied, X-Autoreply, X-Autorespond, Precedence:
  auto_reply, or an out-of-office subject in one of the common client languages.
- "auto-generated": any other Auto-Submitted value but "no" (RFC 3834, RFC 5436's
  auto-notified), or an empty Return-Path (only DSNs and auto-responders use the null sender).
- "bulk": Precedence: bulk or junk (newsletters, notifications).
- "mailing list": Precedence: list, List-Id or List-Unsubscribe. Mail through a list can still
  be written by a person (LKML replies in the corpus carry Precedence: bulk and list), so the
  caller decides whether a list message counts as engagement; it must never be auto-answered.

X-Auto-Response-Suppress is deliberately not a signal: it asks *recipients* not to auto-answer
and Outlook/Exchange set it on ordinary mail (meeting requests, messages from some clients);
the only corpus file carrying it (a Postfix bounce) is caught by its other headers.
"""

from __future__ import annotations

import re
from datetime import date

from mailboxes.mime.parsing import Headers
from mailboxes.providers.base import gettext_noop  # this module imports nothing of Django

# The reasons are stored in English (EmailMessage.auto_reply_reason) and translated where
# they are shown (the timeline's badge, a sequence's history).
DELIVERY_REPORT = gettext_noop("delivery report")
READ_RECEIPT = gettext_noop("read receipt")
FEEDBACK_REPORT = gettext_noop("feedback report")
AUTO_REPLY = gettext_noop("auto-reply")
AUTO_GENERATED = gettext_noop("auto-generated")
BULK = gettext_noop("bulk")
MAILING_LIST = gettext_noop("mailing list")

_NO_REPLY = re.compile(r"^(no-?reply|do-?not-?reply)[@+.-]", re.I)
_REPORT_TYPES = {
    "delivery-status": DELIVERY_REPORT,
    "global-delivery-status": DELIVERY_REPORT,
    "disposition-notification": READ_RECEIPT,
    "global-disposition-notification": READ_RECEIPT,
    "feedback-report": FEEDBACK_REPORT,
}
# Who sends bounces, by address local part or display name, and what they call them.
# mailboxes.bounces.reports reads a bounce without a DSN part only when this module says "delivery
# report", so these lists decide which text bounces are read at all.
_BOUNCE_SENDER = re.compile(
    r"^(mailer-daemon|mailer_daemon|mail-daemon|mailerdaemon|postmaster|post_master|"
    r"mail delivery (subsystem|system)|mail administrator)\b",
    re.I,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status notification|failure|failed|has failed|error|report)|"
    r"returned mail|mail delivery failed|failure notice|could not be delivered|"
    r"mail system error|not delivered|non-?delivery|returned to sender|mail failure|"
    r"error sending|message delivery has failed|could not send message|"
    r"delivery notification|メールエラー|配信できません|недоставленное|не доставлено|"
    r"unzustellbar|non remis|no entregado",
    re.I,
)

# Prefixes that clients put in front of the original subject, anchored at the start so that
# "Re: our out of office policy" stays human. Outlook's in many locales, Exchange 2003's
# "Out of Office AutoReply:", Lotus Notes' "<name> is out of the office.", Apple/Gmail's
# vacation responders ("Autoreply:"). Not a bare "Auto:": German for car, and CRM mail has cars.
_OUT_OF_OFFICE = re.compile(
    r"""^\s*(?:
        automatic\ reply | auto[- ]?reply | auto[- ]?response | autoresponder
      | out\ of\ (?:the\ )?office | ooo\s*: | on\ vacation | vacation\ reply
      | abwesenheitsnotiz | automatische\ antwort | abwesend\s*:
      | r[ée]ponse\ automatique | absence\ du\ bureau | message\ d'absence
      | respuesta\ autom[áa]tica | fuera\ de\ la\ oficina
      | risposta\ automatica | fuori\ sede | fuori\ ufficio
      | resposta\ autom[áa]tica | ausente\ do\ escrit[óo]rio
      | automatisch\ antwoord | afwezig\s*:
      | automatisk\ svar | autosvar | fr[åa]nvaro
      | automaattinen\ vastaus | odpowied[źz]\ automatyczna | automatyczna\ odpowied[źz]
      | automatick[áa]\ odpov[ěe][ďd] | otomatik\ yan[ıi]t
      | автоматический\ ответ | 自動返信 | 自動応答 | 自动回复 | 自動回覆 | 자동\s*응답
    )""",
    re.I | re.X,
)
_NOTES_OUT_OF_OFFICE = re.compile(r"\bis out of (?:the )?office\b", re.I)


def _token(value: str | None) -> str:
    if not value:  # most mail has none of these fields
        return ""
    # "auto-generated (failure)" and "auto-replied; owner-email=..." are common forms.
    return re.split(r"[\s;(]", value.strip().lower(), maxsplit=1)[0]


def auto_reply_reason(headers: Headers) -> str | None:
    """Return why a message is machine-sent (one of the module's reason constants) or None."""
    if headers.content_type == "message/delivery-status":
        return DELIVERY_REPORT
    if headers.content_type == "multipart/report":
        return _REPORT_TYPES.get(headers.report_type or "", DELIVERY_REPORT)
    sender = headers.from_addr or ""
    null_sender = headers.return_path is not None and headers.return_path.strip() in ("<>", "")
    if _BOUNCE_SENDER.match(sender) or _BOUNCE_SENDER.match(headers.from_name):
        return DELIVERY_REPORT
    # The sender test first: the subject search is half this function's time on person mail.
    if (
        not sender or headers.auto_submitted or null_sender or _NO_REPLY.match(sender)
    ) and _BOUNCE_SUBJECT.search(headers.subject):
        # A bounce subject alone could be a person forwarding one ("Fwd: Undeliverable");
        # from nobody, a no-reply address (KDDI's), or with Auto-Submitted, it is a server's.
        return DELIVERY_REPORT

    auto_submitted = _token(headers.auto_submitted)
    precedence = _token(headers.precedence)
    if auto_submitted == "auto-replied" or precedence == "auto_reply":
        return AUTO_REPLY
    if _token(headers.x_autoreply) not in ("", "no") or headers.x_autorespond:
        return AUTO_REPLY
    if _OUT_OF_OFFICE.match(headers.subject) or _NOTES_OUT_OF_OFFICE.search(headers.subject):
        return AUTO_REPLY
    if auto_submitted not in ("", "no"):
        return AUTO_GENERATED
    if null_sender:
        return AUTO_GENERATED
    if precedence in ("bulk", "junk"):
        return BULK
    if precedence == "list" or headers.list_id or headers.list_unsubscribe:
        return MAILING_LIST
    return None


# --- The return date of an out-of-office message ---------------------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            "january jan gennaio gen januar janvier janv enero ene",
            "february feb febbraio febbr februar février fevrier févr fevr febrero",
            "march mar marzo märz maerz mars",
            "april apr aprile avril avr abril abr",
            "may maggio mag mai mayo",
            "june jun giugno giu juni juin junio",
            "july jul luglio lug juli juillet juil julio",
            "august aug agosto ago août aout",
            "september sep sept settembre set septembre septiembre",
            "october oct ottobre ott oktober okt octobre octubre",
            "november nov novembre novembre noviembre",
            "december dec dicembre dic dezember dez décembre decembre diciembre",
        ),
        start=1,
    )
    for name in names.split()
}
_MONTH = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
# The words that introduce the day someone is back, in the languages the subjects above cover.
_UNTIL = (
    r"(?:until|till|through|thru|back (?:on|in the office on)?|return(?:ing)? (?:on)?|"
    r"in the office (?:on|from)|"
    r"fino al?|fino a|rientro (?:il|in ufficio il)?|rientrerò (?:il)?|sarò di nuovo in ufficio "
    r"(?:il|dal)?|"
    r"bis (?:zum|einschlie(?:ß|ss)lich)?|zurück (?:am|ab)?|wieder (?:im büro )?(?:am|ab)|"
    r"jusqu'au|jusqu’au|retour (?:le)?|de retour (?:le)?|"
    r"hasta el|regreso el|de vuelta el)"
)
_NUMERIC = r"(\d{4})-(\d{1,2})-(\d{1,2})|(\d{1,2})[./](\d{1,2})(?:[./](\d{2,4}))?"
_WORDED = rf"(\d{{1,2}})(?:st|nd|rd|th|er|\.)?\s+(?:de\s+)?({_MONTH})\.?(?:\s+(?:de\s+)?(\d{{4}}))?"
_MONTH_FIRST = rf"({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?"
_WEEKDAY = r"(?:[^\W\d]+,?\s+)?"
_RETURN = re.compile(
    rf"\b{_UNTIL}\s*:?\s*{_WEEKDAY}(?:{_NUMERIC}|{_WORDED}|{_MONTH_FIRST})(?![\d/.-]\d)",
    re.IGNORECASE,
)


def return_date(text: str, received: date | None = None) -> date | None:
    """The day an out-of-office message says its writer is back, or None.

    Reads the first phrase like "back on 14 March", "until Monday, March 13th", "fino al
    12/03", "bis zum 12.03.2027" or "jusqu'au 12 mars". Numeric dates read day first (as
    written outside the US), unless ISO; a date without a year is the next such day on or
    after `received`. A date before `received` or one that does not exist gives None.
    """
    received = received or date.today()
    for match in _RETURN.finditer(text[:5000]):
        g = match.groups()
        try:
            if g[0]:
                found = date(int(g[0]), int(g[1]), int(g[2]))
            elif g[3]:
                found = _dated(int(g[3]), int(g[4]), g[5], received)
            elif g[6]:
                found = _dated(int(g[6]), _MONTHS[g[7].lower()], g[8], received)
            else:
                found = _dated(int(g[10]), _MONTHS[g[9].lower()], g[11], received)
        except ValueError:
            continue
        if found >= received:
            return found
    return None


def _dated(day: int, month: int, year: str | None, received: date) -> date:
    if year:
        number = int(year)
        return date(number + 2000 if number < 100 else number, month, day)
    found = date(received.year, month, day)
    return found if found >= received else date(received.year + 1, month, day)
