"""The sentences of modules that import nothing of Django, in the reader's language.

The providers (`providers/base.Sentence`, a `ProviderError`'s message), server detection
(`connecting/autodetect.Sentence`) write English: a `str` that also carries its `template`,
marked for the catalogue by their own `gettext_noop`, and the `params` it was filled with
(plain values, such as a server's own words, or sentences in turn). Where such a text is shown
or stored for people to read later (an inbox's reconnect reason, an email's last error and
history), `translated` gives it in the active language: the deployment's (`CRM_LANGUAGE`) in
a worker, the user's on a page (docs/architecture.md, "User-facing text").
"""

from __future__ import annotations

from django.utils.translation import gettext as _


def translated(text):
    """`text` translated from its template when it is a sentence; anything else as it is."""
    template = getattr(text, "template", None)
    if not isinstance(text, str) or not isinstance(template, str):
        return text
    params = getattr(text, "params", None) or {}
    if not params:
        return _(template)
    return _(template) % {name: translated(value) for name, value in params.items()}
