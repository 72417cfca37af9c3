"""The admins' pages of credentials. A new secret is shown in the response to the POST that
made it (never stored, never put in a session for a redirect to show) and that response is
not cached, so Back or a reload does not show it again. Each form that makes a secret carries a
one-time nonce (nonces.py): posted again (a reload), it makes nothing and says so."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from records.views.admin_area import admin_required, locked_usernames
from transactional.credentials import nonces, services
from transactional.credentials.constants import CredentialKind
from transactional.credentials.forms import ApiKeyForm, LimitsFields, SmtpTokenForm
from transactional.credentials.models import Credential
from transactional.credentials.stats import send_stats

SMTP_SECTION = "smtp-api"
API_SECTION = "api-keys"


def _live(kind: str):
    return Credential.objects.live().filter(kind=kind).select_related("created_by")


_LIST_PAGES = {
    CredentialKind.SMTP_TOKEN: ("transactional/credentials/smtp_tokens.html", SMTP_SECTION),
    CredentialKind.API_KEY: ("transactional/credentials/api_keys.html", API_SECTION),
}


def _list_page(request, kind, form, issued=None, repeated=None, status=200):
    """A kind's list and its create form, with what was just issued if anything, or the
    credential a repeated form had made (`repeated`: services.AlreadyDone)."""
    template, section = _LIST_PAGES[kind]
    credentials = list(_live(kind).order_by("-created_at", "-pk"))
    if kind == CredentialKind.SMTP_TOKEN:
        locked = locked_usernames()
        for credential in credentials:
            credential.login_locked = credential.username in locked
            credential.reset_nonce = nonces.new()  # each "Reset password" form its own
    if form.is_bound and nonces.FIELD in form.errors:
        # A form posted without a usable nonce: shown again with a new one, nothing lost.
        form.data = form.data.copy()
        form.data[nonces.FIELD] = nonces.new()
    return render(
        request,
        template,
        {
            "form": form,
            "credentials": credentials,
            "issued": issued,
            "repeated": repeated,
            "section": section,
        },
        status=status,
    )


def _issue_once(request, kind, form, issue):
    """`issue(nonce)` once per form: its secret shown, or the page saying it was done before."""
    blank = type(form)()
    try:
        issued = issue(form.cleaned_data[nonces.FIELD])
    except services.AlreadyDone as done:
        return _list_page(request, kind, blank, repeated=done, status=409)
    return _list_page(request, kind, blank, issued)


@admin_required
@never_cache
@require_http_methods(["GET", "POST"])
def smtp_tokens(request):
    """The list of tokens and "Generate token"; after generating, the username and password."""
    form = SmtpTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        return _issue_once(
            request,
            CredentialKind.SMTP_TOKEN,
            form,
            lambda nonce: services.smtp_token_create(
                data["name"],
                request.user,
                create_contacts=data["create_contacts"],
                campaign_name=data["campaign_name"],
                minute_limit=data["minute_limit"],
                hour_limit=data["hour_limit"],
                nonce=nonce,
            ),
        )
    return _list_page(request, CredentialKind.SMTP_TOKEN, form)


@admin_required
@require_http_methods(["GET", "POST"])
def smtp_token(request, pk):
    """A token's details: what it sent, its sending limits (a form) and its history."""
    token = get_object_or_404(_live(CredentialKind.SMTP_TOKEN), pk=pk)
    limits = LimitsFields(
        request.POST or None,
        initial={"minute_limit": token.minute_limit, "hour_limit": token.hour_limit},
    )
    if request.method == "POST" and limits.is_valid():
        changed = services.limits_change(token, request.user, **limits.cleaned_data)
        if changed:
            messages.success(
                request,
                _("Sending limits of “%(name)s” saved: they hold from its next message.")
                % {"name": token.name},
            )
        else:
            messages.info(request, _("The sending limits were already these; nothing changed."))
        return redirect("transactional:smtp-token", pk=token.pk)
    return render(
        request,
        "transactional/credentials/smtp_token.html",
        {
            "token": token,
            "limits": limits,
            "reset_nonce": nonces.new(),
            "stats": send_stats(token),
            "events": token.events.select_related("actor"),
            "section": SMTP_SECTION,
        },
        status=400 if limits.errors else 200,
    )


@admin_required
@never_cache
@require_POST
def smtp_token_reset(request, pk):
    token = get_object_or_404(_live(CredentialKind.SMTP_TOKEN), pk=pk)
    nonce = nonces.valid(request.POST.get(nonces.FIELD))
    if nonce is None:
        messages.error(request, _("The form was incomplete: nothing changed. Please try again."))
        return redirect("transactional:smtp-tokens")
    try:
        issued = services.password_reset(token, request.user, nonce)
    except services.AlreadyDone as done:
        return _list_page(
            request, CredentialKind.SMTP_TOKEN, SmtpTokenForm(), repeated=done, status=409
        )
    return _list_page(request, CredentialKind.SMTP_TOKEN, SmtpTokenForm(), issued)


@admin_required
@require_POST
def smtp_token_delete(request, pk):
    token = get_object_or_404(_live(CredentialKind.SMTP_TOKEN), pk=pk)
    services.credential_revoke(token, request.user)
    messages.success(
        request,
        _("Token “%(name)s” deleted: email sent with it is refused from now on.")
        % {"name": token.name},
    )
    return redirect("transactional:smtp-tokens")


@admin_required
@require_POST
def smtp_token_unlock(request, pk):
    token = get_object_or_404(_live(CredentialKind.SMTP_TOKEN), pk=pk)
    services.login_unlock(token, request.user)
    messages.success(request, _("Token “%(name)s” can log in again.") % {"name": token.name})
    return redirect("transactional:smtp-tokens")


@admin_required
@never_cache
@require_http_methods(["GET", "POST"])
def api_keys(request):
    """The list of keys and "Create key"; after creating, the key."""
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        return _issue_once(
            request,
            CredentialKind.API_KEY,
            form,
            lambda nonce: services.api_key_create(
                data["name"], request.user, scopes=data["scopes"], nonce=nonce
            ),
        )
    return _list_page(request, CredentialKind.API_KEY, form)


@admin_required
@require_POST
def api_key_revoke(request, pk):
    key = get_object_or_404(_live(CredentialKind.API_KEY), pk=pk)
    services.credential_revoke(key, request.user)
    messages.success(
        request,
        _("Key “%(name)s” revoked: requests with it are refused from now on.") % {"name": key.name},
    )
    return redirect("transactional:api-keys")
