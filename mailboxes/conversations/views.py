"""The conversations inbox's pages: the inboxes a user works, one inbox's list and reading
pane, the list alone for the poll (304 while nothing changed), and each email's framed body."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from mailboxes.constants import ConversationStatus
from mailboxes.conversations import access, forms, listing, presence, services, tickets
from mailboxes.models import ConversationMessage, EmailMessage
from mailboxes.sync.bodies import fill_bodies
from mailboxes.sync.decide import own_addresses
from mailboxes.timeline.views.threads import email_body, mark_images, trust_sender_images
from records.access import visible_to
from records.selectors import associations_for
from records.types import type_slug_for


@login_required
@require_GET
def index(request):
    inboxes = list(access.inboxes_for(request.user))
    if len(inboxes) == 1:
        return redirect("mailboxes:conversations-inbox", mailbox_id=inboxes[0].pk)
    return render(request, "mailboxes/conversations/index.html", {"inboxes": inboxes})


def _etag(request, mailbox_id: int, filters, selected) -> str:
    version = listing.version(mailbox_id, request.user.pk)
    return f'"{version}-{urlencode(filters.params())}-{selected or ""}"'


def _list_context(request, mailbox, filters, selected_id=None, etag=None):
    query = urlencode(filters.params())
    return {
        # The poll has read the version already; the page reads it here.
        "etag": etag or _etag(request, mailbox.pk, filters, selected_id),
        "now": timezone.now(),
        "mailbox": mailbox,
        "filters": filters,
        "views": listing.VIEWS,
        "members": list(access.members(mailbox)),
        "conversations": listing.page(request.user, mailbox, filters),
        "page_size": listing.PAGE_SIZE,
        "selected_id": selected_id,
        "query": query,
        "list_url": reverse("mailboxes:conversations-list", args=[mailbox.pk])
        + f"?{query}"
        + (f"&c={selected_id}" if selected_id else ""),
        "poll_seconds": settings.CRM_CONVERSATIONS_POLL_SECONDS,
    }


def _pane(request, conversation) -> dict:
    messages = list(
        EmailMessage.objects.filter(
            pk__in=ConversationMessage.objects.filter(conversation=conversation).values(
                "message_id"
            )
        ).order_by("sent_at", "pk")
    )
    fill_bodies(messages)
    mark_images(request.user, messages)
    contact = conversation.contact
    if (
        contact is not None
        and not visible_to(request.user, type(contact).objects.filter(pk=contact.pk)).exists()
    ):
        contact = None
    comments = list(conversation.comments.select_related("author"))
    items = sorted(
        [("email", m.sent_at or m.created_at, m) for m in messages]
        + [("comment", c.created_at, c) for c in comments],
        key=lambda item: item[1],
    )
    ticket = tickets.visible_ticket(request.user, conversation)
    return {
        "conversation": conversation,
        "ticket": ticket,
        "items": items,
        "contact": contact,
        "contact_slug": type_slug_for(contact) if contact else "",
        "association_groups": associations_for(request.user, contact) if contact else [],
    }


def _reply_all_cc(conversation, messages) -> str:
    """Everyone on the conversation's latest email but the team and the correspondent."""
    if not messages:
        return ""
    latest = messages[-1]
    skip = own_addresses(conversation.mailbox) | {conversation.counterpart}
    people = [latest.from_addr, *latest.to_addrs, *latest.cc_addrs]
    return ", ".join(dict.fromkeys(a.lower() for a in people if a and a.lower() not in skip))


def _forms(request, conversation, messages, ticket, bound: dict | None = None) -> dict:
    """The reading pane's forms: unbound, but for the one a refused POST bound. With
    `?reply=all` the reply is copied to everyone else on the latest email."""
    bound = bound or {}
    reply_all = request.GET.get("reply") == "all"
    cc = _reply_all_cc(conversation, messages) if reply_all else ""
    subject = conversation.subject
    if subject and not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    return {
        "assign_form": bound.get("assign")
        or forms.AssignForm(
            initial={"assignee": forms.AssignForm.current(conversation)},
            members=access.members(conversation.mailbox),
            team=conversation.mailbox.team_inbox.route_to_team,
        ),
        "priority_form": bound.get("priority")
        or (ticket and forms.PriorityForm(initial={"priority": ticket.priority})),
        "snooze_form": bound.get("snooze") or forms.SnoozeForm(),
        "comment_form": bound.get("comment") or forms.CommentForm(),
        "reply_form": bound.get("reply")
        or forms.ReplyForm(
            initial={
                "to": conversation.counterpart,
                "cc": cc,
                "subject": subject,
                "since": presence.latest_link(conversation),
            }
        ),
        "forward_form": bound.get("forward") or forms.ForwardForm(),
        "others": presence.others(request.user, conversation),
        "reply_open": reply_all or "reply" in bound,
    }


def _render_inbox(request, mailbox, conversation=None, bound=None, status=200):
    filters = listing.Filters.of(request.GET)
    context = {"inboxes": list(access.inboxes_for(request.user))}
    if conversation is not None:
        listing.mark_read(request.user, conversation)
        pane = _pane(request, conversation)
        context.update(pane)
        emails = [item for kind, _at, item in pane["items"] if kind == "email"]
        forms_ = _forms(request, conversation, emails, pane["ticket"], bound)
        context.update(forms_)
        presence.report(request.user, conversation, "replying" if forms_["reply_open"] else "")
        context["may_change"] = request.user.can_edit_records
    context.update(_list_context(request, mailbox, filters, conversation and conversation.pk))
    return render(request, "mailboxes/conversations/inbox.html", context, status=status)


@login_required
@require_GET
def inbox(request, mailbox_id):
    mailbox = access.get_inbox(request.user, mailbox_id)
    selected = request.GET.get("c", "")
    conversation = None
    if selected.isdigit():
        conversation = access.get_conversation(request.user, int(selected))
        if conversation.mailbox_id != mailbox.pk:
            raise Http404("No such conversation")
    return _render_inbox(request, mailbox, conversation)


def _back(request, conversation):
    filters = listing.Filters.of(request.GET)
    url = reverse("mailboxes:conversations-inbox", args=[conversation.mailbox_id])
    return redirect(f"{url}?{urlencode(filters.params())}&c={conversation.pk}")


def _second_answer_warning(user, conversation, data) -> str:
    """The words that hold a reply back once, or "" (presence.second_answer)."""
    if data["send_anyway"]:
        return ""
    replying, answered = presence.second_answer(user, conversation, data["since"] or 0)
    if replying:
        return _(
            "%(names)s is replying to this conversation too. Read the latest first; to send "
            "yours as well, tick “Send mine anyway”."
        ) % {"names": ", ".join(replying)}
    if answered:
        return _(
            "A teammate replied to this conversation after you opened it. Read the latest "
            "first; to send yours as well, tick “Send mine anyway”."
        )
    return ""


@login_required
@require_POST
def presence_report(request, pk):
    """The pane's report every few seconds (viewing or replying); answers who else is here."""
    conversation = access.get_conversation(request.user, pk)
    presence.report(request.user, conversation, request.POST.get("state", ""))
    return render(
        request,
        "mailboxes/conversations/presence.html",
        {"others": presence.others(request.user, conversation)},
    )


def _refused(request, conversation, key, form, error=None):
    if form is None:  # a button without a form (close, reopen, wake): say why, change nothing
        for text in error.messages if error else ():
            messages.error(request, text)
        return _back(request, conversation)
    for field, messages_ in (error.message_dict if error else {}).items():
        field = {"html": "text", "__all__": None, "from_key": None}.get(field, field)
        if field not in form.fields:
            field = None
        for text in messages_:
            form.add_error(field, text)
    return _render_inbox(request, conversation.mailbox, conversation, bound={key: form}, status=400)


# The pane's forms, by action; close, reopen and unsnooze are buttons without one.
ACTION_FORMS = {
    "priority": forms.PriorityForm,
    "snooze": forms.SnoozeForm,
    "comment": forms.CommentForm,
    "reply": forms.ReplyForm,
    "forward": forms.ForwardForm,
}


def _action_form(action, conversation, data):
    if action == "assign":
        return forms.AssignForm(
            data,
            members=access.members(conversation.mailbox),
            team=conversation.mailbox.team_inbox.route_to_team,
        )
    form_class = ACTION_FORMS.get(action)
    return form_class(data) if form_class else None


@login_required
@require_POST
def act(request, pk, action):
    """One of the pane's forms, posted. Refused input comes back in its form with why."""
    conversation = access.get_conversation(request.user, pk)
    user = request.user
    form = _action_form(action, conversation, request.POST)
    if form is not None and not form.is_valid():
        return _refused(request, conversation, action, form)
    data = form.cleaned_data if form is not None else {}
    try:
        if action == "assign":
            choice = data["assignee"]
            if choice == forms.AssignForm.TEAM:
                services.assign_team(user, conversation)
            else:
                services.assign(user, conversation, int(choice) if choice else None)
            messages.success(request, _("Assigned."))
        elif action == "priority":
            services.set_priority(user, conversation, data["priority"])
            messages.success(request, _("Priority saved."))
        elif action in ("close", "reopen"):
            services.set_status(
                user,
                conversation,
                ConversationStatus.CLOSED if action == "close" else ConversationStatus.OPEN,
            )
            messages.success(request, _("Closed.") if action == "close" else _("Reopened."))
        elif action == "snooze":
            services.snooze(user, conversation, data["until"])
            messages.success(request, _("Snoozed."))
        elif action == "unsnooze":
            services.unsnooze(user, conversation)
        elif action == "comment":
            services.comment(user, conversation, data["text"])
            messages.success(request, _("Comment added. It was not emailed."))
        elif action == "reply":
            warning = _second_answer_warning(user, conversation, data)
            if warning:
                form.data = form.data.copy()
                form.data[form.add_prefix("since")] = presence.latest_link(conversation)
                form.add_error(None, warning)
                form.warned = True
                return _refused(request, conversation, "reply", form)
            services.reply(
                user,
                conversation,
                to=form.addresses(data["to"]),
                cc=form.addresses(data["cc"]),
                subject=data["subject"],
                text=data["text"],
            )
            presence.report(user, conversation, "viewing")
            messages.success(
                request,
                _("Reply queued from %(address)s.") % {"address": conversation.mailbox.email},
            )
        elif action == "forward":
            services.forward(
                user,
                conversation,
                to=forms.ReplyForm.addresses(data["to"]),
                text=data["text"],
            )
            messages.success(request, _("Forwarded. It does not count as an answer."))
        else:
            raise Http404("No such action")
    except ValidationError as error:  # ConversationError, ComposeError
        return _refused(request, conversation, action, form, error)
    return _back(request, conversation)


@login_required
@require_GET
def inbox_list(request, mailbox_id):
    """The list alone, polled by the page. Its ETag is the inbox's version: a poll that
    sends it back while nothing changed is answered 304 after one query."""
    mailbox_id = int(mailbox_id)
    filters = listing.Filters.of(request.GET)
    selected = request.GET.get("c", "")
    selected = int(selected) if selected.isdigit() else None
    etag = _etag(request, mailbox_id, filters, selected)
    if request.headers.get("If-None-Match") == etag:
        # Only a user who may see the inbox got the ETag; another one's guess learns nothing
        # but that nothing changed since they last could.
        response = HttpResponseNotModified()
    else:
        mailbox = access.get_inbox(request.user, mailbox_id)
        response = render(
            request,
            "mailboxes/conversations/inbox.html#list",
            _list_context(request, mailbox, filters, selected, etag),
        )
    response["ETag"] = etag
    # The page's script sends the ETag back itself (static/js/conversations.js); a browser
    # cache answering for it would hand htmx the old body to swap in again.
    response["Cache-Control"] = "private, no-store"
    return response


def _visible_link(request, message_pk) -> ConversationMessage:
    """The conversation link of an email in an inbox the user works; 404 otherwise."""
    link = (
        ConversationMessage.objects.filter(
            message_id=message_pk, conversation__mailbox__in=access.inboxes_for(request.user)
        )
        .select_related("message", "conversation")
        .first()
    )
    if link is None:
        raise Http404("No such email")
    return link


@login_required
@require_GET
@xframe_options_sameorigin
def message_body(request, message_pk) -> HttpResponse:
    """One email of a conversation the user may see, for the sandboxed frame."""
    return email_body(request, _visible_link(request, message_pk).message)


@login_required
@require_POST
def message_images(request, message_pk):
    """Always show images from this email's sender (`always=1`), or no longer (`always=0`):
    the user's own reading preference, shared with the timeline. Back to the conversation."""
    link = _visible_link(request, message_pk)
    trust_sender_images(request.user, link.message, request.POST.get("always") == "1")
    conversation = link.conversation
    url = reverse("mailboxes:conversations-inbox", args=[conversation.mailbox_id])
    return redirect(f"{url}?c={conversation.pk}")
