"""Login throttling's hooks into django-axes (settings AXES_CLIENT_IP_CALLABLE,
AXES_USERNAME_CALLABLE and AXES_LOCKOUT_CALLABLE): whose address a sign-in comes from, which
username it is for, and what a locked-out person sees.
"""

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render


def client_ip(request) -> str:
    """The address a request comes from, as far as this server can trust it.

    Behind the reverse proxy (DJANGO_BEHIND_PROXY), the last address of X-Forwarded-For is
    the one the proxy saw (Caddy replaces whatever the client sent); anywhere else the header
    is the client's own word, and REMOTE_ADDR is the only address there is.
    """
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR", "")


def client_username(request, credentials=None) -> str | None:
    """The username a sign-in is for: the login form's, or an SMTP API token's (its backend,
    transactional/credentials/backends.py, takes `smtp_username` so the web login never
    reaches it)."""
    if credentials:
        return credentials.get("username") or credentials.get("smtp_username")
    return request.POST.get("username")


def locked_out(request, original_response=None, credentials=None):
    """The login page again, saying that sign-in is locked and for how long (HTTP 429)."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username})
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(
        request,
        "registration/login.html",
        {
            "form": form,
            "next": request.POST.get("next", ""),
            "locked_out": True,
            "lockout_minutes": minutes,
        },
        status=429,
    )
