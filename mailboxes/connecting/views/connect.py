"""The "Connect personal email" flow: address, recommended provider, disclosure, credentials.

Every connection is verified against the real servers before anything is saved; a failure
says what failed in words a user can act on and keeps what they typed. The servers are ones
the user named, so a test runs with a short timeout, a few times a minute per user at most
(limits.py), only to addresses the network policy allows (connections.network_policy), and
says the same thing whether a port is closed or answered by something else.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from mailboxes.connecting import autodetect, servers
from mailboxes.connecting.connections import build_provider, network_policy
from mailboxes.connecting.disclosures import DISCLOSURES
from mailboxes.connecting.forms import AddressForm, ExchangeConnectForm, ImapConnectForm
from mailboxes.connecting.limits import (
    CONNECTION_TEST_TIMEOUT,
    CONNECTION_TESTS_PER_MINUTE,
    take_connection_test,
)
from mailboxes.connecting.services import (
    MailboxRuleError,
    check_address_free,
    mailbox_connect_personal,
)
from mailboxes.connecting.views.common import connected, connection_test_error_text
from mailboxes.constants import Provider
from mailboxes.models import DomainServerSettings
from mailboxes.providers import autodiscover_candidates, ews_url_from_webmail
from mailboxes.providers.base import ProviderError
from mailboxes.sentences import translated


def _require_sending_seat(user):
    if not user.can_reach_out:
        raise PermissionDenied(_("A View-only seat cannot connect an inbox."))


CONNECT_URLS = {
    Provider.GMAIL: "mailboxes:connect-oauth",
    Provider.OFFICE365: "mailboxes:connect-oauth",
    Provider.EXCHANGE: "mailboxes:connect-exchange",
    Provider.IMAP: "mailboxes:connect-imap",
}
CONNECT_ARGS = {Provider.GMAIL: ("gmail",), Provider.OFFICE365: ("office365",)}


def _check_address(user, email: str) -> None:
    """Refuse an address held anywhere else; the user's own inbox may be reconnected."""
    own = user.mailboxes.filter(email__iexact=email).first()
    check_address_free(email, reconnecting=own)
    refused = autodetect.recommend_provider(email).refused
    if refused:  # Amazon SES / WorkMail, whichever form the user came through
        raise MailboxRuleError(translated(refused))


def _too_many_tests() -> str:
    return _(
        "You have tested %(limit)s connections in the last minute, the most allowed. Wait a "
        "minute, then try again."
    ) % {"limit": CONNECTION_TESTS_PER_MINUTE}


def _choice(provider: str, email: str, recommended: bool) -> dict:
    return {
        "provider": provider,
        "label": Provider(provider).label,
        "disclosure": str(DISCLOSURES[provider]),
        # Encoded: a "+" in ana+crm@example.com would otherwise arrive as a space.
        "url": reverse(CONNECT_URLS[provider], args=CONNECT_ARGS.get(provider, ()))
        + "?"
        + urlencode({"email": email}),
        "recommended": recommended,
    }


@login_required
@require_http_methods(["GET", "POST"])
def connect_start(request):
    """Ask for the address, then recommend a provider from its domain and offer the others.

    A GET with ?email= (the Reconnect link of an inbox) skips the typing.
    """
    _require_sending_seat(request.user)
    data = request.POST if request.method == "POST" else None
    if data is None and request.GET.get("email"):
        data = request.GET
    form = AddressForm(data)
    context = {"form": form}
    if data is not None and form.is_valid():
        email = form.cleaned_data["email"]
        try:
            _check_address(request.user, email)
        except MailboxRuleError as exc:
            form.add_error("email", str(exc))
            return render(request, "mailboxes/connecting/connect_start.html", context)
        recommendation = autodetect.recommend_provider(email)
        if recommendation.refused:
            form.add_error("email", translated(recommendation.refused))
            return render(request, "mailboxes/connecting/connect_start.html", context)
        others = [p for p in recommendation.alternatives if p != recommendation.provider]
        context.update(
            email=email,
            why=translated(recommendation.why),
            choices=[_choice(recommendation.provider, email, True)]
            + [_choice(p, email, False) for p in others],
        )
    return render(request, "mailboxes/connecting/connect_start.html", context)


def _domain_settings(email: str):
    domain = email.rsplit("@", 1)[-1]
    row = DomainServerSettings.objects.filter(domain__iexact=domain).first()
    if row is None:
        return None
    return {
        "imap_host": row.imap_host,
        "imap_port": row.imap_port,
        "imap_security": row.imap_security,
        "smtp_host": row.smtp_host,
        "smtp_port": row.smtp_port,
        "smtp_security": row.smtp_security,
    }


# Where detection found the servers (servers.detect_servers' sources), in words.
FOUND_WORDS = {
    "admin": gettext_lazy(
        "Server settings found in your administrator's settings for this domain."
    ),
    "known": gettext_lazy("Server settings found: this provider's usual servers."),
    "autoconfig": gettext_lazy("Server settings found in the domain's published configuration."),
    "srv": gettext_lazy("Server settings found in the domain's DNS records."),
    "probe": gettext_lazy("Server settings found by trying the usual server names."),
}


@login_required
@require_http_methods(["GET", "POST"])
def connect_imap(request):
    """Email and password; servers detected (admin settings, known, autoconfig, SRV, probe)."""
    _require_sending_seat(request.user)
    if request.method == "POST":
        form = ImapConnectForm(request.POST)
        if form.is_valid():
            error = None
            email = form.cleaned_data["email"]
            config, secret = form.config(), form.secret()
            try:
                # Before verifying: no point signing in to an address someone else holds.
                _check_address(request.user, email)
                if not take_connection_test(request.user):
                    raise MailboxRuleError(_too_many_tests())
                with build_provider(
                    Provider.IMAP, config, secret, email, timeout=CONNECTION_TEST_TIMEOUT
                ) as provider:
                    provider.verify()
                mailbox = mailbox_connect_personal(
                    request.user,
                    provider=Provider.IMAP,
                    email=email,
                    secret=secret,
                    config=config,
                )
            except ProviderError as exc:
                error = connection_test_error_text(exc, Provider.IMAP, config)
            except MailboxRuleError as exc:
                error = str(exc)
            if error is None:
                connected(request, mailbox)
                return redirect("mailboxes:settings")
            form.add_error(None, error)
        guess = None
    else:
        email = request.GET.get("email", "").strip().lower()
        guess = None
        if email and take_connection_test(request.user):
            # Detection probes hosts under the address's domain: a connection test too.
            guess = servers.detect_servers(
                email, domain_settings=_domain_settings(email), network=network_policy()
            )
        elif email:
            messages.warning(request, _too_many_tests())
        initial = {"email": email}
        if guess and guess.imap_host:
            initial.update(
                imap_host=guess.imap_host,
                imap_port=guess.imap_port,
                imap_security=guess.imap_security,
                smtp_host=guess.smtp_host,
                smtp_port=guess.smtp_port,
                smtp_security=guess.smtp_security,
                username=guess.username if guess.username != email else "",
            )
        form = ImapConnectForm(initial=initial)
    return render(
        request,
        "mailboxes/connecting/connect_imap.html",
        {
            "form": form,
            "guess": guess,
            "found": FOUND_WORDS.get(guess.source) if guess else None,
            "disclosure": str(DISCLOSURES[Provider.IMAP]),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def connect_exchange(request):
    """Email and password; Autodiscover first, then the optional username and EWS URL."""
    _require_sending_seat(request.user)
    candidates = []
    if request.method == "POST":
        form = ExchangeConnectForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            # Kept aside: add_error() below takes the field out of cleaned_data.
            typed_url = ews_url = data["ews_url"].strip()
            if ews_url and not ews_url.lower().endswith(".asmx"):
                # A pasted webmail address: use the EWS URL it most likely stands for.
                guessed = ews_url_from_webmail(ews_url)
                if guessed is None:
                    form.add_error(
                        "ews_url", _("This is neither an EWS URL nor a webmail address.")
                    )
                ews_url = guessed or ews_url
            if not form.errors:
                secret = {"password": data["password"]}
                config = {"username": data["username"], "ews_url": ews_url}
                try:
                    _check_address(request.user, data["email"])
                    if not take_connection_test(request.user):
                        raise MailboxRuleError(_too_many_tests())
                    with build_provider(
                        Provider.EXCHANGE,
                        config,
                        secret,
                        data["email"],
                        timeout=CONNECTION_TEST_TIMEOUT,
                    ) as provider:
                        provider.verify()
                        # Store what Autodiscover found, so later tasks skip it.
                        config.update(ews_url=provider.ews_url, auth_type=provider.auth_type)
                    mailbox = mailbox_connect_personal(
                        request.user,
                        provider=Provider.EXCHANGE,
                        email=data["email"],
                        secret=secret,
                        config=config,
                    )
                except ProviderError as exc:
                    form.add_error(None, connection_test_error_text(exc, Provider.EXCHANGE, config))
                    if not ews_url:
                        candidates = [
                            step._replace(how=translated(step.how))
                            for step in autodiscover_candidates(data["email"])
                        ]
                except MailboxRuleError as exc:
                    form.add_error(None, str(exc))
                else:
                    connected(request, mailbox)
                    return redirect("mailboxes:settings")
            if ews_url != typed_url:
                form.data = form.data.copy()
                form.data["ews_url"] = ews_url
    else:
        form = ExchangeConnectForm(initial={"email": request.GET.get("email", "")})
    return render(
        request,
        "mailboxes/connecting/connect_exchange.html",
        {"form": form, "candidates": candidates, "disclosure": str(DISCLOSURES[Provider.EXCHANGE])},
    )


@login_required
@require_GET
def connect_oauth_intro(request, provider):
    """Show what connecting Gmail or Office 365 gives access to, then go to its sign-in."""
    _require_sending_seat(request.user)
    start = {"gmail": "mailboxes:oauth-google", "office365": "mailboxes:oauth-microsoft"}[provider]
    return render(
        request,
        "mailboxes/connecting/connect_oauth.html",
        {
            "label": Provider(provider).label,
            "disclosure": str(DISCLOSURES[provider]),
            "start_url": reverse(start) + "?" + urlencode({"email": request.GET.get("email", "")}),
        },
    )
