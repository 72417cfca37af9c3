"""The enrollment pages: one contact (/sequences/<pk>/enroll/?contact=<id>) and up to 50 at
once (/sequences/<pk>/enroll/bulk/?contact=…&contact=…, or ?list=<id>: a saved list's
members the user may see), both on the same setup: the "All
contacts" options, each contact's panel (emails, task titles, tokens, blockers, forecast), and
the pickers that lead there (a contact for a sequence, a sequence for contacts).

Every contact is loaded through record access; one the user may not see is not shown (404 on
the single page). Each post re-runs the preflight and the forecast on what was typed; the
enrollment itself is services.enroll, all or nothing.
"""

from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from mailboxes.preferences.defaults import default_from, own_addresses
from records.access import get_record_for_user, visible_to
from records.constants import RecordKind
from records.lists.services import lists_with_counts, members_of
from records.models import Contact, ContactList
from records.selectors import associations_for, records_search

from ..constants import BULK_LIMIT
from ..models import Sequence
from . import setup
from .forecast import Capacity, forecast
from .forms import SharedForm
from .services import EnrollRefused, Plan, enroll, preflight, steps_of, token_contexts


def _require_enroller(user):
    if not user.can_reach_out:
        raise PermissionDenied(_("A View-only seat cannot enroll contacts in sequences."))


def contact_zone(contact: Contact) -> str | None:
    """The contact's own time zone, when a property holds a valid one."""
    zone = str((contact.properties or {}).get("time_zone") or "")
    try:
        ZoneInfo(zone)
    except (ValueError, KeyError, OSError):
        return None
    return zone or None


def _ids(request) -> list[int]:
    values = request.POST.getlist("contact") if request.method == "POST" else []
    # `id`: the contacts index's selection (records' list actions).
    values = values or request.GET.getlist("contact") or request.GET.getlist("id")
    ids = []
    for value in values:
        for part in value.split(","):
            if part.strip().isdigit() and int(part) not in ids:
                ids.append(int(part))
    return ids


def _contacts(user, ids: list[int]) -> list[Contact]:
    by_pk = visible_to(user, Contact.objects.filter(pk__in=ids)).in_bulk()
    return [by_pk[pk] for pk in ids if pk in by_pk]


def _refused(request, sequence, message: str):
    """A page that can enroll nobody, and says why."""
    return render(
        request,
        "sequences/enrollment/refused.html",
        {"sequence": sequence, "message": message},
        status=400,
    )


def _start(request, pk) -> tuple[Sequence, list[int]]:
    _require_enroller(request.user)
    return get_object_or_404(Sequence, pk=pk), _ids(request)


@login_required
@require_http_methods(["GET", "POST"])
def enroll_one(request, pk):
    sequence, ids = _start(request, pk)
    if not ids:
        return _pick_contact(request, sequence)
    contacts = _contacts(request.user, ids[:1])
    if not contacts:
        raise Http404("No such contact")
    return _setup_page(request, sequence, contacts, bulk=False)


def _list_members(request) -> list[int] | None:
    """The ids of the members of the saved list `list` the user may see, in the order they
    were added; None without a list."""
    chosen = request.GET.get("list", "")
    if request.method != "GET" or not chosen.isdigit():
        return None
    contact_list = get_object_or_404(ContactList, pk=int(chosen))
    members = members_of(request.user, contact_list).order_by("list_memberships__added_at", "pk")
    return list(members.values_list("pk", flat=True))


@login_required
@require_http_methods(["GET", "POST"])
def enroll_bulk(request, pk):
    sequence, ids = _start(request, pk)
    from_list = _list_members(request)
    if from_list is not None and not ids:
        if not from_list:
            return _refused(request, sequence, _("This list has no contacts you can access."))
        ids = from_list
    if len(ids) > BULK_LIMIT:
        message = _(
            "At most %(limit)d contacts can be enrolled at once; %(count)d were chosen. "
            "Choose %(limit)d or fewer."
        ) % {"limit": BULK_LIMIT, "count": len(ids)}
        return _refused(request, sequence, message)
    contacts = _contacts(request.user, ids)
    hidden = len(ids) - len(contacts)
    gone = request.POST.get("remove", "")
    if gone:
        contacts = [c for c in contacts if str(c.pk) != gone]
    return _setup_page(request, sequence, contacts, bulk=True, hidden=hidden)


def _pick_contact(request, sequence):
    query = request.GET.get("q", "").strip()
    found = visible_to(request.user, Contact.objects.all())
    if query:
        found = records_search(found, query)
    return render(
        request,
        "sequences/enrollment/pick_contact.html",
        {
            "sequence": sequence,
            "query": query,
            "contacts": found.order_by("name", "pk")[:BULK_LIMIT],
            "limit": BULK_LIMIT,
            "lists": lists_with_counts(request.user).filter(visible_count__gt=0),
        },
    )


def _defaults(steps, contacts, user, default) -> dict:
    zones = {contact_zone(c) for c in contacts}
    zone = zones.pop() if len(zones) == 1 and None not in zones else user.time_zone
    return {
        "start": steps[0].position,
        "time_zone": zone,
        "send": "now",
        "sender": default.key if default else "",
    }


def _setup_page(request, sequence, contacts, *, bulk: bool, hidden: int = 0):
    user = request.user
    steps = steps_of(sequence)
    if sequence.archived or not steps:
        message = (
            _("This sequence is archived: restore it before enrolling anyone.")
            if sequence.archived
            else _("This sequence has no steps yet: add one before enrolling.")
        )
        return _refused(request, sequence, message)
    choices = own_addresses(user)
    default = default_from(user, choices)
    initial = _defaults(steps, contacts, user, default)
    data = request.POST if request.method == "POST" else None
    action = data.get("action", "") if data else ""
    shared = SharedForm(data, initial=initial, steps=steps, from_choices=choices)
    valid = shared.is_valid()
    options = shared.cleaned_data if valid else {}
    start = options.get("start", initial["start"])
    zone = options.get("time_zone") or initial["time_zone"]
    everyone = setup.fills(data, setup.ALL)
    panels = [setup.read_panel(data, c, steps, start, everyone) for c in contacts]
    delays = shared.delays() if valid else {}
    plans = [
        Plan(
            p.contact,
            zone,
            start_position=start,
            send_at=options.get("send_at"),
            overrides=setup.with_delays(p.overrides, delays),
        )
        for p in panels
    ]
    choice = (
        shared.from_choice()
        if valid
        else next((c for c in choices if c.key == initial["sender"]), None)
    )
    mailbox = choice.mailbox if choice else None
    now = timezone.now()
    _check(user, sequence, steps, panels, plans, mailbox, now)
    alone = data.get("enroll_one", "") if data else ""
    if alone and valid:
        # "Enroll <name>" on one contact's panel: that contact now, the rest stay.
        panels, plans = _enroll_alone(request, sequence, panels, plans, alone, choice, now)
    blocked = any(p.blocked for p in panels)
    if action in ("start", "enroll") and valid and plans and not blocked:
        try:
            enrolled = enroll(user, sequence, plans, mailbox, choice.address, now=now)
        except EnrollRefused as refused:
            messages.error(request, refused.message)
        else:
            return _enrolled(request, sequence, enrolled, bulk)
    elif action in ("start", "enroll", "review") and blocked:
        messages.error(request, _("Some contacts cannot be enrolled yet: see each one's fixes."))
    missing_all = {}
    for panel in panels:
        for key, label, _name in panel.missing:
            missing_all.setdefault(key, (key, label, setup.token_field(setup.ALL, key)))
    context = {
        "sequence": sequence,
        "steps": steps,
        "form": shared,
        "panels": panels,
        "bulk": bulk,
        "hidden": hidden,
        "blocked": blocked,
        "waiting": sum(t.waits_for_limit for p in panels for t in p.times),
        "missing_all": list(missing_all.values()),
        "confirm": bulk and action == "review" and valid and plans and not blocked,
        "has_inbox": bool(choices),
        "own_zone": contact_zone(contacts[0]) if len(contacts) == 1 else None,
        "single_from": len(choices) == 1,
    }
    template = "sequences/enrollment/bulk.html" if bulk else "sequences/enrollment/one.html"
    return render(request, template, context)


def _enroll_alone(request, sequence, panels, plans, pk, choice, now):
    """Enroll the one contact `pk` of the batch; return the panels and plans left."""
    index = next((i for i, p in enumerate(panels) if str(p.contact.pk) == pk), None)
    if index is None or panels[index].blocked:
        messages.error(request, _("Fix what stops this contact's enrollment first."))
        return panels, plans
    try:
        enroll(request.user, sequence, [plans[index]], choice.mailbox, choice.address, now=now)
    except EnrollRefused as refused:
        messages.error(request, refused.message)
        return panels, plans
    messages.success(
        request,
        _("%(name)s is enrolled in “%(sequence)s”.")
        % {"name": panels[index].contact.name, "sequence": sequence.name},
    )
    return panels[:index] + panels[index + 1 :], plans[:index] + plans[index + 1 :]


def _check(user, sequence, steps, panels, plans, mailbox, now) -> None:
    """Put each contact's blockers, forecast and tokens without a value on its panel."""
    if not plans:
        return
    blockers = preflight(user, sequence, plans, mailbox, now=now, steps=steps)
    times = forecast(sequence, steps, plans, Capacity.of(mailbox, now), now) if mailbox else {}
    contexts = token_contexts(user, [p.contact for p in plans])
    for panel, plan in zip(panels, plans, strict=True):
        panel.blockers = blockers.get(panel.contact.pk, [])
        panel.times = times.get(panel.contact.pk, [])
        setup.mark_missing(panel, plan, steps, contexts[panel.contact.pk])


def _enrolled(request, sequence, enrolled, bulk):
    if not bulk:
        contact = enrolled[0].contact
        messages.success(
            request,
            _("%(name)s is enrolled in “%(sequence)s”.")
            % {"name": contact.name, "sequence": sequence.name},
        )
        return redirect(reverse("records:detail", args=["contacts", contact.pk]))
    messages.success(
        request,
        ngettext(
            "%(count)d contact enrolled in “%(sequence)s”.",
            "%(count)d contacts enrolled in “%(sequence)s”.",
            len(enrolled),
        )
        % {"count": len(enrolled), "sequence": sequence.name},
    )
    return redirect(reverse("sequences:enrollments", args=[sequence.pk]))


def _live_sequences():
    return Sequence.objects.filter(archived_at__isnull=True).order_by("name", "pk")


@login_required
def pick_sequence(request):
    """Choose the sequence for the contacts picked on the contacts index (multi-select)."""
    _require_enroller(request.user)
    ids = _ids(request)
    contacts = _contacts(request.user, ids)
    return render(
        request,
        "sequences/enrollment/pick_sequence.html",
        {
            "contacts": contacts,
            "sequences": _live_sequences(),
            "too_many": len(ids) > BULK_LIMIT,
            "limit": BULK_LIMIT,
            "count": len(ids),
            "query": "&".join(f"contact={c.pk}" for c in contacts),
        },
    )


@login_required
def record_enroll(request, type_slug, pk):
    """The record page's "Enroll in sequence" panel: the record's contact (a contact itself,
    or one associated with a company, deal or ticket) and the sequences to pick from."""
    _require_enroller(request.user)
    record_type, record = get_record_for_user(request.user, type_slug, pk)
    if record.kind == RecordKind.CONTACT:
        contacts = [record]
    else:
        contacts = [
            r
            for group in associations_for(request.user, record)
            if group.record_type.kind == RecordKind.CONTACT
            for r in group.records
        ]
    template = "sequences/enrollment/record_panel.html"
    return render(
        request,
        template + "#panel" if request.htmx else template,
        {
            "record_type": record_type,
            "record": record,
            "contacts": contacts,
            "sequences": _live_sequences(),
        },
    )
