from pathlib import Path

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils.html import urlize
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from records.views.admin_area import admin_required

from . import catcher, health


@require_GET
def health_view(request):
    """Report the database, the broker, beat, the workers of each queue and whether outbound
    email and sync keep up (crm_mail/health.py); 503 with the reasons when any fails, for
    load balancers and monitors."""
    body = health.report()
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)


@admin_required
@require_GET
def system_health(request):
    """Settings > System health: the same report as /health/, in words, for admins."""
    body = health.report()
    return render(
        request,
        "system_health.html",
        {
            "ok": body["status"] == "ok",
            "rows": health_rows(body["checks"]),
            "notes": health.notes(),
            "every": settings.CRM_HEARTBEAT_SECONDS,
            "stale_after": round(health.stale_after().total_seconds()),
        },
    )


def duration(seconds: int) -> str:
    """45 s, 12 min, 3 h, 2 days: the unit a person reads an age in."""
    for size, unit in ((86400, _("days")), (3600, _("h")), (60, _("min"))):
        if seconds >= 2 * size:
            return f"{seconds // size} {unit}"
    return f"{seconds} {_('s')}"


def _heartbeat(figures: dict) -> str:
    age = figures.get("last_heartbeat_seconds")
    if age is None:
        return _("no heartbeat yet")
    return _("last heartbeat %(age)s ago") % {"age": duration(age)}


def health_rows(checks: dict) -> list[dict]:
    """One row per part: what it is, whether it works, its figure in words, and why not."""

    def row(label: str, check: dict, detail: str = "") -> dict:
        return {"label": label, "ok": check["ok"], "detail": detail, "error": check.get("error")}

    answers = _("answers")
    rows = [
        row(_("Database"), checks["database"], answers),
        row(_("Job queue (broker)"), checks["broker"], answers),
    ]
    if "queues" not in checks["workers"]:  # the database did not answer: nothing to read
        labels = {
            "beat": _("Beat"),
            "workers": _("Workers"),
            "outbound": _("Outgoing email"),
            "sync": _("Inbox sync"),
        }
        return rows + [row(label, checks[name]) for name, label in labels.items()]
    rows.append(row(_("Beat (queues periodic jobs)"), checks["beat"], _heartbeat(checks["beat"])))
    for queue, check in checks["workers"]["queues"].items():
        label = _("Worker of the %(queue)s queue") % {"queue": queue}
        rows.append(row(label, check, _heartbeat(check)))
    waited = checks["outbound"]["oldest_due_seconds"]
    rows.append(
        row(
            _("Outgoing email"),
            checks["outbound"],
            _("no email waits to be sent")
            if waited is None
            else _("the oldest due email has waited %(age)s") % {"age": duration(waited)},
        )
    )
    behind = checks["sync"]["oldest_overdue_seconds"]
    rows.append(
        row(
            _("Inbox sync"),
            checks["sync"],
            _("every inbox synced on time")
            if behind is None
            else _("the most belated sync is %(age)s overdue") % {"age": duration(behind)},
        )
    )
    return rows


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
