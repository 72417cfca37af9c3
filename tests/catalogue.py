"""A translation catalogue written as `manage.py compilemessages` would write it, for tests
that see the UI in another language without a compiled locale in the project."""

import struct
from pathlib import Path


def write_catalogue(locale_dir: Path, language: str, messages: dict[str, str]) -> None:
    """A GNU .mo file of `messages` (the format compilemessages writes), UTF-8."""
    entries = {"": "Content-Type: text/plain; charset=UTF-8\n", **messages}
    keys = sorted(entries)
    ids = strs = b""
    spans = []
    for key in keys:
        key_bytes, value_bytes = key.encode(), entries[key].encode()
        spans.append((len(ids), len(key_bytes), len(strs), len(value_bytes)))
        ids += key_bytes + b"\0"
        strs += value_bytes + b"\0"
    count = len(keys)
    ids_start = 7 * 4 + 16 * count
    strs_start = ids_start + len(ids)
    key_table = b"".join(struct.pack("<II", size, at + ids_start) for at, size, _, _ in spans)
    value_table = b"".join(struct.pack("<II", size, at + strs_start) for _, _, at, size in spans)
    header = struct.pack("<Iiiiiii", 0x950412DE, 0, count, 28, 28 + 8 * count, 0, 0)
    target = locale_dir / language / "LC_MESSAGES"
    target.mkdir(parents=True)
    (target / "django.mo").write_bytes(header + key_table + value_table + ids + strs)
