"""The composer opened from a record's Email action, and reply / reply all / forward.

The panel is an htmx partial loaded into the record page; the send posts back to it. Access
is checked on the server for the record, the email being answered and the From address.
"""

import base64
import binascii
import re
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from mailboxes.composer import library
from mailboxes.composer import prefill as composing
from mailboxes.composer.drafts import Attachment, ComposeError, Draft, email_submit, from_choices
from mailboxes.composer.forms import ComposeForm, split_addresses
from mailboxes.mime import sanitize
from mailboxes.models import EmailMessage, EmailTemplate, Snippet
from records import timeline
from records.access import get_record_for_user, visible_to
from records.models import ContactEmail, Record
from records.selectors import associations_for

FORM_ID = "composer-form"
DATA_IMAGE = re.compile(r'src="data:(image/(?:png|gif|jpeg|webp));base64,([A-Za-z0-9+/=\s]+)"')


def _require_sender(user):
    if not user.can_reach_out:
        raise PermissionDenied("A View-only seat cannot send email.")


def record_choices(request, record) -> list[tuple[str, str]]:
    choices = [(str(record.pk), f"{record.name} (this record)")]
    for group in associations_for(request.user, record):
        choices += [(str(r.pk), f"{r.name} ({group.record_type.label})") for r in group.records]
    return choices


def message_on_record(record, message_pk) -> EmailMessage:
    """An email on this record's timeline, or 404: replies can't reach other records' mail."""
    message = (
        EmailMessage.objects.filter(pk=message_pk, activity__links__record_id=record.pk)
        .select_related("thread", "outbound__sender")
        .first()
    )
    if message is None:
        raise Http404("No such email on this record")
    return message


def inline_images(html: str) -> tuple[str, list[Attachment]]:
    """Turn pasted data: images into cid: attachments, as mail clients expect inline images."""
    found: list[Attachment] = []

    def replace(match):
        try:
            data = base64.b64decode(re.sub(r"\s", "", match.group(2)), validate=True)
        except (binascii.Error, ValueError):
            return 'src=""'
        cid = f"{uuid.uuid4().hex}@crm-mail"
        ext = match.group(1).split("/")[1]
        found.append(Attachment(f"image-{len(found) + 1}.{ext}", match.group(1), data, cid))
        return f'src="cid:{cid}"'

    return DATA_IMAGE.sub(replace, html), found


def initial_values(request, record, parent, mode) -> dict:
    user = request.user
    choices = from_choices(user)
    mine = {c.address.lower() for c in choices}
    contact = composing.primary_contact(record)
    initial = {
        "from_key": choices[0].key if choices else "",
        "records": [str(record.pk)],
        "mode": mode,
        "track": True,
        "send_when": "now",
    }
    signature = composing.signature_html(user)
    if parent is None:
        initial["to"] = contact.email if contact is not None else ""
        initial["html"] = signature
        return initial
    initial["reply_to"] = parent.pk
    initial["records"] = [
        str(pk) for pk in parent.activity.links.values_list("record_id", flat=True)
    ]
    if mode == "forward":
        initial["subject"] = f"Fwd: {parent.subject}"
        initial["html"] = signature + composing.forward_body(parent)
    else:
        initial["to"] = ", ".join(
            composing.reply_recipients(parent, mine, everyone=mode == "reply_all", user=user)
        )
        if mode == "reply_all":
            initial["cc"] = ""
        initial["subject"] = composing.reply_subject(parent.subject)
        initial["html"] = signature + composing.reply_body(parent)
        own = next((c for c in choices if c.mailbox.pk == parent.mailbox_id), None)
        if own is not None:
            initial["from_key"] = own.key
    return initial


def render_panel(request, record_type, record, form, parent, **extra):
    contact = composing.primary_contact(record)
    other_addresses = (
        list(ContactEmail.objects.filter(contact_id=contact.pk).values_list("address", flat=True))
        if contact is not None
        else []
    )
    context = {
        "record_type": record_type,
        "record": record,
        "form": form,
        "form_id": FORM_ID,
        "contact": contact,
        "addresses": other_addresses,
        "parent": parent,
        # What the editor starts with: the default signature, a quoted email, or what the rep
        # sent back after an error. The editor parses it as HTML.
        "body_html": composing.editor_html(form["html"].value()),
        "templates": _templates(request.user),
        # Inserted as HTML by the editor: sanitized again, whenever they were saved.
        "snippets": [
            {"name": s.name, "html": library.body_html(s)}
            for s in library.usable(Snippet, request.user).order_by("name", "pk")
        ],
        "has_inbox": bool(form.fields["from_key"].choices),
        "max_attachment_mb": settings.CRM_ATTACHMENTS_MAX_BYTES // (1024 * 1024),
        **extra,
    }
    template = (
        "mailboxes/composer/composer.html#composer"
        if request.htmx
        else "mailboxes/composer/composer_page.html"
    )
    return render(request, template, context)


@login_required
@require_http_methods(["GET", "POST"])
def compose(request, type_slug, pk):
    record_type, record = get_record_for_user(request.user, type_slug, pk)
    _require_sender(request.user)
    parent_pk = request.GET.get("reply_to") or request.POST.get("reply_to")
    parent = message_on_record(record, parent_pk) if parent_pk else None
    mode = request.GET.get("mode") or request.POST.get("mode") or ""
    if parent is not None and mode not in ("reply", "reply_all", "forward"):
        mode = "reply"
    kwargs = {
        "from_choices": from_choices(request.user),
        "record_choices": record_choices(request, record),
    }
    if request.method == "GET":
        form = ComposeForm(initial=initial_values(request, record, parent, mode), **kwargs)
        return render_panel(request, record_type, record, form, parent)
    form = ComposeForm(request.POST, request.FILES, **kwargs)
    if not form.is_valid():
        return render_panel(request, record_type, record, form, parent)
    data = form.cleaned_data
    html, images = inline_images(composing.unblock_images(data["html"]))
    records = list(
        visible_to(request.user, Record.objects.all()).filter(
            pk__in=[int(p) for p in data["records"]]
        )
    )
    draft = Draft(
        sender=request.user,
        from_key=data["from_key"],
        to=split_addresses(data["to"]),
        cc=split_addresses(data["cc"]),
        bcc=split_addresses(data["bcc"]),
        subject=data["subject"],
        html=html,
        attachments=images
        + [Attachment(f.name, f.content_type or "", f.read()) for f in data["attachments"]],
        records=records or [record],
        reply_to=parent if mode in ("reply", "reply_all") else None,
        forward_of=parent if mode == "forward" else None,
        scheduled_at=composing.send_time(data["send_when"], data["send_at"]),
        one_time_basis=data["one_time_basis"] or _one_time_basis(request),
        track=data["track"],
        # Only a template the rep may use is recorded; any other id counts as none.
        template_id=_templates(request.user)
        .filter(pk=data["template_id"])
        .values_list("pk", flat=True)
        .first(),
    )
    try:
        message = email_submit(draft)
    except ComposeError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(None if field not in form.fields else field, errors)
        return render_panel(request, record_type, record, form, parent)
    if not request.htmx:
        messages.success(
            request,
            "Your email is on its way." if not draft.scheduled_at else "Your email is scheduled.",
        )
        return redirect("records:detail", type_slug=type_slug, pk=pk)
    activity = message.activity
    timeline.prefetch([activity])
    return render(
        request,
        "mailboxes/composer/composer.html#sent",
        {
            "activity": activity,
            "record": record,
            "record_type": record_type,
            "scheduled": draft.scheduled_at,
        },
    )


def _one_time_basis(request):
    value = request.POST.get("one_time_basis", "")
    return int(value) if value.isdigit() else None


@login_required
def insert_template(request, type_slug, pk, template_pk):
    """A template's subject and body with tokens filled from this record's contact."""
    _, record = get_record_for_user(request.user, type_slug, pk)
    _require_sender(request.user)
    template = get_object_or_404(_templates(request.user), pk=template_pk)
    contact = composing.primary_contact(record)
    company = composing.first_company(contact)
    fill = lambda text: composing.fill_tokens(  # noqa: E731
        text, contact=contact, company=company, sender=request.user
    )
    # Tokens are filled with escaped values; the result is sanitized again for the editor.
    return JsonResponse(
        {
            "id": template.pk,
            "subject": fill(template.subject),
            "html": sanitize.sanitize_html(fill(template.body)),
        }
    )


def _templates(user):
    """The templates a user may write from: their own, their team's and everyone's."""
    return library.usable(EmailTemplate, user).order_by("name", "pk")
