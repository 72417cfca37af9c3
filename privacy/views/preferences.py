"""The public email preferences page a contact reaches from the link in an email (no login).

Only POST changes anything: link scanners and mail-security proxies fetch every URL in an
email with GET, and must never unsubscribe anyone. A forged, tampered or expired token shows a
page that says so and changes nothing.
"""

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..constants import OptOutSource
from ..links import BadPreferencesLink, contact_for_token
from ..selectors import contact_privacy_overview
from ..services import opt_out_of_all, preferences_update


def _bad_link(request, problem: str):
    status = 404 if problem == "unknown_contact" else 400
    return render(request, "privacy/preferences_invalid.html", {"problem": problem}, status=status)


def _noindex(response):
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request, token):
    try:
        contact = contact_for_token(token)
    except BadPreferencesLink as bad:
        return _noindex(_bad_link(request, bad.problem))
    notice = ""
    if request.method == "POST":
        if request.POST.get("action") == "unsubscribe_all":
            opt_out_of_all(contact, source=OptOutSource.PREFERENCES_PAGE)
            notice = _("You're unsubscribed from all email. Nothing more will be sent to you.")
        else:
            ticked = {int(v) for v in request.POST.getlist("subscribed") if v.isdigit()}
            changed = preferences_update(contact, ticked)
            notice = _("Your preferences are saved.") if changed else _("Nothing changed.")
    overview = contact_privacy_overview(contact, history=0)
    rows = [r for r in overview.subscriptions if not r.is_transactional]
    return _noindex(
        render(
            request,
            "privacy/preferences.html",
            {"contact": contact, "overview": overview, "rows": rows, "notice": notice},
        )
    )


@csrf_exempt  # RFC 8058: the mail client POSTs with no cookie and no CSRF token.
@never_cache
@require_http_methods(["GET", "POST"])
def one_click(request, token):
    """Opt the contact out of all email on a mail client's one-click POST (RFC 8058).

    A GET (a person opening the header's URL, or a scanner) only leads to the preferences page.
    """
    if request.method == "GET":
        return redirect("privacy:preferences", token=token)
    try:
        contact = contact_for_token(token)
    except BadPreferencesLink as bad:
        status = 404 if bad.problem == "unknown_contact" else 400
        return HttpResponse(_("This unsubscribe link is not valid."), status=status)
    if request.POST.get("List-Unsubscribe") != "One-Click":
        return HttpResponse("Expected the body List-Unsubscribe=One-Click (RFC 8058).", status=400)
    opt_out_of_all(contact, source=OptOutSource.ONE_CLICK)
    return HttpResponse(_("You're unsubscribed from all email."), content_type="text/plain")
