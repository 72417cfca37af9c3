"""The form of Settings > Email > Logging: the never-log list is typed one entry per line."""

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator, validate_email
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mailboxes.models import LoggingRules

MAX_ENTRIES = 5000
_domain_validator = DomainNameValidator()


def normalize_entry(entry: str) -> str:
    """One never-log entry as stored: lowercased; a domain without a leading "@" or final
    dot. Raises ValidationError when it is neither an address nor a domain."""
    entry = entry.strip().lower()
    if "@" in entry.lstrip("@"):
        validate_email(entry)
        return entry
    entry = entry.lstrip("@").rstrip(".")
    _domain_validator(entry)
    return entry


def parse_entries(text: str) -> tuple[list[str], list[str]]:
    """The entries of a list typed one per line (each once, in order), and an error naming
    each line that is neither an address nor a domain."""
    entries: list[str] = []
    errors: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = normalize_entry(line)
        except ValidationError:
            errors.append(
                _("Line %(line)d: “%(entry)s” is neither an email address nor a domain.")
                % {"line": number, "entry": line.strip()}
            )
            continue
        if entry not in entries:
            entries.append(entry)
    return entries, errors


class LoggingRulesForm(forms.ModelForm):
    never_log = forms.CharField(
        label=gettext_lazy("Addresses and domains"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "autocapitalize": "off"}),
        help_text=gettext_lazy(
            "One address or domain per line. Email whose other participants are all on this "
            "list is not logged, and no one on it gets email logged on their record. A domain "
            "covers its subdomains (example.com also covers eu.example.com). Add your own "
            "company's domain, and the addresses of personal contacts."
        ),
    )

    class Meta:
        model = LoggingRules
        fields = [
            "never_log",
            "create_contacts",
            "log_mode",
            "on_companies",
            "on_open_deals",
            "on_open_tickets",
        ]
        widgets = {"log_mode": forms.RadioSelect}
        help_texts = {
            "create_contacts": gettext_lazy(
                "A person's email from an address no contact has makes them a contact, owned "
                "by the inbox's owner and named from the email. Not for automatic replies, "
                "bounces, no-reply or mailing-list senders, nor for anyone on the never-log "
                "list; only for email received after this is turned on."
            ),
            "on_open_deals": gettext_lazy("Deals not closed won or closed lost."),
            "on_open_tickets": gettext_lazy("Tickets not closed."),
        }

    def __init__(self, *args, instance: LoggingRules, **kwargs):
        super().__init__(*args, instance=instance, **kwargs)
        self.initial["never_log"] = "\n".join(instance.never_log)
        self.was_creating_contacts = instance.create_contacts and instance.saved

    def clean_never_log(self) -> list[str]:
        entries, errors = parse_entries(self.cleaned_data["never_log"])
        if errors:
            raise ValidationError(errors)
        if len(entries) > MAX_ENTRIES:
            raise ValidationError(
                _("The list holds %(max)d entries at most.") % {"max": MAX_ENTRIES}
            )
        return entries

    def save(self, commit=True) -> LoggingRules:
        rules = super().save(commit=False)
        if rules.create_contacts and not self.was_creating_contacts:
            rules.contacts_since = timezone.now()
        if commit:
            rules.save()
        return rules
