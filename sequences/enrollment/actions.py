"""What a rep does to an enrollment, from its timeline card or the sequence's enrollments
page: pause, resume (at once, or when the sending calendar next opens), unenroll, and move
the next step. Each goes through sequences/lifecycle.py on the locked row, for a contact the
user may see."""

import zoneinfo
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_time
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from records.access import visible_to
from records.models import Activity, Contact

from .. import lifecycle
from ..constants import EndReason, EnrollmentStatus
from ..models import Enrollment, Sequence
from ..schedule import calendar_for
from .card import next_step_words, prefetch_enrollments

VERBS = ("pause", "resume", "unenroll", "reschedule")


def _visible_enrollments(user):
    return Enrollment.objects.filter(
        contact__in=visible_to(user, Contact.objects.all())
    ).select_related("sequence", "contact")


def _apply(request, enrollment: Enrollment, verb: str) -> str:
    """Do `verb`; return what went wrong ("" when it was done)."""
    user = request.user
    if verb == "pause":
        done = lifecycle.pause(
            enrollment, _("Paused by %(name)s.") % {"name": user.display_name}, actor=user
        )
    elif verb == "resume":
        when = request.POST.get("when")
        now = timezone.now()
        due = now
        if when == "open":
            due = calendar_for(enrollment.sequence, enrollment.time_zone).next_open(now)
        done = lifecycle.resume(
            enrollment, due, _("Resumed by %(name)s.") % {"name": user.display_name}, actor=user
        )
    elif verb == "unenroll":
        done = lifecycle.end(
            enrollment,
            EndReason.MANUAL,
            _("Unenrolled by %(name)s.") % {"name": user.display_name},
            actor=user,
        )
    else:
        due = _moment(request.POST, enrollment.time_zone)
        if due is None:
            return _("Choose a day and a time for the next step.")
        if due <= timezone.now():
            return _("This moment is in the past: choose a later one.")
        done = lifecycle.reschedule(
            enrollment,
            due,
            _("Next step moved by %(name)s.") % {"name": user.display_name},
            actor=user,
        )
    if not done:
        return _("This enrollment is %(status)s: nothing was changed.") % {
            "status": enrollment.get_status_display().lower()
        }
    return ""


def _moment(data, zone: str) -> datetime | None:
    day, at = parse_date(data.get("date") or ""), parse_time(data.get("time") or "")
    if day is None or at is None:
        return None
    return datetime.combine(day, at, tzinfo=zoneinfo.ZoneInfo(zone))


@login_required
@require_POST
def enrollment_action(request, pk, verb):
    if verb not in VERBS:
        raise Http404("No such action")
    if not request.user.can_reach_out:
        raise PermissionDenied(_("A View-only seat cannot change enrollments."))
    if not _visible_enrollments(request.user).filter(pk=pk).exists():
        raise Http404("No such enrollment")
    with transaction.atomic():
        enrollment = lifecycle.locked(pk)
        problem = _apply(request, enrollment, verb)
    if request.htmx and request.POST.get("card"):
        activity = Activity.objects.get(pk=enrollment.activity_id)
        prefetch_enrollments([activity])
        return render(
            request,
            "sequences/enrollment/card.html",
            {"activity": activity, "card_problem": problem},
        )
    if problem:
        messages.error(request, problem)
    back = request.POST.get("next", "")
    if back.startswith("/") and not back.startswith("//"):
        return redirect(back)
    return redirect(reverse("sequences:enrollments", args=[enrollment.sequence_id]))


@login_required
def enrollment_list(request, pk):
    """The sequence's enrollments whose contacts the user may see, live ones first."""
    sequence = get_object_or_404(Sequence, pk=pk)
    enrollments = list(
        _visible_enrollments(request.user)
        .filter(sequence=sequence)
        .order_by("-started_at", "-pk")[:200]
    )
    steps = list(sequence.steps.order_by("position"))
    for enrollment in enrollments:
        enrollment.next_words = next_step_words(enrollment, steps)
    enrollments.sort(key=lambda e: e.status not in EnrollmentStatus.live())
    return render(
        request,
        "sequences/enrollment/enrollments.html",
        {"sequence": sequence, "enrollments": enrollments},
    )
