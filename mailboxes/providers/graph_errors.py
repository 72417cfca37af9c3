"""What went wrong talking to Microsoft Graph, as a ProviderError people can act on: an
unreadable answer, Graph's error codes (throttling and server errors temporary, with their
Retry-After; the rest permanent; a failed POST whose effect is unknown said so). Each
message is a Sentence, translated where it is shown."""

from __future__ import annotations

import email.utils
import time

import requests
import requests.structures

from mailboxes.providers.base import (
    ProviderError,
    Sentence,
    gettext_noop,
)
from mailboxes.providers.graph_wire import clean_text


def json_body(response: requests.Response, action: str) -> dict:
    """Return a response's JSON object, or raise when Graph sent something else."""
    try:
        body = response.json()
    except ValueError as exc:
        raise ProviderError(
            Sentence(
                gettext_noop("Microsoft Graph sent an unreadable answer while %(action)s."),
                action=action,
            ),
            stage="protocol",
        ) from exc
    if not isinstance(body, dict):
        raise ProviderError(
            Sentence(
                gettext_noop("Microsoft Graph sent an unexpected answer while %(action)s."),
                action=action,
            ),
            stage="protocol",
        )
    return body


def error_code(response: requests.Response) -> str:
    """Return Graph's error code ("" when the body has none)."""
    return graph_error_detail(response)[0]


def graph_error_detail(response: requests.Response) -> tuple[str, str]:
    """Return (code, message) of Graph's {"error": {...}} body."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return "", ""
    if not isinstance(error, dict):
        return "", ""
    return clean_text(error.get("code")), clean_text(error.get("message"))


def retry_after(response: requests.Response) -> float | None:
    """Return Retry-After in seconds (delta-seconds or an HTTP date), or None."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def graph_failure(
    response: requests.Response, action: str, maybe_sent: bool = False
) -> ProviderError:
    """Classify a Graph error answer: 429 and 5xx are temporary, other 4xx permanent.

    `maybe_sent` marks a POST whose server failure leaves its effect unknown.
    """
    status = response.status_code
    code, text = graph_error_detail(response)
    detail = f"{status} {code}: {text}" if code else f"HTTP {status}"
    if status == 429:
        return ProviderError(
            Sentence(
                gettext_noop(
                    "Microsoft Graph is throttling this mailbox while %(action)s (%(detail)s); "
                    "slowing down."
                ),
                action=action,
                detail=detail,
            ),
            retry_after=retry_after(response),
            code=status,
        )
    if status >= 500:
        if maybe_sent:
            words = gettext_noop(
                "Microsoft Graph failed while %(action)s (%(detail)s); try again later. The "
                "message may or may not have been sent."
            )
        else:
            words = gettext_noop(
                "Microsoft Graph failed while %(action)s (%(detail)s); try again later."
            )
        return ProviderError(
            Sentence(words, action=action, detail=detail),
            retry_after=retry_after(response),
            code=status,
            maybe_sent=maybe_sent,
        )
    if status in (401, 403):
        return ProviderError(
            Sentence(
                gettext_noop(
                    "Microsoft Graph refused access while %(action)s (%(detail)s). Reconnect the "
                    "inbox and accept every permission, or ask an administrator whether access "
                    "is blocked."
                ),
                action=action,
                detail=detail,
            ),
            stage="auth",
            permanent=True,
            code=status,
        )
    return ProviderError(
        Sentence(
            gettext_noop("Microsoft Graph refused %(action)s (%(detail)s)."),
            action=action,
            detail=detail,
        ),
        stage="protocol",
        permanent=True,
        code=status,
    )
