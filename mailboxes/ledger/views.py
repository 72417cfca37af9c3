"""The ledger page, and the outbox's actions taken from one of its rows."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from mailboxes.ledger import rows as ledger_rows
from mailboxes.outbox import actions

TEMPLATE = "mailboxes/ledger/ledger.html"


@login_required
@require_GET
def ledger(request):
    filters = ledger_rows.Filters.from_query(request.user, request.GET)
    page = Paginator(ledger_rows.ledger(request.user, filters), ledger_rows.PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    ledger_rows.describe(request.user, page.object_list)
    context = {
        "page": page,
        "filters": filters,
        "statuses": ledger_rows.STATUSES,
        "back": request.get_full_path(),
    }
    template = TEMPLATE
    if request.htmx and request.htmx.target == "ledger-results":
        template += "#results"
    return render(request, template, context)


def _row(user, **lookup):
    """One row of every email the user's ledger may list, or None."""
    everything = ledger_rows.Filters(everyone=user.is_staff)
    return ledger_rows.ledger(user, everything).filter(**lookup).first()


@login_required
@require_POST
def ledger_action(request, message_pk, action):
    """Cancel, send now, send again or mark as sent, from the ledger (`actions.perform` says
    who may). Answers the row again (htmx), or goes back to the ledger."""
    # Only a row the user's ledger has: anyone else's email is a 404, not a 403.
    row = _row(request.user, message_id=message_pk)
    if row is None:
        raise Http404("No such email")
    error = actions.perform(request.user, row, action)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = ""
    if request.htmx:
        row = _row(request.user, pk=row.pk)
        ledger_rows.describe(request.user, [row])
        context = {"o": row, "action_error": error, "back": back}
        return render(request, TEMPLATE + "#row", context)
    (messages.error if error else messages.success)(request, error or "Done.")
    return redirect(back or "mailboxes:ledger")
