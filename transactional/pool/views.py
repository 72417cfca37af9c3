"""Settings > Transactional email (admins): the add-on switch, the sending pool (relay, DKIM,
test email, deliverability check) and the queue."""

from urllib.parse import urlsplit

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from records.views.admin_area import admin_required
from transactional.pool import deliverability, dkim, probe, queue
from transactional.pool.forms import AddonForm, DkimForm, RelayForm, TestEmailForm
from transactional.pool.models import SendingPool
from transactional.pool.transport import unavailable

PAGE_SIZE = 50


@admin_required
@require_http_methods(["GET", "POST"])
def addon(request):
    pool = SendingPool.load()
    form = AddonForm(instance=pool)
    if request.method == "POST":
        form = AddonForm(request.POST, instance=pool)
        if form.is_valid():
            pool = form.save()
            if pool.enabled:
                messages.success(request, _("Transactional email is on."))
            else:
                messages.success(request, _("Transactional email is off: its sends are refused."))
            return redirect("transactional:addon")
    return render(
        request,
        "transactional/pool/addon.html",
        {"section": "transactional-addon", "form": form, "pool": pool, "why": unavailable(pool)},
    )


@admin_required
@require_http_methods(["GET", "POST"])
def pool_settings(request):
    """Four forms, each posted on its own: the relay, DKIM, a test email, the DNS check."""
    pool = SendingPool.load()
    relay_form, dkim_form, test_form = (
        RelayForm(instance=pool),
        DkimForm(instance=pool),
        TestEmailForm(initial={"to": request.user.email}),
    )
    page = reverse("transactional:pool")
    which = request.POST.get("form") if request.method == "POST" else None
    if which == "relay":
        relay_form = RelayForm(request.POST, instance=pool)
        if relay_form.is_valid():
            relay_form.save()
            messages.success(request, _("Relay saved. Send a test email to check it."))
            return redirect(f"{page}#relay")
    elif which == "dkim":
        dkim_form = DkimForm(request.POST, instance=pool)
        if not pool.from_address:
            # The key is published under the From address's domain: it must be known first.
            dkim_form.add_error(None, _("Save the relay and its From address first."))
        elif dkim_form.is_valid():
            _save_dkim(request, dkim_form)
            return redirect(f"{page}#dkim")
    elif which == "test":
        test_form = TestEmailForm(request.POST)
        if not pool.configured:
            test_form.add_error(None, _("Save the relay's settings first."))
        elif test_form.is_valid():
            ok, words = probe.send_test(pool, test_form.cleaned_data["to"])
            (messages.success if ok else messages.error)(request, words)
            return redirect(f"{page}#test-email")
    elif which == "dns":
        if pool.configured:
            deliverability.check_and_store()
            messages.success(request, _("DNS checked: the records found are below."))
        else:
            messages.error(request, _("Save the relay's settings and From address first."))
        return redirect(f"{page}#deliverability")
    return render(
        request,
        "transactional/pool/pool.html",
        {
            "section": "transactional-pool",
            "pool": pool,
            "relay_form": relay_form,
            "dkim_form": dkim_form,
            "test_form": test_form,
            "dkim_name": dkim.record_name(pool.dkim_selector, pool.domain) if pool.domain else "",
            "dkim_value": dkim.record_value(pool.dkim_public_key) if pool.dkim_public_key else "",
            "findings": pool.dns_check,
        },
    )


def _save_dkim(request, form: DkimForm) -> None:
    pool = form.save(commit=False)
    fresh = request.POST.get("action") == "new-key"
    if fresh or (pool.dkim_signing and not pool.secret.get("dkim_private_key")):
        private, public = dkim.generate_key()
        pool.secret = {**pool.secret, "dkim_private_key": private}
        pool.dkim_public_key = public
        messages.success(
            request,
            _("A new 2048-bit key was made. Publish its DNS record below before mail uses it."),
        )
    else:
        messages.success(request, _("DKIM settings saved."))
    # A changed key or selector makes the last check stale.
    pool.dns_check, pool.dns_checked_at = [], None
    pool.save()


@admin_required
@require_http_methods(["GET", "POST"])
def queue_page(request):
    """The list by state, and the bulk actions (retry / cancel deferred email, send again /
    "it was sent" for uncertain email): a POST without `confirm` shows what it will do; with
    it, does it, all or nothing."""
    filters = queue.Filters.from_query(request.GET)
    if request.method == "POST":
        return _bulk(request)
    page = Paginator(queue.transactional_email(filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "transactional/pool/queue.html",
        {
            "section": "transactional-queue",
            "filters": filters,
            "states": queue.STATES,
            "counts": queue.counts(),
            "page": page,
            "here": request.get_full_path(),
        },
    )


# Each bulk action: what it does, and the state its emails must all be in.
BULK_ACTIONS = {
    "retry": (queue.retry_now, "deferred"),
    "cancel": (queue.cancel, "deferred"),
    "send-again": (queue.send_again, "uncertain"),
    "mark-sent": (queue.mark_sent, "uncertain"),
}


def _bulk(request):
    action = request.POST.get("action", "")
    back = _back(request)
    try:
        ids = [int(i) for i in request.POST.getlist("id")]
    except ValueError:
        ids = []
    if action.endswith("-all") and action.removesuffix("-all") in BULK_ACTIONS:
        # Every email in the action's state that the list shows (its search), not only
        # those ticked.
        action = action.removesuffix("-all")
        filters = queue.Filters.from_query(QueryDict(urlsplit(back).query))
        ids = queue.ids_in(BULK_ACTIONS[action][1], filters)
    if action not in BULK_ACTIONS:
        messages.error(request, _("Choose Retry now, Cancel, Send again or It was sent."))
        return redirect(back)
    do, state = BULK_ACTIONS[action]
    if not ids:
        messages.error(request, str(queue.CHOOSE[state]))
        return redirect(back)
    if request.POST.get("confirm") != "yes":
        return render(
            request,
            "transactional/pool/confirm.html",
            {"section": "transactional-queue", "action": action, "ids": ids, "back": back},
        )
    try:
        done = do(ids, request.user)
    except queue.ActionRefused as refused:
        messages.error(request, str(refused))
        return redirect(back)
    messages.success(request, _done_words(action, done))
    return redirect(back)


def _done_words(action: str, n: int) -> str:
    if action == "retry":
        words = ngettext(
            "%(n)s deferred email will be tried again now.",
            "%(n)s deferred emails will be tried again now.",
            n,
        )
    elif action == "cancel":
        words = ngettext(
            "%(n)s deferred email was cancelled.", "%(n)s deferred emails were cancelled.", n
        )
    elif action == "send-again":
        words = ngettext(
            "%(n)s uncertain email will be sent again.",
            "%(n)s uncertain emails will be sent again.",
            n,
        )
    else:
        words = ngettext(
            "%(n)s uncertain email was recorded as sent.",
            "%(n)s uncertain emails were recorded as sent.",
            n,
        )
    return words % {"n": n}


def _back(request) -> str:
    back = request.POST.get("back", "")
    queue_url = reverse("transactional:queue")
    return back if back.startswith(queue_url) else queue_url
