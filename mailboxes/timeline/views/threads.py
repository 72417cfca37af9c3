"""The full thread of an email, opened in place on the timeline, and each email's body in a
sandboxed frame whose Content-Security-Policy forbids scripts: a sanitizer bug alone cannot
run code in the CRM's origin."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.html import escape, linebreaks
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from mailboxes.composer.views.composer import message_on_record
from mailboxes.models import EmailMessage
from mailboxes.sync.bodies import fill_bodies
from records.access import get_record_for_user, visible_to
from records.models import Record

BODY_CSP = (
    "default-src 'none'; img-src https: data: cid:; style-src 'unsafe-inline'; "
    "font-src https: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)


@login_required
@require_GET
def thread(request, type_slug, pk, message_pk):
    record_type, record = get_record_for_user(request.user, type_slug, pk)
    message = message_on_record(record, message_pk)
    messages = list(
        EmailMessage.objects.filter(
            thread_id=message.thread_id, activity__links__record_id=record.pk
        )
        .distinct()
        .order_by("sent_at", "pk")
    )
    fill_bodies(messages)
    return render(
        request,
        "mailboxes/timeline/thread.html#thread",
        {
            "record_type": record_type,
            "record": record,
            "messages": messages,
            "opened": message,
        },
    )


@login_required
@require_GET
@xframe_options_sameorigin
def body(request, message_pk):
    """The sanitized HTML of one email, for a sandboxed iframe; 404 outside your access."""
    message = EmailMessage.objects.filter(pk=message_pk).first()
    if (
        message is None
        or not visible_to(
            request.user, Record.objects.filter(activity_links__activity_id=message.activity_id)
        ).exists()
    ):
        raise Http404("No such email")
    fill_bodies([message])
    content = message.html_body or linebreaks(escape(message.text_body))
    page = (
        '<!doctype html><meta charset="utf-8"><base target="_blank">'
        "<style>body{font-family:system-ui,sans-serif;margin:.5rem;overflow-wrap:anywhere}"
        "img{max-width:100%;height:auto}</style>" + content
    )
    response = HttpResponse(page, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = BODY_CSP
    response["Referrer-Policy"] = "no-referrer"
    return response
