"""The email reports' name for a transactional email's source: its SMTP token or API key
(mailboxes/reports/names.py). Deleted ones keep their name (credentials are never deleted)."""

from mailboxes.constants import SendSource
from mailboxes.reports import names

from .models import Credential


def credential_names(ids) -> dict[int, str]:
    return dict(Credential.objects.filter(pk__in=ids).values_list("pk", "name"))


def register() -> None:
    names.register_source(names.SourceNames(SendSource.TRANSACTIONAL, credential_names))
