"""The account's email logging rules, which sync follows (Settings > Email > Logging)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from mailboxes.constants import LogMode
from records.models import OneRow


class LoggingRules(OneRow, models.Model):
    """What sync logs and where, for the whole account: one row, always pk 1, read with
    `load()`.

    `never_log` holds lowercased addresses and domains (a domain covers its subdomains);
    until an admin saves, the rules sync reads put the account's own domains there
    (`mailboxes.logging_rules.rules.current`). `contacts_since` is when creating contacts for
    unknown senders was last turned on: older mail creates none, so turning it on never
    fills the CRM with the senders of years of mail.
    """

    never_log = models.JSONField(_("Never log"), default=list, blank=True)
    create_contacts = models.BooleanField(_("Create contacts for unknown senders"), default=False)
    contacts_since = models.DateTimeField(null=True, blank=True)
    log_mode = models.CharField(
        _("Which email to log"), max_length=10, choices=LogMode.choices, default=LogMode.ALL
    )
    on_companies = models.BooleanField(_("The contact's companies"), default=True)
    on_open_deals = models.BooleanField(_("The contact's open deals"), default=True)
    on_open_tickets = models.BooleanField(_("The contact's open tickets"), default=True)
    # Empty until an admin saves: the defaults are in force until then.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = _("logging rules")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="logging_rules_single")]

    def __str__(self):
        return "Logging rules"

    @property
    def saved(self) -> bool:
        return self.updated_at is not None
