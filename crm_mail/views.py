from pathlib import Path

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils.html import urlize
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from records.views.admin_area import admin_required

from . import catcher, health


@require_GET
def health_view(request):
    """Report database and broker reachability; 503 when either is down, for load balancers."""
    body = health.report()
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)


@admin_required
@require_GET
def dev_mail(request, name: str = ""):
    """The mail the demo inboxes sent, caught locally (development only, admins only: every
    user's outgoing mail lands in the one catcher)."""
    folder = settings.CRM_MAIL_CATCHER_DIR
    if folder is None:
        raise Http404("The mail catcher runs only in development")
    from mailboxes.mime import parsing, sanitize

    files = catcher.caught(Path(folder))
    items = []
    for path in files[:200]:
        headers = parsing.parse_headers(path.read_bytes()[:65536])
        items.append({"name": path.name, "headers": headers})
    opened = None
    if name:
        path = Path(folder) / name
        if path.parent != Path(folder) or not path.is_file():
            raise Http404("No such email")
        parsed = parsing.parse_message(path.read_bytes())
        opened = {
            "name": name,
            "headers": parsed.headers,
            "text": _linked(parsed.text),
            "html": sanitize.sanitize_html(parsed.html) if parsed.html else "",
            "attachments": parsed.attachments,
        }
    return render(request, "dev_mail.html", {"items": items, "opened": opened})


def _linked(text: str):
    """The text part with its addresses as links that open in a new tab. urlize escapes the
    text, so every "<a " left is one of its own links."""
    return mark_safe(urlize(text, autoescape=True).replace("<a ", '<a target="_blank" '))
