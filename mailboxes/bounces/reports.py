"""Read bounces (DSNs and the non-standard kinds) and ARF complaints; classify hard vs soft.

`parse_bounce(raw)` answers one of three things:
- `Bounce`: delivery failed (or is delayed) for one or more recipients. Each `Recipient` says
  `hard=True` when the address itself is bad and must be suppressed, `hard=False` when a later
  send may work (full mailbox, spam or policy block, rate limit, timeout, a delay warning).
- `Feedback`: an ARF report (RFC 5965): a complaint ("abuse") or an opt-out from a mailbox
  provider's feedback loop. Not a bounce, but the address must be suppressed all the same.
- None: not a bounce. That includes auto-replies, MDN read receipts and a DSN whose
  recipients were all delivered, relayed or expanded.

`parse_delivered(raw)` reads the other side of a DSN: a success report (RFC 3464
multipart/report; report-type=delivery-status, a recipient with `Action: delivered` and a 2.x.x
status), which a relay sends when it was asked to (RFC 3461 NOTIFY=SUCCESS). Only a standard
report counts: no prose is read for it, and "relayed" or "expanded" is not "delivered".

Hard vs soft follows sisimai's semantics (the corpus expectations come from its tests): a
recipient is hard only when the reason is userunknown, hostunknown or hasmoved, or notaccept
(a null MX, RFC 7505) with a 5xx code. A 5.x.x status alone is *not* hard: a full mailbox, a
spam block or a policy rejection is permanent for this message but says nothing about the
address. The reason comes from the diagnostic text first (servers send 550 5.1.1 for "rate
limited" and 553 5.7.1 for "user unknown"; the text is what they meant), then from the status
code, then from the SMTP reply code. See `classify`.

Standard DSNs (RFC 3464) are read from their message/delivery-status part, leniently (no
blank line between groups, extra blank lines, a base64-encoded recipient group, a BOM before
the headers). Non-standard bounces (qmail, Exim, Sendmail's old format, Exchange and Notes
NDRs, webmail providers) are read from their text, the failed addresses and the lines after
each one, but only when `mailboxes.mime.autoreply` calls the message a delivery report (bounce
sender, or bounce subject from a null or no-reply sender) or it carries X-Failed-Recipients
or Exchange's NDR header: a person forwarding a bounce must not get its addresses suppressed.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email.message import Message
from email.policy import compat32

from mailboxes.mime.autoreply import DELIVERY_REPORT, auto_reply_reason
from mailboxes.mime.parsing import (
    Headers,
    b64decode_lenient,
    decode_bytes,
    normalize_message_id,
    normalize_newlines,
    parse_headers,
    payload_bytes,
    raw_header,
    split_content_type,
)
from mailboxes.mime.sanitize import html_to_text

HARD_REASONS = frozenset({"userunknown", "hostunknown", "hasmoved"})


@dataclass(frozen=True, slots=True)
class Recipient:
    """One failed (or delayed) recipient of a bounce."""

    address: str
    action: str  # failed, delayed (from the DSN, or inferred from the status class)
    status: str  # RFC 3463 D.S.N., e.g. "5.1.1"; "" when the bounce gives none
    smtp_code: str  # e.g. "550"; "" when the bounce gives none
    diagnostic: str
    reason: str  # sisimai's vocabulary: userunknown, mailboxfull, blocked, ...; "undefined"
    hard: bool


@dataclass(frozen=True, slots=True)
class Bounce:
    """A bounce: who failed, why, and which message of ours it was."""

    recipients: tuple[Recipient, ...]
    original_message_id: str | None
    original_envelope_id: str | None
    reporting_mta: str | None
    standard: bool  # True for an RFC 3464 DSN, False for a bounce read from its text


@dataclass(frozen=True, slots=True)
class Delivered:
    """A success DSN: which recipients the receiving side took, and which message of ours."""

    addresses: tuple[str, ...]
    original_message_id: str | None
    original_envelope_id: str | None  # RFC 3461's ENVID, xtext decoded
    reporting_mta: str | None


@dataclass(frozen=True, slots=True)
class Feedback:
    """An ARF feedback report: a complaint or opt-out about a message of ours."""

    feedback_type: str  # abuse, opt-out, fraud, virus, not-spam, auth-failure, other
    recipients: tuple[str, ...]  # Original-Rcpt-To, else the To of the attached message
    original_message_id: str | None
    original_mail_from: str | None
    source_ip: str | None
    user_agent: str | None


# --- reading the message --------------------------------------------------------------------

# compat32 parses message/delivery-status into header blocks and mangles a base64-encoded one
# (mimekit bounce.txt, a Proofpoint relay); renamed to text/* its payload stays raw and is
# decoded like any other part.
_REPORT_PART = re.compile(
    rb"^(content-type:[ \t]*)message/"
    rb"((?:global-)?(?:delivery-status|disposition-notification)|feedback-report)",
    re.I | re.M,
)
_STATUS_TYPES = ("text/x-report-delivery-status", "text/x-report-global-delivery-status")
_MDN_TYPES = (
    "text/x-report-disposition-notification",
    "text/x-report-global-disposition-notification",
)
_HEADER_TYPES = ("text/rfc822-headers", "text/rfc822-header")  # the second: sisimai arf-12


@dataclass
class _Parts:
    status: list[str]
    feedback: list[str]
    mdn: bool
    human: list[str]  # text/plain (or, failing that, text/html) parts written for people
    originals: list[Message]  # attached message/rfc822 parts
    original_headers: list[str]  # text/rfc822-headers parts


def _text(part: Message) -> str:
    data, _defects = payload_bytes(part)
    return decode_bytes(
        data, split_content_type(raw_header(part, "content-type"))[1].get("charset")
    )[0]


def _collect(msg: Message, *, nested: bool = False) -> _Parts:
    """Sort a bounce's parts by role; look one level into an attached message if need be."""
    parts = _Parts([], [], False, [], [], [])
    html: list[str] = []
    stack = [msg]
    seen = 0
    while stack and seen < 200:
        part = stack.pop()
        seen += 1
        ctype = split_content_type(raw_header(part, "content-type") or None)[0]
        payload = part.get_payload()
        if ctype.startswith("multipart/") and isinstance(payload, list):
            stack.extend(reversed(payload))
        elif ctype in ("message/rfc822", "message/global") and isinstance(payload, list):
            parts.originals.extend(m for m in payload if isinstance(m, Message))
        elif ctype in _STATUS_TYPES:
            parts.status.append(_text(part))
        elif ctype == "text/x-report-feedback-report":
            parts.feedback.append(_text(part))
        elif ctype in _MDN_TYPES:
            parts.mdn = True
        elif ctype in _HEADER_TYPES:
            parts.original_headers.append(_text(part))
        elif ctype in ("text/plain", "text/html") or ctype.startswith("multipart/"):
            # (a multipart whose boundary is missing is text, sisimai lhost-apachejames-01)
            if "attachment" not in raw_header(part, "content-disposition").lower():
                text = _text(part)
                (html if ctype == "text/html" else parts.human).append(text)
    if not parts.human:
        parts.human = [html_to_text(text) for text in html]
    if not parts.status and not nested:
        # A bounce forwarded as an attachment (sisimai lhost-x5-01) carries the DSN inside.
        for original in parts.originals:
            inner = _collect(original, nested=True) if original.is_multipart() else None
            if inner and inner.status:
                parts.status, parts.human = inner.status, parts.human + inner.human
                parts.originals = inner.originals or parts.originals
                break
    return parts


def _original_message_headers(parts: _Parts):
    for original in parts.originals:
        block = "\n".join(f"{name}: {value}" for name, value in original.raw_items())
        yield parse_headers(block.encode("utf-8", "surrogateescape"))
    for text in parts.original_headers:
        yield parse_headers(text.encode("utf-8", "surrogateescape"))


# --- RFC 3464 delivery-status fields --------------------------------------------------------

_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$")
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_REPLY = re.compile(r"(?<![\d.#-])([245][0-5]\d)(?=[ -]|$)")
_ADDRESS = re.compile(r"[A-Za-z0-9._%+'=/!#$&*?^`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def _field_groups(text: str) -> list[dict[str, str]]:
    """Split delivery-status text into field groups, leniently.

    Groups are separated by blank lines, or (no-blank-line variant, mimekit
    delivery-status-no-blank-line.txt) start again when a recipient field repeats.
    """
    groups: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = None
    for line in text.split("\n"):
        if not line.strip():
            if current:
                groups.append(current)
            current, last = {}, None
            continue
        if line[0] in " \t" and last:
            current[last] += " " + line.strip()
            continue
        match = _FIELD.match(line)
        if not match:
            continue
        name, value = match.group(1).lower(), match.group(2).strip()
        if name in ("final-recipient", "original-recipient") and name in current:
            groups.append(current)
            current = {}
        if name not in current:
            current[name] = value
            last = name
        else:
            last = None
    if current:
        groups.append(current)
    return groups


_BASE64_BLOCK = re.compile(r"^[A-Za-z0-9+/=\s]+$")
_BASE64_DECLARED = re.compile(r"^content-transfer-encoding:\s*base64\s*$", re.I | re.M)


def _unwrap_base64_groups(text: str) -> str:
    """Decode per-recipient groups that a relay base64-encoded inside the delivery-status part.

    mimekit's bounce.txt (a Proofpoint relay) has "Content-Transfer-Encoding: base64" as a
    field of the per-message group and the recipient group after it in base64.
    """
    if not _BASE64_DECLARED.search(text):
        return text
    blocks = re.split(r"\n[ \t]*\n", text)
    for index in range(1, len(blocks)):
        if _BASE64_DECLARED.search(blocks[index - 1]) and _BASE64_BLOCK.match(blocks[index]):
            data = b64decode_lenient(blocks[index].encode("ascii"))[0]
            blocks[index] = normalize_newlines(data).decode("utf-8", "replace")
    return "\n\n".join(blocks)


def _address(value: str) -> str:
    # "rfc822; <bob@example.com>", "RFC822;bob@example.com", or an address in prose.
    value = value.split(";", 1)[-1].strip()
    match = _ADDRESS.search(value)
    return (match.group(0) if match else value.strip("<> ")).lower()


def _status_in(text: str) -> str:
    match = _STATUS.search(text)
    return ".".join(match.groups()) if match else ""


def _reply_in(text: str) -> str:
    match = _REPLY.search(text)
    return match.group(1) if match else ""


def _strip_type(value: str) -> str:
    # "smtp; 550 5.1.1 ..." -> "550 5.1.1 ..."; "X-Postfix; ..." likewise.
    kind, sep, rest = value.partition(";")
    return rest.strip() if sep and re.fullmatch(r"\s*[\w-]{1,20}\s*", kind) else value.strip()


# --- reasons --------------------------------------------------------------------------------


def _rx(*phrases: str) -> re.Pattern[str]:
    return re.compile("|".join(phrases), re.I)


# The phrase tables below are written from the wording of real bounces (the corpus and the
# providers' published error pages); the reason names are sisimai's. Order matters, see classify.
# fmt: off
# Soft reasons whose wording wins over "user unknown" (the mailbox exists, or the sender is
# the problem).
_SOFT_FIRST = (
    # An ESP refusing to try an address it suppressed earlier (Amazon SES): not new evidence.
    ("suppressed", _rx(r"suppression list", r"\bsuppressed\b")),
    ("mailboxfull", _rx(
        r"mail ?box (is )?full", r"over ?quota", r"quota (exceeded|full)", r"disk quota",
        r"exceed\w* (the |his |her |their )?(storage|quota|mailbox)", r"full mailbox",
        r"insufficient .{0,20}storage", r"mail ?box size limit", r"mailfolder is full",
        r"not enough (disk )?(space|storage)", r"mail ?box exceeded", r"容量",
    )),
    ("mesgtoobig", _rx(
        r"message (size )?(is )?too (big|large)", r"(mail|message) size limit",
        r"exceeds? (the )?(fixed )?maximum (message |inbound )?(message )?size",
        r"message (size|length) exceeds", r"size (limit )?exceeded",
    )),
    ("exceedlimit", _rx(r"exceeds? .{0,30}limit", r"limit exceeded")),
    ("suspend", _rx(
        r"(account|mail ?box|user|address) (has been |is )?"
        r"(disabled|suspended|deactivated|discontinued|locked|inactive|closed)",
        r"suspended (account|mailbox)", r"account (is )?(temporarily )?unavailable", r"利用停止",
    )),
    ("norelaying", _rx(
        r"relay(ing)? (access )?(is )?(denied|not permitted|not allowed|prohibited)",
        r"not (permitted|allowed|authori[sz]ed) to relay", r"unable to relay",
        r"not a gateway", r"we do not relay",
    )),
    # A local delivery program failed (Postfix "Command died", procmail, X-Unix diagnostics).
    ("mailererror", _rx(
        r"command died", r"procmail", r"command output", r"x-unix mailer", r"mailer error",
    )),
    ("authfailure", _rx(r"\bspf\b", r"\bdmarc\b", r"\bdkim\b", r"sender policy framework")),
    ("speeding", _rx(
        r"rate limit", r"too many (messages|emails|mails|recipients)", r"(sending|message) rate",
        r"throttl",
    )),
    ("toomanyconn", _rx(r"too many (connections|sessions|concurrent)")),
    ("badreputation", _rx(r"reputation", r"unexpected volume or user complaints")),
    ("requireptr", _rx(
        r"\bptr\b", r"reverse (dns|lookup|hostname|address)", r"\brdns\b",
        r"cannot find your hostname", r"no reverse",
    )),
    ("notcompliantrfc", _rx(r"\brfc ?(5322|2822)\b", r"not (rfc|standards?)[ -]?complian")),
)
_HAS_MOVED = _rx(
    r"no longer (on server|at this address|with)", r"has moved", r"address (has )?changed",
)
_USER_UNKNOWN = _rx(
    r"user ?unknown", r"unknown (user|recipient|local[- ]part|mailbox|e-?mail address|address)",
    r"no such (user|mailbox|recipient|address|person|account)", r"invalid (recipient|mailbox|user)",
    r"(recipient|user|mailbox|address|account) (does not|doesn't|did not) exist",
    r"(recipient|user|mailbox|address) (was )?not found", r"not a (valid|known) (user|mailbox)",
    r"mailbox (unavailable|not found|invalid|is unavailable)", r"no mailbox here",
    r"doesn't have a .{1,60} account", r"bad (destination |recipient )?(mailbox )?address",
    r"recipient address rejected: (user unknown|unknown user|invalid)", r"nosuchuser",
    r"not our customer", r"unknown or illegal alias",
    r"存在しない", r"宛先不明", r"не существует", r"нет такого",
)
# Wordings that providers use only for a missing address, whatever the SMTP stage.
_USER_UNKNOWN_ALWAYS = _rx(
    r"email account that you tried to reach does not exist",  # Gmail
    r"recipientnotfound|recipient not found by smtp address lookup",  # Exchange Online
    r"no valid recipients for this mm",  # Verizon's MMS gateway
)
_HOST_UNKNOWN = _rx(
    r"host unknown", r"unknown host", r"no such domain", r"domain (does not|doesn't) exist",
    r"host or domain name not found", r"name or service not known", r"unrouteable address",
    r"domain (is )?not (found|reachable)", r"unknown domain", r"domain name not found",
    r"dns error.{0,40}(nxdomain|not found)",
)
_NOT_ACCEPT = _rx(r"null mx", r"does not accept (any )?(e-?)?mail", r"not accepting (any )?mail")
_BLOCKED = _rx(
    r"blocked", r"block ?list", r"black ?list", r"\brbl\b", r"dnsbl", r"listed (in|on|at|by)",
    r"access denied", r"(connection|client) (refused|rejected)", r"sender (was )?rejected",
    r"refused", r"spamhaus", r"banned", r"denied",
)
# Soft reasons named only when nothing above matched.
_SOFT_LATER = (
    ("spamdetected", _rx(r"spam", r"unsolicited", r"bulk e-?mail", r"\bube\b", r"junk mail")),
    ("virusdetected", _rx(r"virus", r"malware", r"infected")),
    ("policyviolation", _rx(r"policy", r"prohibited")),
    ("blocked", _BLOCKED),
    ("rejected", _rx(r"rejected", r"not (permitted|allowed) to post", r"may not exist")),
    ("contenterror", _rx(r"media error", r"content (error|rejected)", r"8-?bit data", r"mime")),
    ("expired", _rx(
        r"retry (timeout|time) exceeded", r"could not deliver for", r"giving up", r"expired",
        r"queue too long", r"in the queue", r"delivery failed \d+ attempts", r"timed? ?out",
        r"delivery attempts", r"could not be delivered within",
    )),
    ("mailererror", _rx(r"command died", r"mailer error", r"x-unix", r"procmail", r"\bpipe\b")),
    ("networkerror", _rx(
        r"connection reset", r"network error", r"connection (timed out|refused|lost)",
        r"error transferring", r"no route to host", r"unreachable",
    )),
    ("syntaxerror", _rx(
        r"syntax error", r"malformed", r"incorrectly constructed", r"bad sequence",
    )),
    ("systemfull", _rx(
        r"disk (is )?full", r"system full", r"insufficient system", r"out of disk",
        r"insufficient disk space",
    )),
    ("systemerror", _rx(r"system error", r"internal error", r"loop", r"server error")),
    ("securityerror", _rx(r"security", r"authentication required", r"tls")),
)
# The server said it at RCPT TO: "user unknown" there is about the address, not the content.
_RCPT_STAGE = _rx(
    r"in reply to rcpt to command", r">>> rcpt to", r"after rcpt to", r"our rcpt to",
    r"rcpt to command", r"rcpt to response",
)
# RFC 3463 subject.detail -> reason, when the text says nothing more specific.
_STATUS_REASONS = {
    "1.1": "userunknown", "1.2": "hostunknown", "1.3": "userunknown", "1.4": "userunknown",
    "1.6": "hasmoved", "1.10": "notaccept", "4.4": "hostunknown", "2.2": "mailboxfull",
    "3.4": "mesgtoobig", "2.3": "exceedlimit", "2.1": "suspend", "4.7": "expired",
    "1.8": "rejected", "1.7": "rejected", "3.2": "notaccept", "4.1": "networkerror",
    "4.6": "networkerror", "5.0": "syntaxerror", "3.5": "systemerror", "3.0": "mailererror",
}
# fmt: on


def classify(status: str, smtp_code: str, text: str, action: str = "failed") -> tuple[str, bool]:
    """Return (reason, hard) for one recipient from its status, reply code and diagnostic.

    The order follows sisimai: soft reasons that describe an existing mailbox first; then the
    hard ones; "user unknown" wording counts as userunknown only when the status says x.1.x
    or the server answered it to RCPT TO. Said after DATA with no such status it is a content
    filter's verdict ("filtered", soft), as sisimai treats it.
    """
    detail = ".".join(status.split(".")[1:]) if status else ""  # "5.1.1" -> "1.1"
    permanent = (
        status.startswith("5")
        or smtp_code.startswith("5")
        or (not status and not smtp_code and action == "failed")
    )
    for reason, pattern in _SOFT_FIRST:
        if pattern.search(text):
            return reason, False
    if _HAS_MOVED.search(text) or detail == "1.6":
        return "hasmoved", True
    if _NOT_ACCEPT.search(text) or detail == "1.10":
        return "notaccept", permanent
    if _USER_UNKNOWN_ALWAYS.search(text):
        return "userunknown", True
    user_unknown = bool(_USER_UNKNOWN.search(text))
    if user_unknown and (detail.startswith("1.") or _RCPT_STAGE.search(text)):
        if not (_BLOCKED.search(text) and detail != "1.1"):
            return "userunknown", True
    if _HOST_UNKNOWN.search(text) or detail in ("1.2", "4.4"):
        return "hostunknown", True
    if user_unknown:
        return "filtered", False
    if detail in ("1.1", "1.3", "1.4") and not _BLOCKED.search(text):
        return "userunknown", True
    for reason, pattern in _SOFT_LATER:
        if pattern.search(text):
            return reason, False
    if detail in _STATUS_REASONS:
        reason = _STATUS_REASONS[detail]
        return reason, reason in HARD_REASONS
    if status[2:4] == "7.":
        return "securityerror", False
    if status[2:4] == "6.":
        return "contenterror", False
    if action == "delayed" or status.startswith("4"):
        return "expired", False
    return ("onhold" if text.strip() else "undefined"), False


# --- non-standard bounces -------------------------------------------------------------------

# Where the copy of the original message starts inside a bounce's text.
_ORIGINAL_MARKER = re.compile(
    r"^[ \t]*(?:[-=_*]{2,}.{0,20})?(?:"
    r"original message|below this line is a copy|this is a copy of|unsent message follows|"
    r"returned message|message headers follow|header of the original|original mail info|"
    r"included is a copy|copy of (?:the |your )?message|the headers? of (?:the|your) message|"
    r"original message follows|rfc822 message|text of the message"
    r")",
    re.I | re.M,
)
_HEADER_LINE = re.compile(r"^(?:received|return-path|message-id|dkim-signature|x-[\w-]+):", re.I)
_NOT_RECIPIENT_LINE = re.compile(
    r"^\s*(?:from|sender|reply-to|return-path|mail from|envelope-from|subject|date|sent)\s*:", re.I
)
_NOT_RECIPIENT_LOCAL = re.compile(r"^(mailer-daemon|mailer_daemon)@", re.I)


def _human_text(parts: _Parts) -> str:
    text = "\n".join(parts.human)
    cut = len(text)
    marker = _ORIGINAL_MARKER.search(text)
    if marker:
        cut = marker.start()
    for match in re.finditer(r"^\S.*$", text[:cut], re.M):
        if _HEADER_LINE.match(match.group(0)):  # the original's headers, pasted in
            cut = match.start()
            break
    return text[:cut]


def _text_recipients(text: str, exclude: set[str]) -> list[tuple[str, str]]:
    """Find failed addresses in a bounce's prose and the lines that explain each one."""
    lines = text.split("\n")
    found: dict[str, list[str]] = {}
    for index, line in enumerate(lines):
        if _NOT_RECIPIENT_LINE.match(line):
            continue
        addresses = [a.lower().strip("'.") for a in _ADDRESS.findall(line)]
        addresses = [a for a in addresses if a not in exclude and not _NOT_RECIPIENT_LOCAL.match(a)]
        if not addresses:
            continue
        # The first address on a line is the one that failed; later ones explain it ("<a>
        # (expanded from <b>)", Exim's "a <b>: malformed address: <b> may not follow a").
        address = addresses[0]
        context = found.setdefault(address, [])
        context.append(line.strip())
        for follow in lines[index + 1 : index + 8]:
            if not follow.strip():
                break
            others = {a.lower() for a in _ADDRESS.findall(follow)} - {address} - exclude
            # Sendmail lists one "NNN <address>... reason" line per recipient.
            if others or (re.match(r"^\s*\d{3}[ -]", follow) and _REPLY.search(line)):
                break
            context.append(follow.strip())
    return [(address, "\n".join(dict.fromkeys(context))) for address, context in found.items()]


def _looks_like_bounce(msg: Message, headers: Headers) -> bool:
    # The same test sync applies before calling us, plus two headers only bounces carry. A
    # bounce-like subject alone is not enough: a person forwarding a bounce quotes addresses
    # that must not be suppressed.
    return bool(
        auto_reply_reason(headers) == DELIVERY_REPORT
        or raw_header(msg, "x-failed-recipients")
        or raw_header(msg, "x-ms-exchange-message-is-ndr")
    )


# --- entry point ----------------------------------------------------------------------------

_MESSAGE_ID_LINE = re.compile(r"^message-id:[ \t]*(\S.*)$", re.I | re.M)
_ACTIONS = {"failure": "failed", "expired": "failed", "deliverable": "delivered"}
# PowerMTA states its own verdict (sisimai lhost-powermta-02, lhost-x5-01).
_VENDOR_CATEGORIES = {"bad-mailbox": "userunknown", "bad-domain": "hostunknown"}


def _recipient(
    address: str, action: str, status: str, diagnostic: str, context: str, category: str = ""
) -> Recipient:
    text = "\n".join(part for part in (diagnostic, context) if part)
    smtp_code = _reply_in(diagnostic) or _reply_in(context)
    status = status or _status_in(diagnostic) or _status_in(context)
    if not action:
        action = {"2": "delivered", "4": "delayed"}.get((status or smtp_code)[:1], "failed")
    if category in _VENDOR_CATEGORIES:
        reason, hard = _VENDOR_CATEGORIES[category], True
    else:
        reason, hard = classify(status, smtp_code, text, action)
    if action == "delayed" or (status or smtp_code).startswith("4"):
        hard = False  # a transient failure never condemns an address
    return Recipient(address, action, status, smtp_code, diagnostic or context, reason, hard)


def _dsn_recipients(
    parts: _Parts, human: str, exclude: set[str], fields: dict[str, str]
) -> list[Recipient] | None:
    """Read the recipients of a DSN's delivery-status part; None if it names none."""
    groups = [g for text in parts.status for g in _field_groups(_unwrap_base64_groups(text))]
    listed = [g for g in groups if g.get("final-recipient") or g.get("original-recipient")]
    for group in groups:
        if group not in listed:
            for name, value in group.items():
                fields.setdefault(name, value)
    if not listed:
        return None  # a report with no per-recipient part (sisimai lhost-x3-05): read the text
    contexts = dict(_text_recipients(human, exclude))
    recipients = []
    for group in listed:
        address = _address(group.get("final-recipient") or group["original-recipient"])
        action = group.get("action", "").lower().split(" ")[0]
        diagnostic_code = group.get("diagnostic-code", "")
        context = contexts.get(address) or (human if len(listed) == 1 else "")
        if diagnostic_code.lower().startswith("x-unix"):
            context = f"{context}\nx-unix mailer"  # a local delivery program failed
        category = group.get("x-powermta-bouncecategory") or fields.get(
            "x-powermta-bouncecategory", ""
        )
        recipients.append(
            _recipient(
                address,
                _ACTIONS.get(action, action),
                _status_in(group.get("status", "")),
                _strip_type(diagnostic_code),
                context,
                category.strip().lower(),
            )
        )
    return recipients


_DELAY_NOTICE = _rx(
    r"will (keep|continue) trying",
    r"still (undelivered|not been delivered)",
    r"not yet been delivered",
    r"delivery (is |has been )?delayed",
    r"will retry",
)


def _text_bounce_recipients(
    msg: Message, parts: _Parts, human: str, exclude: set[str]
) -> list[Recipient]:
    found = _text_recipients(human, exclude)
    failed = [a.strip().lower() for a in raw_header(msg, "x-failed-recipients").split(",")]
    for address in failed:
        if address and address not in dict(found):
            found.append((address, human))
    if not found:
        # Nothing in the prose names an address (Verizon: "No valid recipients for this MM"):
        # the recipients are those of the returned message.
        originals = list(_original_message_headers(parts)) + [_quoted_headers(parts)]
        addresses = [a for o in originals for a in (*o.to, *o.cc) if a not in exclude]
        found = [(address, human) for address in dict.fromkeys(addresses)]
    if len(found) == 1:
        found = [(found[0][0], human)]  # one recipient: all of the prose is about it
    # A text bounce is a final failure unless it says it is only a warning.
    action = "delayed" if _DELAY_NOTICE.search(human) else "failed"
    return [_recipient(address, action, "", context, "") for address, context in found]


def _quoted_headers(parts: _Parts) -> Headers:
    # The original's headers pasted after the marker line ("Original Message:", "---
    # Below this line is a copy of the message.").
    text = "\n".join(parts.human)
    marker = _ORIGINAL_MARKER.search(text)
    if not marker:
        return Headers()
    quoted = text[marker.end() :].split("\n", 1)[-1]
    lines = [line.strip() for line in quoted.split("\n") if _FIELD.match(line.strip())]
    return parse_headers("\n".join(lines).encode("utf-8", "surrogateescape"))


def _original_message_id(parts: _Parts, fields: dict[str, str], headers: Headers) -> str | None:
    # In this order: the DSN's own extension field, the attached
    # original, a Message-ID line quoted in the text, then what the bounce itself replies to.
    if fields.get("x-original-message-id"):
        return normalize_message_id(fields["x-original-message-id"])
    for original in _original_message_headers(parts):
        if original.message_id:
            return original.message_id
    match = _MESSAGE_ID_LINE.search("\n".join(parts.human))
    if match:
        return normalize_message_id(match.group(1))
    return headers.in_reply_to or (headers.references[-1] if headers.references else None)


def _feedback(parts: _Parts) -> Feedback:
    fields: dict[str, list[str]] = {}
    for group in parts.feedback:
        for line in group.split("\n"):
            match = _FIELD.match(line)
            if match:
                fields.setdefault(match.group(1).lower(), []).append(match.group(2).strip())
    originals = list(_original_message_headers(parts))
    recipients = [_address(v) for v in fields.get("original-rcpt-to", [])]
    if not recipients and originals:
        recipients = list(originals[0].to)
    first = {name: values[0] for name, values in fields.items()}
    mail_from = first.get("original-mail-from")
    return Feedback(
        feedback_type=(first.get("feedback-type") or "other").lower(),
        recipients=tuple(dict.fromkeys(recipients)),
        original_message_id=next((o.message_id for o in originals if o.message_id), None),
        original_mail_from=_address(mail_from) if mail_from else None,
        source_ip=first.get("source-ip"),
        user_agent=first.get("user-agent"),
    )


def _parse(raw: bytes) -> Bounce | Feedback | None:
    raw = normalize_newlines(raw)
    headers = parse_headers(raw)
    msg = email.message_from_bytes(_REPORT_PART.sub(rb"\1text/x-report-\2", raw), policy=compat32)
    parts = _collect(msg)
    if not parts.status:
        # Delivery-status fields pasted into the text part when the MIME structure broke
        # (sisimai rfc3464-35 indents a boundary line).
        parts.status = [
            t for t in parts.human if re.search(r"^final-recipient\s*:", t, re.I | re.M)
        ]
    if parts.feedback or headers.report_type == "feedback-report":
        return _feedback(parts)
    if parts.mdn or headers.report_type == "disposition-notification":
        return None
    human = _human_text(parts)
    exclude = {a for a in (*headers.to, headers.from_addr) if a}
    fields: dict[str, str] = {}
    recipients = _dsn_recipients(parts, human, exclude, fields) if parts.status else None
    standard = recipients is not None
    if recipients is None:
        if not (parts.status or _looks_like_bounce(msg, headers)):
            return None
        recipients = _text_bounce_recipients(msg, parts, human, exclude)
    recipients = [r for r in recipients if r.action in ("failed", "delayed")]
    if standard and not recipients:
        return None  # every recipient delivered, relayed or expanded: a success report
    reporting_mta = fields.get("reporting-mta")
    return Bounce(
        recipients=tuple(recipients),
        original_message_id=_original_message_id(parts, fields, headers),
        original_envelope_id=fields.get("original-envelope-id"),
        reporting_mta=_strip_type(reporting_mta) if reporting_mta else None,
        standard=standard,
    )


def parse_bounce(raw: bytes) -> Bounce | Feedback | None:
    """Read a bounce or an ARF report; return None for anything else. Never raises."""
    try:
        return _parse(bytes(raw))
    except Exception:  # noqa: BLE001 - an unreadable bounce is treated as ordinary mail
        return None


_XTEXT_CHAR = re.compile(r"\+([0-9A-Fa-f]{2})")


def xtext_decode(value: str) -> str:
    """RFC 3461's xtext ("+" and two hex digits for a byte) back to text."""
    data = _XTEXT_CHAR.sub(lambda m: chr(int(m.group(1), 16)), value.strip())
    return data.encode("latin-1", "replace").decode("utf-8", "replace")


def _delivered(raw: bytes) -> Delivered | None:
    raw = normalize_newlines(raw)
    headers = parse_headers(raw)
    if headers.report_type != "delivery-status":
        return None
    msg = email.message_from_bytes(_REPORT_PART.sub(rb"\1text/x-report-\2", raw), policy=compat32)
    parts = _collect(msg, nested=True)  # the report itself, never one forwarded inside it
    groups = [g for text in parts.status for g in _field_groups(_unwrap_base64_groups(text))]
    fields: dict[str, str] = {}
    addresses = []
    for group in groups:
        recipient = group.get("final-recipient") or group.get("original-recipient")
        if not recipient:
            for name, value in group.items():
                fields.setdefault(name, value)
            continue
        action = group.get("action", "").lower().split(" ")[0]
        if action == "delivered" and _status_in(group.get("status", "")).startswith("2."):
            addresses.append(_address(recipient))
    if not addresses:
        return None
    envid = fields.get("original-envelope-id")
    reporting_mta = fields.get("reporting-mta")
    return Delivered(
        addresses=tuple(dict.fromkeys(a for a in addresses if a)),
        original_message_id=_original_message_id(parts, fields, headers),
        original_envelope_id=xtext_decode(envid) if envid else None,
        reporting_mta=_strip_type(reporting_mta) if reporting_mta else None,
    )


def parse_delivered(raw: bytes) -> Delivered | None:
    """Read a success DSN (some recipient delivered); None for anything else. Never raises."""
    try:
        return _delivered(bytes(raw))
    except Exception:  # noqa: BLE001 - an unreadable report is no news of a delivery
        return None
