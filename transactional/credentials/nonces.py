"""One-time keys (idempotency keys) of the forms that make a secret: generate a token, reset
its password, create an API key. Each form carries a new one; the history line of what it did
keeps it (`CredentialEvent.nonce`, unique), so the same form posted again, a reload of the page
that showed the secret, finds it and makes nothing. The secret itself is never kept."""

import re
import secrets

from django import forms
from django.utils.translation import gettext_lazy as _

FIELD = "nonce"
_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new() -> str:
    return secrets.token_urlsafe(18)


def valid(value: str | None) -> str | None:
    """The posted nonce if it has the shape `new` makes, else None."""
    return value if value and _SHAPE.fullmatch(value) else None


class NonceField(forms.CharField):
    """A hidden field with a new nonce each time an unbound form renders."""

    widget = forms.HiddenInput
    default_error_messages = {
        "required": _("The form was incomplete: nothing was made. Please send it again."),
    }

    def __init__(self, **kwargs):
        super().__init__(initial=new, max_length=64, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not valid(value):
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return value
