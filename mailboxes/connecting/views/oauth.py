"""Connect Gmail and Office 365 inboxes through their OAuth consent screens.

The same two callbacks serve personal inboxes and team inboxes: what is being connected is
kept in the session with the flow's state and PKCE verifier, and checked on the way back.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from mailboxes.connecting.connections import build_provider
from mailboxes.connecting.services import (
    MailboxRuleError,
    aliases_replace,
    mailbox_connect_personal,
    mailbox_connect_team,
)
from mailboxes.connecting.views.common import connected, provider_error_text
from mailboxes.constants import Provider
from mailboxes.models import Mailbox, TeamInbox
from mailboxes.providers import oauth
from mailboxes.providers.base import ProviderError, SharedMailboxError
from mailboxes.sentences import translated

SESSION_KEY = "mailbox_oauth"


def _google_config() -> dict:
    return oauth(Provider.GMAIL).client_config(
        settings.GOOGLE_CLIENT_ID,
        settings.GOOGLE_CLIENT_SECRET,
        auth_uri=settings.GOOGLE_AUTH_URI,
        token_uri=settings.GOOGLE_TOKEN_URI,
    )


def _target(request) -> dict:
    """What the flow connects: the user's own inbox, or an admin's team inbox."""
    team_inbox = request.GET.get("team_inbox", "")
    if team_inbox:
        if not request.user.is_staff:
            raise PermissionDenied(_("Only admins connect team inboxes."))
        if not team_inbox.isdigit():
            raise Http404(_("No such team inbox."))
        get_object_or_404(TeamInbox, pk=team_inbox)
        return {"team_inbox": int(team_inbox)}
    # A View-only seat is refused outright (403), as on every other connect page.
    if not request.user.can_reach_out:
        raise PermissionDenied(_("A View-only seat cannot connect an inbox."))
    return {}


def _done_url(target: dict) -> str:
    if target.get("team_inbox"):
        return reverse("mailboxes:team-inbox", args=[target["team_inbox"]])
    return reverse("mailboxes:settings")


def _fail(request, target: dict, error: str):
    messages.error(request, error)
    return redirect(_done_url(target) if target else "mailboxes:connect")


@login_required
@require_GET
def google_start(request):
    target = _target(request)
    if not settings.GOOGLE_CLIENT_ID:
        return _fail(
            request,
            target,
            _(
                "Gmail isn't set up on this server yet: an admin needs "
                "to set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET (see the README)."
            ),
        )
    redirect_uri = request.build_absolute_uri(reverse("mailboxes:oauth-google-callback"))
    url, state, verifier = oauth(Provider.GMAIL).authorization_url(
        _google_config(), redirect_uri, request.GET.get("email") or None
    )
    request.session[SESSION_KEY] = {
        "provider": Provider.GMAIL,
        "state": state,
        "verifier": verifier,
        **target,
    }
    return redirect(url)


@login_required
@require_GET
def google_callback(request):
    flow = request.session.pop(SESSION_KEY, None) or {}
    target = {k: v for k, v in flow.items() if k == "team_inbox"}
    if flow.get("provider") != Provider.GMAIL or not constant_time_compare(
        flow.get("state", ""), request.GET.get("state", "")
    ):
        return _fail(
            request,
            target,
            _(
                "This Google sign-in doesn't belong to the connection "
                "you started. Start connecting again."
            ),
        )
    if request.GET.get("error"):
        return _fail(request, target, _("Google access was not granted, so nothing was connected."))
    redirect_uri = request.build_absolute_uri(reverse("mailboxes:oauth-google-callback"))
    try:
        tokens = oauth(Provider.GMAIL).exchange_code(
            _google_config(),
            redirect_uri,
            request.GET.get("code", ""),
            flow["verifier"],
            flow["state"],
            api_base=settings.GMAIL_API_BASE,
        )
        secret = {
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "expiry": tokens["expiry"].isoformat() if tokens["expiry"] else None,
            "scope": tokens["scope"],
        }
        config = {"granted_at": tokens["granted_at"].isoformat()}
        with build_provider(Provider.GMAIL, config, secret, tokens["email"]) as provider:
            provider.verify()
            aliases = provider.send_as_aliases()
    except ProviderError as exc:
        return _fail(request, target, provider_error_text(exc))
    mailbox = _save(request, target, Provider.GMAIL, tokens["email"], secret, config)
    if isinstance(mailbox, Mailbox):
        aliases_replace(mailbox, [(a.email, a.display_name, a.is_primary) for a in aliases])
        return redirect(_done_url(target))
    return mailbox


def _save(request, target, provider, email, secret, config):
    try:
        if target.get("team_inbox"):
            team_inbox = get_object_or_404(TeamInbox, pk=target["team_inbox"])
            mailbox = mailbox_connect_team(
                team_inbox, provider=provider, email=email, secret=secret, config=config
            )
        else:
            mailbox = mailbox_connect_personal(
                request.user, provider=provider, email=email, secret=secret, config=config
            )
    except MailboxRuleError as exc:
        return _fail(request, target, str(exc))
    connected(request, mailbox)
    return mailbox


@login_required
@require_GET
def microsoft_start(request):
    target = _target(request)
    if not settings.MICROSOFT_CLIENT_ID:
        return _fail(
            request,
            target,
            _(
                "Office 365 isn't set up on this server yet: an admin "
                "needs to set MICROSOFT_CLIENT_ID and MICROSOFT_CLIENT_SECRET (see the README)."
            ),
        )
    redirect_uri = request.build_absolute_uri(reverse("mailboxes:oauth-microsoft-callback"))
    try:
        flow = oauth(Provider.OFFICE365).start_auth(
            settings.MICROSOFT_CLIENT_ID,
            settings.MICROSOFT_CLIENT_SECRET,
            settings.MICROSOFT_AUTHORITY,
            redirect_uri,
            request.GET.get("email") or None,
            verify=settings.OAUTH_VERIFY,
        )
    except ProviderError as exc:
        return _fail(request, target, provider_error_text(exc))
    request.session[SESSION_KEY] = {"provider": Provider.OFFICE365, "flow": flow, **target}
    return redirect(flow["auth_uri"])


@login_required
@require_GET
def microsoft_callback(request):
    stored = request.session.pop(SESSION_KEY, None) or {}
    target = {k: v for k, v in stored.items() if k == "team_inbox"}
    if stored.get("provider") != Provider.OFFICE365:
        return _fail(
            request,
            target,
            _(
                "This Microsoft sign-in doesn't belong to the connection "
                "you started. Start connecting again."
            ),
        )
    try:
        tokens = oauth(Provider.OFFICE365).finish_auth(
            settings.MICROSOFT_CLIENT_ID,
            settings.MICROSOFT_CLIENT_SECRET,
            settings.MICROSOFT_AUTHORITY,
            stored.get("flow"),
            request.GET.dict(),
            verify=settings.OAUTH_VERIFY,
        )
        secret = {k: tokens[k] for k in ("access_token", "refresh_token", "expires_at")}
        config = {"home_account_id": tokens.get("home_account_id", "")}
        with build_provider(Provider.OFFICE365, config, secret, tokens["email"]) as provider:
            provider.verify()  # refuses shared mailboxes with the explanation
    except SharedMailboxError as exc:
        # Say only why; "the server did not answer as expected" would mislead.
        return _fail(request, target, translated(exc.message))
    except ProviderError as exc:
        return _fail(request, target, provider_error_text(exc))
    mailbox = _save(request, target, Provider.OFFICE365, tokens["email"], secret, config)
    if isinstance(mailbox, Mailbox):
        return redirect(_done_url(target))
    return mailbox
