"""The full thread of an email, opened in place on the timeline, and each email's body in a
sandboxed frame whose Content-Security-Policy forbids scripts: a sanitizer bug alone cannot
run code in the CRM's origin.

Reading an email tells its sender nothing. A remote image (a tracking pixel is one) reports
that the email was opened, when and from where, so the frame loads none by default: the
body's remote images are blocked (mime/images.py) and the frame's CSP allows only data:
images, which is also how the images the email carries itself (cid: parts) are shown. The
thread says so above each such email, with "Show images" (this one email, this once) and
"Always show images from <sender>" (kept per user, TrustedImageSender).

Showing images relaxes the frame's CSP for that one view (`?images=1`, or a trusted sender)
to load them straight from their servers, rather than through an image proxy of the CRM's.
Why: the user asked for them, so the sender learning of the open is what they agreed to; the
requests carry no referrer (Referrer-Policy: no-referrer) and none of the CRM's cookies (the
image hosts are other sites, and the sandboxed frame has an opaque origin); and a proxy
fetching URLs that strangers chose would be a server-side request forgery surface (private and
loopback addresses, DNS rebinding, size and time limits, access checks) that this product need
not carry. What a proxy would hide, the reader's IP address and browser, the user gives away
knowingly here, for one email or for one sender's. Even then the CRM's own open pixels and
click links found in an email are never loaded (reading a reply that quotes the rep's email
must not count as an open of it).
"""

from urllib.parse import urlsplit

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape, linebreaks
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from mailboxes.composer.views.composer import message_on_record
from mailboxes.mime import images, parsing
from mailboxes.models import EmailMessage, TrustedImageSender
from mailboxes.sync.bodies import fill_bodies
from mailboxes.tracking.links import is_tracking_url
from records.access import get_record_for_user, visible_to
from records.models import Record

_BODY_CSP = (
    "default-src 'none'; img-src {images}; style-src 'unsafe-inline'; font-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
BODY_CSP = _BODY_CSP.format(images="data:")
# Only for a view where the user asked for the images (see the module's docstring).
BODY_CSP_WITH_IMAGES = _BODY_CSP.format(images="data: https: http:")


def mark_images(user, messages) -> None:
    """Set `remote_images` and `images_trusted` on each message (bodies filled), for the
    "Show images" banner above its frame."""
    trusted = trusted_senders(user, [m.from_addr for m in messages])
    for m in messages:
        m.remote_images = images.has_remote_images(m.html_body)
        m.images_trusted = m.from_addr.lower() in trusted


def trust_sender_images(user, message, always: bool) -> None:
    """Always show images from `message`'s sender to `user`, or no longer."""
    address = message.from_addr.lower()
    if not address:
        return
    if always:
        TrustedImageSender.objects.get_or_create(user=user, address=address)
    else:
        TrustedImageSender.objects.filter(user=user, address=address).delete()


def trusted_senders(user, addresses) -> set[str]:
    """Those of the addresses whose images `user` always shows (lowercased)."""
    wanted = {a.lower() for a in addresses if a}
    if not wanted:
        return set()
    return set(
        TrustedImageSender.objects.filter(user=user, address__in=wanted).values_list(
            "address", flat=True
        )
    )


def _thread_page(request, record_type, record, opened):
    """The thread `opened` belongs to, as far as it is on `record`: the partial for the
    timeline's slot (htmx), else a page of its own (a link opened in a new tab)."""
    messages = list(
        EmailMessage.objects.filter(
            thread_id=opened.thread_id, activity__links__record_id=record.pk
        )
        .distinct()
        .order_by("sent_at", "pk")
    )
    fill_bodies(messages)
    mark_images(request.user, messages)
    thread_url = reverse("mailboxes:thread", args=(record_type.slug, record.pk, opened.pk))
    # Close empties the timeline's slot (static JS): not on the thread's own page, nor when
    # that page swaps the thread in place ("Always show images").
    in_timeline = bool(request.htmx) and (
        urlsplit(request.htmx.current_url or "").path != thread_url
    )
    return render(
        request,
        "mailboxes/timeline/thread.html#thread"
        if request.htmx
        else "mailboxes/timeline/thread.html",
        {
            "record_type": record_type,
            "record": record,
            # Not `messages`: the page around it shows django.contrib.messages under that name.
            "thread_messages": messages,
            "opened": opened,
            "closable": in_timeline,
        },
    )


@login_required
@require_GET
def thread(request, type_slug, pk, message_pk):
    record_type, record = get_record_for_user(request.user, type_slug, pk)
    return _thread_page(request, record_type, record, message_on_record(record, message_pk))


@login_required
@require_POST
def email_images(request, type_slug, pk, message_pk):
    """Always show images from this email's sender (`always=1`), or no longer (`always=0`).

    A reading preference of the user's own: any user who can see the email may set it.
    Answers the thread again (htmx), opened on the email it was opened on.
    """
    record_type, record = get_record_for_user(request.user, type_slug, pk)
    message = message_on_record(record, message_pk)
    trust_sender_images(request.user, message, request.POST.get("always") == "1")
    if not request.htmx:
        return redirect("records:detail", type_slug=type_slug, pk=pk)
    opened = request.POST.get("opened", "")
    opened = message_on_record(record, opened) if opened.isdigit() else message
    return _thread_page(request, record_type, record, opened)


@login_required
@require_GET
@xframe_options_sameorigin
def body(request, message_pk):
    """The sanitized HTML of one email, for a sandboxed iframe; 404 outside your access.

    Remote images stay blocked unless `?images=1` or the user always shows this sender's.
    """
    message = EmailMessage.objects.filter(pk=message_pk).first()
    if (
        message is None
        or not visible_to(
            request.user, Record.objects.filter(activity_links__activity_id=message.activity_id)
        ).exists()
    ):
        raise Http404("No such email")
    return email_body(request, message)


def email_body(request, message: EmailMessage) -> HttpResponse:
    """The framed body of an email the caller has checked `request.user` may read (the
    timeline's `body`, the conversations inbox's)."""
    fill_bodies([message])
    show = request.GET.get("images") == "1" or bool(
        trusted_senders(request.user, [message.from_addr])
    )
    content = message.html_body or linebreaks(escape(message.text_body))
    inline = parsing.inline_images(message.raw) if "cid:" in content.lower() else None
    content = images.rewrite_images(
        content, block_remote=not show, drop=is_tracking_url, inline=inline
    )
    return framed_body(content, show_images=show)


def framed_body(content: str, *, show_images: bool = False) -> HttpResponse:
    """Sanitized email HTML as the page of a sandboxed iframe (`sandbox="allow-popups
    allow-popups-to-escape-sandbox"`, no scripts): its own CSP with no script at all, remote
    images only when `show_images`, links opening outside the frame, no referrer, not cached.
    The timeline's bodies and the transactional email review's preview are shown this way."""
    page = (
        '<!doctype html><meta charset="utf-8"><base target="_blank">'
        "<style>body{font-family:system-ui,sans-serif;margin:.5rem;overflow-wrap:anywhere}"
        "img{max-width:100%;height:auto}</style>" + content
    )
    response = HttpResponse(page, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = BODY_CSP_WITH_IMAGES if show_images else BODY_CSP
    response["Referrer-Policy"] = "no-referrer"
    response["X-DNS-Prefetch-Control"] = "off"
    response["Cache-Control"] = "private, no-cache"
    return response
