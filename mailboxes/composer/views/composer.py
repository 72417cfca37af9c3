"""The composer opened from a record's Email action, and reply / reply all / forward.

The panel is an htmx partial loaded into the record page; the send posts back to it. Access
is checked on the server for the record, the email being answered and the From address. A
refused send comes back with everything the rep wrote and chose, files included
(composer/attachments.py), and with the tokens that have no value listed for filling in.
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
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from mailboxes.composer import attachments, library, tokens
from mailboxes.composer import prefill as composing
from mailboxes.composer.drafts import (
    NO_SUBJECT,
    Attachment,
    ComposeError,
    Draft,
    email_submit,
    from_choices,
)
from mailboxes.composer.forms import ComposeForm, split_addresses
from mailboxes.mime import sanitize
from mailboxes.models import EmailMessage, EmailTemplate, Snippet
from mailboxes.preferences.defaults import FONTS, default_from, font_of, preferences_for
from records import timeline
from records.access import get_record_for_user, visible_to
from records.constants import RecordKind
from records.models import ContactEmail, Record
from records.selectors import associations_for

FORM_ID = "composer-form"
DATA_IMAGE = re.compile(r'src="data:(image/(?:png|gif|jpeg|webp));base64,([A-Za-z0-9+/=\s]+)"')


def _require_sender(user):
    if not user.can_reach_out:
        raise PermissionDenied(_("A View-only seat cannot send email."))


def record_choices(request, record) -> list[tuple[str, str]]:
    choices = [(str(record.pk), _("%(name)s (this record)") % {"name": record.name})]
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


def initial_values(request, record, parent, mode, prefs) -> dict:
    user = request.user
    choices = from_choices(user)
    mine = {c.address.lower() for c in choices}
    start = default_from(user, choices, prefs) or (choices[0] if choices else None)
    initial = {
        "from_key": start.key if start else "",
        "records": [str(record.pk)],
        "mode": mode,
        "log": prefs.log_by_default,
        "track": prefs.track_by_default,
        "send_when": "now",
    }
    signature = composing.signature_html(user)
    if parent is None:
        initial["to"] = composing.new_email_to(
            record, composing.associated_recipients(user, record)
        )
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


def _contact_of(record):
    return record.typed if record.kind == RecordKind.CONTACT else None


def render_panel(request, record_type, record, form, parent, *, kept=(), missing=(), **extra):
    contact = _contact_of(record)
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
        # The contacts of a deal, company, ticket or custom object, offered for To.
        "offered": composing.associated_recipients(request.user, record),
        "parent": parent,
        # What the editor starts with: the default signature, a quoted email, or what the rep
        # sent back after an error. The editor parses it as HTML.
        "body_html": composing.editor_html(form["html"].value()),
        "templates": _templates(request.user),
        "token_menu": tokens.menu(),
        # Inserted as HTML by the editor: sanitized again, whenever they were saved.
        "snippets": [
            {"name": s.name, "html": library.body_html(s)}
            for s in library.usable(Snippet, request.user).order_by("name", "pk")
        ],
        # Files attached besides those chosen in the form: kept from a refused send, or carried
        # on from the email being forwarded; each with a Remove button.
        "kept": kept,
        "missing_tokens": [_missing(key) for key in missing],
        "fallback_example": FALLBACK_EXAMPLE,
        "has_inbox": bool(form.fields["from_key"].choices),
        # The editor shows the body in the rep's font, as the email will carry it.
        "font": font_of(preferences_for(request.user)),
        "fonts": FONTS,
        "max_attachment_bytes": settings.CRM_ATTACHMENTS_MAX_BYTES,
        "max_attachment_mb": settings.CRM_ATTACHMENTS_MAX_BYTES // (1024 * 1024),
        **extra,
    }
    template = (
        "mailboxes/composer/composer.html#composer"
        if request.htmx
        else "mailboxes/composer/composer_page.html"
    )
    return render(request, template, context)


FALLBACK_EXAMPLE = '{{ contact.first_name | default:"there" }}'
NOT_LOGGED = gettext_lazy("It is not logged in the CRM: you find it under Email.")


def _missing(key: str) -> dict:
    return {"key": key, "text": tokens.token_text(key), "label": tokens.label(key)}


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
    forward_of = parent if mode == "forward" else None
    kwargs = {
        "from_choices": from_choices(request.user),
        "record_choices": record_choices(request, record),
    }
    if request.method == "GET":
        prefs = preferences_for(request.user)
        form = ComposeForm(initial=initial_values(request, record, parent, mode, prefs), **kwargs)
        kept = attachments.forwarded(forward_of) if forward_of is not None else []
        return render_panel(request, record_type, record, form, parent, kept=kept)
    form = ComposeForm(request.POST, request.FILES, **kwargs)
    kept_values = request.POST.getlist(attachments.FIELD)
    kept, kept_files = attachments.resolve(request.user, kept_values, forward_of)
    uploads = [
        Attachment(f.name, f.content_type or "", f.read())
        for f in request.FILES.getlist("attachments")
    ]
    if not form.is_valid():
        return _refused(request, record_type, record, form, parent, kept, uploads)
    data = form.cleaned_data
    html, images = inline_images(composing.unblock_images(data["html"]))
    records = list(
        visible_to(request.user, Record.objects.all()).filter(
            pk__in=[int(p) for p in data["records"]]
        )
    )
    to = split_addresses(data["to"])
    draft = Draft(
        sender=request.user,
        from_key=data["from_key"],
        to=to,
        cc=split_addresses(data["cc"]),
        bcc=split_addresses(data["bcc"]),
        subject=data["subject"],
        html=html,
        attachments=images + kept_files + uploads,
        records=records or [record],
        reply_to=parent if mode in ("reply", "reply_all") else None,
        forward_of=forward_of,
        scheduled_at=composing.send_time(data["send_when"], data["send_at"]),
        one_time_basis=data["one_time_basis"] or _one_time_basis(request),
        track=data["track"],
        log=data["log"],
        # Only a template the rep may use is recorded; any other id counts as none.
        template_id=_templates(request.user)
        .filter(pk=data["template_id"])
        .values_list("pk", flat=True)
        .first(),
        # Tokens are filled from the record the composer is on, whatever it is logged on.
        token_context=tokens.context_for(request.user, record, to),
        no_subject_confirmed=data["no_subject_confirmed"],
    )
    try:
        message = email_submit(draft)
    except ComposeError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(None if field not in form.fields else field, errors)
        return _refused(
            request,
            record_type,
            record,
            form,
            parent,
            kept,
            uploads,
            missing=exc.missing_tokens,
            confirm_subject=any(
                e.code == NO_SUBJECT for e in getattr(exc, "error_dict", {}).get("subject", [])
            ),
        )
    attachments.discard(request.user, kept_values)
    if not request.htmx:
        notice = (
            _("Your email is scheduled.") if draft.scheduled_at else _("Your email is on its way.")
        )
        if message.activity_id is None:
            notice = f"{notice} {NOT_LOGGED}"
        messages.success(request, notice)
        return redirect("records:detail", type_slug=type_slug, pk=pk)
    activity = message.activity  # None: not logged, so on no timeline
    if activity is not None:
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


def _refused(request, record_type, record, form, parent, kept, uploads, **extra):
    """The panel again after a refused send, with the files the rep chose still attached:
    stored for the next try, unless they are over the size limit (then the rep is told)."""
    total = sum(k.size for k in kept) + sum(len(u.data) for u in uploads)
    if uploads and total > settings.CRM_ATTACHMENTS_MAX_BYTES:
        form.add_error(
            "attachments",
            _("The files just chosen were not kept: choose fewer or smaller ones again."),
        )
        uploads = []
    kept = [*kept, *attachments.store(request.user, uploads)] if uploads else list(kept)
    return render_panel(request, record_type, record, form, parent, kept=kept, **extra)


def _one_time_basis(request):
    value = request.POST.get("one_time_basis", "")
    return int(value) if value.isdigit() else None


@login_required
def insert_template(request, type_slug, pk, template_pk):
    """A template's subject and body with tokens filled for this record and the To addresses
    typed so far (`?to=`), and the tokens left without a value."""
    _, record = get_record_for_user(request.user, type_slug, pk)
    _require_sender(request.user)
    template = get_object_or_404(_templates(request.user), pk=template_pk)
    context = tokens.context_for(request.user, record, split_addresses(request.GET.get("to", "")))
    subject = tokens.fill_text(template.subject, context)
    # Tokens are filled with escaped values; the result is sanitized again for the editor.
    body = tokens.fill_html(library.body_html(template), context)
    missing = list(dict.fromkeys(subject.missing + body.missing))
    return JsonResponse(
        {
            "id": template.pk,
            "subject": subject.text,
            "html": sanitize.sanitize_html(body.text),
            "missing": [_missing(key) for key in missing],
        }
    )


def _templates(user):
    """The templates a user may write from: their own, their team's and everyone's."""
    return library.usable(EmailTemplate, user).order_by("name", "pk")
