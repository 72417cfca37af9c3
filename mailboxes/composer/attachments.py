"""The files of an email being written, besides those just chosen in the form: files kept from
a send the composer refused, and the files of the email a forward carries on.

A browser cannot put chosen files back into a file input, so a refused send would lose them.
Instead the files of a refused send are stored (`DraftAttachment`, the owner's only) and the
composer lists them with the forwarded ones, each with a Remove button; the form names each
file it keeps with a `keep_attachment` value: `draft:<key>` or `forward:<position>`. A sent
email deletes the stored files it used; files left behind are deleted after a day.
"""

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from django.utils import timezone

from mailboxes.mime import parsing
from mailboxes.models import DraftAttachment, EmailMessage
from mailboxes.outbox.enqueue import Attachment

FIELD = "keep_attachment"
KEPT_FOR = timedelta(days=1)
_DRAFT = "draft:"
_FORWARD = "forward:"


@dataclass(frozen=True)
class Kept:
    """A file the composer lists as attached: the form value naming it, its name and size."""

    value: str
    filename: str
    size: int


def forwarded(message: EmailMessage) -> list[Kept]:
    """The files of an email being forwarded, as the composer first lists them."""
    return [
        Kept(f"{_FORWARD}{n}", part.filename or f"attachment-{n + 1}", len(data))
        for n, (part, data) in enumerate(parsing.attached_files(message.raw))
    ]


def resolve(user, values: list[str], forward_of: EmailMessage | None):
    """The kept files the form names, as listed and as attachments: the user's own stored
    files and the files of the email being forwarded; any other value is ignored."""
    drafts = {
        str(d.key): d for d in DraftAttachment.objects.filter(owner=user, key__in=_keys(values))
    }
    files = parsing.attached_files(forward_of.raw) if forward_of is not None else []
    listed, attached = [], []
    for value in dict.fromkeys(values):
        if value.startswith(_DRAFT) and value[len(_DRAFT) :] in drafts:
            row = drafts[value[len(_DRAFT) :]]
            listed.append(Kept(value, row.filename, row.size))
            attached.append(Attachment(row.filename, row.content_type, bytes(row.data)))
        elif value.startswith(_FORWARD) and value[len(_FORWARD) :].isdigit():
            n = int(value[len(_FORWARD) :])
            if n < len(files):
                part, data = files[n]
                name = part.filename or f"attachment-{n + 1}"
                listed.append(Kept(value, name, len(data)))
                attached.append(Attachment(name, part.content_type, data))
    return listed, attached


def store(user, files: list[Attachment]) -> list[Kept]:
    """Keep the files of a refused send for the form that comes back; drop stale ones."""
    DraftAttachment.objects.filter(created_at__lt=timezone.now() - KEPT_FOR).delete()
    rows = DraftAttachment.objects.bulk_create(
        [
            DraftAttachment(
                owner=user,
                filename=f.filename[:255],
                content_type=f.content_type[:120],
                size=len(f.data),
                data=f.data,
            )
            for f in files
        ]
    )
    return [Kept(f"{_DRAFT}{row.key}", row.filename, row.size) for row in rows]


def discard(user, values: list[str]) -> None:
    """Delete the stored files a sent email used."""
    DraftAttachment.objects.filter(owner=user, key__in=_keys(values)).delete()


def _keys(values: list[str]) -> list[UUID]:
    keys = []
    for value in values:
        if value.startswith(_DRAFT):
            try:
                keys.append(UUID(value[len(_DRAFT) :]))
            except ValueError:
                continue
    return keys
