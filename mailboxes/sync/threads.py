"""Decide which conversation a message belongs to, from its Message-ID, In-Reply-To, References.

Pure functions plus `Threader`, an in-memory version of exactly what the DB-backed sync does
(the DB keeps the same two maps as tables: message id -> thread, and thread merges), so the
rules can be tested on whole folders of real mail.

The rules:
1. A Message-ID already seen is the same message (it arrived twice, through two lists or two
   folders): it keeps its thread and changes nothing. Fetching twice stores once.
2. A message joins the thread of any id it points to (`thread_keys`) or of any earlier message
   that pointed to it. Ids seen only in references are "ghosts" and belong to a thread too,
   so two replies to a root we never received still meet (notmuch's ghost-root corpus).
3. When its ids lead to several threads, those threads are merged into the oldest one: the
   message proves they are one conversation. The DB does this with one UPDATE per merge.
4. No ids in common, no thread in common. Subjects never join threads here ("Re: Test" is
   in every inbox); `normalize_subject` exists for the low-confidence fallback that sync may
   apply to a contact's own mail.
5. The parent is In-Reply-To when present, else the newest References entry. In-Reply-To wins
   because the replying client sets it to exactly the message replied to, while References is
   rewritten by others: Debbugs lists it oldest-last, Outlook truncates it, and notmuch's
   parent-priority corpus has a References entry that names no real message. A parent that
   would make a cycle (the corpus has an In-Reply-To loop) is not set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mailboxes.mime.parsing import Headers

_PREFIX = re.compile(
    r"""^\s*(?:
        (?:re|fwd?|aw|wg|r|i|sv|vs|antw|tr|rif|ref|réf|odp|pd|ynt|ilt|vl|vb|fs|rv|enc|res|atb)
        \s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]
      | (?:回复|回覆|答复|转发|轉寄)\s*[:：]
      | \[[^\[\]]{0,60}\]
    )\s*""",
    re.I | re.X,
)
_FWD_SUFFIX = re.compile(r"\s*\((?:fwd|fw)\)\s*$", re.I)


def normalize_subject(subject: str) -> str:
    """Return a comparison key for a subject: reply/forward prefixes, list tags and folding gone.

    Prefixes in the forms clients actually send: Re, Fwd, Fw, AW/WG (German), R/I (Italian
    Outlook, "R: R: R: I:" in the corpus), SV/VS (Nordic), Antw (Dutch), TR (French), RIF,
    Odp, PD, YNT, VL, VB, RV/ENC (Spanish), RES, and Chinese ones; "Re[2]:", "Re^2:" and a
    space before the colon (French typography). Casefolded.
    """
    text = " ".join(subject.split())
    while True:
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    return _FWD_SUFFIX.sub("", text).strip().casefold()


def thread_keys(headers: Headers) -> list[str]:
    """Return the ids a message points to: In-Reply-To, then References newest to oldest.

    Deduplicated, without the message's own id (some clients list it).
    """
    keys = []
    if headers.in_reply_to:
        keys.append(headers.in_reply_to)
    keys.extend(reversed(headers.references))
    own = headers.message_id
    return [key for key in dict.fromkeys(keys) if key != own]


@dataclass
class Threader:
    """Thread messages in arrival order with the module's rules, in memory."""

    thread_of_id: dict[str, str] = field(default_factory=dict)  # message or ghost id -> thread
    parent_of: dict[str, str] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)  # ids of messages actually received
    merges: list[tuple[str, str]] = field(default_factory=list)  # (absorbed, surviving)
    _merged_into: dict[str, str] = field(default_factory=dict)
    _count: int = 0

    def _new_thread(self) -> str:
        self._count += 1
        return f"t{self._count}"

    def thread(self, message_id: str) -> str | None:
        """Return the current thread of a message or ghost id (following merges)."""
        thread = self.thread_of_id.get(message_id)
        while thread in self._merged_into:
            thread = self._merged_into[thread]
        return thread

    def add(self, headers: Headers) -> str:
        """Thread one message; return its thread id."""
        own = headers.message_id
        if own and own in self.seen:
            return self.thread(own) or self._new_thread()
        keys = thread_keys(headers)
        candidates = [self.thread(key) for key in ([own] if own else []) + keys]
        threads = sorted({t for t in candidates if t}, key=lambda t: int(t[1:]))
        thread = threads[0] if threads else self._new_thread()
        for other in threads[1:]:
            self._merged_into[other] = thread
            self.merges.append((other, thread))
        for key in keys:
            self.thread_of_id.setdefault(key, thread)
        if own is None:
            return thread
        self.thread_of_id[own] = thread
        self.seen.add(own)
        if keys and not self._would_loop(own, keys[0]):
            self.parent_of[own] = keys[0]
        return thread

    def _would_loop(self, own: str, parent: str) -> bool:
        current: str | None = parent
        for _ in range(10_000):  # depth guard; real threads are far shallower
            if current is None:
                return False
            if current == own:
                return True
            current = self.parent_of.get(current)
        return True
