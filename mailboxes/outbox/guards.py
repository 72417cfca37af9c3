"""Send guards: what a layer above may say about its own email just before it goes out.

mailboxes cannot import the apps that queue email, yet some of them learn, after queuing, that
an email must not go out (a sequence whose contact replied while its next step was already
queued and claimed). Each registers one guard per `SendSource` from its AppConfig.ready();
the sending worker asks it right after the send-time privacy check (sending.py), and an email
a guard refuses is cancelled with the guard's words in its history, never sent.
"""

from __future__ import annotations

from collections.abc import Callable

from mailboxes.models import Outbound

# fn(outbound) -> why it must not go out, or None to let it go.
Guard = Callable[[Outbound], "str | None"]

_guards: dict[str, Guard] = {}


def register(source: str, guard: Guard) -> None:
    """Make `guard` the one asked about every email of `source` (registering again replaces
    it: ready() may run twice in tests)."""
    _guards[source] = guard


def refusal(outbound: Outbound) -> str:
    """Why `outbound` must not go out now, or "" when no guard objects."""
    guard = _guards.get(outbound.source)
    if guard is None:
        return ""
    return guard(outbound) or ""
