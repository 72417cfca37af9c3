"""The acceptance corpus of real-world messages, and its manifest, for ingestion tests.

The corpus is kept in the repository (tests/corpus: real messages copied byte for byte from
public test suites, listed with their sources in tests/corpus/MANIFEST.md). MANIFEST.md is
parsed here rather than retyped, so a corpus update changes the expectations in one place.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email.policy import compat32
from pathlib import Path

from mailboxes.mime.parsing import (
    decode_bytes,
    normalize_newlines,
    payload_bytes,
    raw_header,
    split_content_type,
)
from tests.servers import CORPUS_DIR as CORPUS

MANIFEST = CORPUS / "MANIFEST.md"


def corpus_files(category: str | None = None) -> list[Path]:
    """Return the corpus messages, sorted, optionally of one category (a folder name)."""
    if not CORPUS.exists():
        return []
    root = CORPUS / category if category else CORPUS
    return sorted(path for path in root.rglob("*.eml") if path.is_file())


def file_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def manifest_counts() -> dict[str, int]:
    """Return the manifest's "Counts" table: {category: files}, plus "total"."""
    counts = {}
    for match in re.finditer(r"^\| (?:`(\w+)/`|\*\*(total)\*\*) \| (?:\*\*)?(\d+)", _text(), re.M):
        counts[match.group(1) or match.group(2)] = int(match.group(3))
    return counts


@dataclass(frozen=True)
class Expectation:
    """What the manifest expects parse_bounce to make of one file."""

    kind: str  # "sisimai", "not-a-bounce", "report" (copied DSN fields), "unclassified"
    hard: tuple[bool, ...] = ()  # sisimai: one entry per failed recipient, in order
    what: str = ""  # not-a-bounce: "ARF feedback (abuse)", "auto-reply", "delivered", ""
    action: str = ""  # report: the Action the DSN part says, "" when it says none
    status: str = ""  # report: the Status the DSN part says, "" when it says none
    note: str = ""


def bounce_expectations() -> dict[str, Expectation]:
    """Return {category/file: Expectation} for the bounces and line_endings tables."""
    expectations = {}
    section = None
    for line in _text().splitlines():
        heading = re.match(r"^### `(\w+)/`", line)
        if heading:
            section = heading.group(1)
            continue
        if section not in ("bounces", "line_endings") or not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        name, note = cells[0].strip("`"), cells[-1]
        expectations[f"{section}/{name}"] = _expectation(note)
    return expectations


def _expectation(note: str) -> Expectation:
    entries = re.findall(r"\b(hard|soft): \w+ \[DSN", note)
    if entries:
        return Expectation("sisimai", hard=tuple(e == "hard" for e in entries), note=note)
    if note.startswith("not-a-bounce"):
        what = re.match(r"not-a-bounce(?:: ([^\[]*?))?\s*(?:\[|\(sisimai|$)", note)
        return Expectation("not-a-bounce", what=(what.group(1) or "").strip(), note=note)
    if "not a bounce" in note:  # mimekit's MDN and ARF samples, described in prose
        what = "ARF feedback (abuse)" if "ARF" in note else "read receipt"
        return Expectation("not-a-bounce", what=what, note=note)
    action = re.search(r"Action=(\w+)", note)
    status = re.search(r"Status=([\d.]+)", note)
    if action or status:
        return Expectation(
            "report",
            action=action.group(1) if action else "",
            status=status.group(1) if status else "",
            note=note,
        )
    return Expectation("unclassified", note=note)


def html_parts(raw: bytes) -> list[str]:
    """Return every text/html part of a message, decoded, attachments included."""
    msg = email.message_from_bytes(normalize_newlines(raw), policy=compat32)
    found = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        content_type, params = split_content_type(raw_header(part, "content-type"))
        if content_type == "text/html":
            data, _defects = payload_bytes(part)
            found.append(decode_bytes(data, params.get("charset"))[0])
    return found


_manifest_text: str | None = None


def _text() -> str:
    global _manifest_text
    if _manifest_text is None:
        _manifest_text = MANIFEST.read_text(encoding="utf-8") if MANIFEST.exists() else ""
    return _manifest_text
