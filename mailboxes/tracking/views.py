"""The open pixel and the click redirect: public, fast, and no side effect beyond the event.

No login, no session, no CSRF (GET only), no database: neither view touches `request.user` or
`request.session` (nor does any middleware: `public_view`), the token carries everything (see
tokens.py), and the hit goes to the process's buffer. A click asks one more thing, whether its
email was deleted from the CRM (revocation.py: one Redis round trip); a deleted email's links
answer 410 with a short page, never a redirect. A HEAD request (link checkers, Apple
Mail's URL check) gets the same answer but is not recorded: no person's client opens or clicks
with HEAD.
"""

import base64

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.views.decorators.http import require_http_methods

from mailboxes.models import TrackingKind
from mailboxes.tracking import events, revocation, tokens
from records.middleware import public_view

# The smallest transparent GIF: 1x1, one transparent colour, 43 bytes.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
NO_STORE = "no-store, no-cache, must-revalidate, private, max-age=0"


def client_ip(request) -> str:
    """The address the hit came from (checked when the hit is written, not here).

    Behind the reverse proxy the settings trust (SECURE_PROXY_SSL_HEADER is set only then), the
    last X-Forwarded-For entry is the one that proxy added: the client as it saw it. Earlier
    entries are whatever the client claimed, so they are ignored.
    """
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.rsplit(",", 1)[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


@public_view
@require_http_methods(["GET", "HEAD"])
def open_pixel(request, token):
    """Answer the pixel to every request (no broken image for a bad token); record valid ones."""
    message_id = tokens.verify_open_token(token)
    if message_id is not None and request.method == "GET":
        events.record_event(
            TrackingKind.OPEN,
            message_id,
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = NO_STORE
    return response


@public_view
@require_http_methods(["GET", "HEAD"])
def click(request, token):
    """Redirect to the URL this token was signed for; 404 for anything else, 410 once its
    email was deleted from the CRM.

    A tracked link never carries a query string, so one on the request means the link was
    altered (e.g. `?url=` pointing elsewhere): 404, like a tampered token.
    """
    if request.META.get("QUERY_STRING"):
        raise Http404
    target = tokens.verify_click_token(token)
    if target is None:
        raise Http404
    if revocation.is_deleted(target.message_id):
        return link_gone()
    if request.method == "GET":
        events.record_event(
            TrackingKind.CLICK,
            target.message_id,
            link_id=target.link_id,
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    response = HttpResponseRedirect(target.url)
    response["Cache-Control"] = NO_STORE
    return response


def link_gone() -> HttpResponse:
    """A plain page: the link is no longer available (its email was deleted from the CRM).

    Rendered without the request: no user, no session, nothing of the app's layout.
    """
    response = HttpResponse(
        render_to_string("mailboxes/tracking/link_gone.html"),
        status=410,
        content_type="text/html; charset=utf-8",
    )
    response["Cache-Control"] = NO_STORE
    response["X-Robots-Tag"] = "noindex"
    return response
