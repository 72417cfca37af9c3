"""The admins' pages of credentials. A new secret is shown in the response to the POST that
made it (never stored, never put in a session for a redirect to show) and that response is
not cached, so Back or a reload does not show it again."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from records.views.admin_area import admin_required, locked_usernames
from transactional.credentials import services
from transactional.credentials.constants import CredentialKind
from transactional.credentials.forms import ApiKeyForm, SmtpTokenForm
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


def _list_page(request, kind, form, issued=None):
    """A kind's list and its create form, with what was just issued if anything."""
    template, section = _LIST_PAGES[kind]
    credentials = list(_live(kind).order_by("-created_at", "-pk"))
    if kind == CredentialKind.SMTP_TOKEN:
        locked = locked_usernames()
        for credential in credentials:
            credential.login_locked = credential.username in locked
    return render(
        request,
        template,
        {
            "form": form,
            "credentials": credentials,
            "issued": issued,
            "section": section,
        },
    )


@admin_required
@never_cache
@require_http_methods(["GET", "POST"])
def smtp_tokens(request):
    """The list of tokens and "Generate token"; after generating, the username and password."""
    form = SmtpTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        issued = services.smtp_token_create(
            form.cleaned_data["name"],
            request.user,
            create_contacts=form.cleaned_data["create_contacts"],
            campaign_name=form.cleaned_data["campaign_name"],
        )
        return _list_page(request, CredentialKind.SMTP_TOKEN, SmtpTokenForm(), issued)
    return _list_page(request, CredentialKind.SMTP_TOKEN, form)


@admin_required
def smtp_token(request, pk):
    """A token's details: what it sent, and its history."""
    token = get_object_or_404(_live(CredentialKind.SMTP_TOKEN), pk=pk)
    return render(
        request,
        "transactional/credentials/smtp_token.html",
        {
            "token": token,
            "stats": send_stats(token),
            "events": token.events.select_related("actor"),
            "section": SMTP_SECTION,
        },
    )


@admin_required
@never_cache
@require_POST
def smtp_token_reset(request, pk):
    token = get_object_or_404(_live(CredentialKind.SMTP_TOKEN), pk=pk)
    issued = services.password_reset(token, request.user)
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
        issued = services.api_key_create(
            form.cleaned_data["name"], request.user, scopes=form.cleaned_data["scopes"]
        )
        return _list_page(request, CredentialKind.API_KEY, ApiKeyForm(), issued)
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
