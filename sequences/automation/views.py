"""A sequence's Automation tab: its rules, on or off, added and deleted, and their firings.
Everyone signed in may look; the sequence's owner or an admin changes rules (builder rules:
a View-only seat never)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from ..builder.rules import can_change
from ..models import Sequence
from .forms import RuleForm
from .models import AutomationRule, RuleFiring
from .services import describe

LOG_SIZE = 50


def _sequence(pk) -> Sequence:
    return get_object_or_404(Sequence.objects.select_related("owner"), pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def automation(request, pk):
    """The tab; a POST adds a rule (the property alone, "choose", only redraws the form)."""
    sequence = _sequence(pk)
    may_change = can_change(request.user, sequence)
    form = RuleForm(initial=request.GET.dict())
    if request.method == "POST":
        if not may_change:
            raise PermissionDenied
        form = RuleForm(request.POST)
        if "choose" in request.POST:
            form = RuleForm(initial=request.POST.dict())
        elif form.is_valid():
            AutomationRule.objects.create(
                sequence=sequence,
                owner=request.user,
                created_by=request.user,
                **{
                    k: form.cleaned_data[k]
                    for k in ("action", "trigger", "property", "value", "contact_list")
                },
            )
            messages.success(request, _("Rule added: it runs on the next change."))
            return redirect("sequences:automation", pk=sequence.pk)
    _redraw_on_property(form, request.path)
    if request.htmx and request.htmx.target == "rule-form":
        context = {"form": form, "sequence": sequence}
        return render(request, "sequences/automation/page.html#rule-form", context)
    rules = list(sequence.automation_rules.select_related("owner", "contact_list"))
    firings = (
        RuleFiring.objects.filter(rule__sequence=sequence)
        .select_related("rule", "rule__contact_list", "contact", "enrollment")
        .order_by("-at", "-pk")[:LOG_SIZE]
    )
    context = {
        "sequence": sequence,
        "rules": [(rule, describe(rule)) for rule in rules],
        "firings": [(firing, describe(firing.rule)) for firing in firings],
        "form": form,
        "may_change": may_change,
        "log_size": LOG_SIZE,
    }
    return render(request, "sequences/automation/page.html", context)


def _redraw_on_property(form, path: str) -> None:
    """With script, choosing a trigger or a property redraws the form with the trigger's
    fields and the property's values (a dropdown's choices); without, "Show its fields" does."""
    for name in ("action", "trigger", "property", "contact_list"):
        form.fields[name].widget.attrs["class"] = "redraws"
    for name in ("trigger", "property"):
        form.fields[name].widget.attrs.update(
            {
                "hx-get": path,
                "hx-include": "#rule-form .redraws",
                "hx-target": "#rule-form",
                "hx-swap": "outerHTML",
            }
        )


def _rule(request, pk, rule_pk) -> AutomationRule:
    sequence = _sequence(pk)
    if not can_change(request.user, sequence):
        raise PermissionDenied
    return get_object_or_404(
        AutomationRule.objects.select_for_update(), pk=rule_pk, sequence=sequence
    )


@login_required
@require_POST
@transaction.atomic
def rule_toggle(request, pk, rule_pk):
    rule = _rule(request, pk, rule_pk)
    rule.enabled = not rule.enabled
    rule.save(update_fields=["enabled"])
    messages.success(request, _("Rule turned on.") if rule.enabled else _("Rule turned off."))
    return redirect("sequences:automation", pk=pk)


@login_required
@require_POST
@transaction.atomic
def rule_delete(request, pk, rule_pk):
    _rule(request, pk, rule_pk).delete()
    messages.success(request, _("Rule deleted, with its log."))
    return redirect("sequences:automation", pk=pk)
