"""Parse and sanitize the bodies of logged emails, once, after sync has logged them.

Sync writes timeline rows from headers alone so it keeps pace with the server; this fills in
text, sanitized HTML and the preview, either in a background pass or, for rows someone looks
at first, when their timeline page is rendered.
"""

from django.db.models import QuerySet

from mailboxes.mime import parsing, sanitize
from mailboxes.models import EmailMessage

FIELDS = [
    "text_body",
    "html_body",
    "snippet",
    "has_attachments",
    "malformed",
    "parse_error",
    "body_parsed",
]


def fill_body(message: EmailMessage) -> None:
    """Set the parsed fields of one message from its raw bytes; never raises."""
    raw = bytes(message.raw or b"")
    if not raw:
        message.body_parsed = True
        return
    parsed = parsing.parse_message(raw)
    html = sanitize.sanitize_html(parsed.html) if parsed.html else ""
    text = parsed.text or (sanitize.html_to_text(parsed.html) if parsed.html else "")
    message.text_body = text.replace("\x00", "")
    message.html_body = html
    message.snippet = sanitize.snippet(text, 200)
    message.has_attachments = any(not a.is_inline for a in parsed.attachments)
    message.malformed = parsed.malformed
    message.parse_error = "; ".join(parsed.defects)[:2000]
    message.body_parsed = True


def fill_bodies(messages: list[EmailMessage]) -> None:
    """Parse every unparsed message of the list and save them in one UPDATE batch."""
    pending = [m for m in messages if not m.body_parsed]
    for message in pending:
        fill_body(message)
    if pending:
        EmailMessage.objects.bulk_update(pending, FIELDS)


def fill_pending(batch: int = 200) -> int:
    """Background pass: parse a batch of messages still waiting; return how many."""
    qs: QuerySet = EmailMessage.objects.filter(body_parsed=False).order_by("pk")[:batch]
    messages = list(qs)
    fill_bodies(messages)
    return len(messages)
