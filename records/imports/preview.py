"""The first rows of a file as the import will store them, or why each would be refused."""

import itertools
from dataclasses import dataclass

from ..models import User
from .fields import Field
from .parsing import decode, rows
from .reading import Owners, read_rows, resolve_links

PREVIEW_ROWS = 5


@dataclass
class PreviewRow:
    line: int
    cells: list[tuple[str, str]]  # (field label, value as stored)
    reason: str = ""


def preview(upload, user: User, columns: dict[int, Field]) -> list[PreviewRow]:
    text, _encoding = decode(bytes(upload.file.data))
    reader = rows(text, upload.delimiter)
    next(reader)
    batch = list(itertools.islice(reader, PREVIEW_ROWS))
    good, refused = read_rows(batch, 1, columns, len(upload.header), Owners.load(user))
    good = resolve_links(user, good, refused)
    out = {row.line: PreviewRow(row.line, _cells(row.raw, columns)) for row in good}
    for row, reason in refused:
        out[row.line] = PreviewRow(row.line, _cells(row.raw, columns), reason)
    return [out[line] for line in sorted(out)]


def _cells(raw: list[str], columns: dict[int, Field]) -> list[tuple[str, str]]:
    cells = []
    for index, target in columns.items():
        text = raw[index].strip() if index < len(raw) else ""
        if target.kind == "choice":
            wanted = text.casefold()
            text = next(
                (
                    str(label)
                    for value, label in target.choices
                    if wanted in (value.casefold(), str(label).casefold())
                ),
                text,
            )
        cells.append((str(target.label), text))
    return cells
