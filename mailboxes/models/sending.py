"""The account's sending settings: limits new inboxes start with, and the tracking domain."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from mailboxes.constants import TrackingDomainCheck
from records.models import OneRow


class SendingSettings(OneRow, models.Model):
    """Settings of the whole account's sending: one row, always pk 1, read with `load()`.

    `new_inbox_limits` holds what an admin set per provider plan (connecting/caps.py), as
    {plan key: {"minute": n, "day": n}}; a plan missing from it starts with the caps module's
    defaults. The tracking domain is used in pixel and click links only once its last check
    found it resolving to this CRM (`tracking_check`); changing the domain forgets the check.
    """

    new_inbox_limits = models.JSONField(default=dict, blank=True)
    tracking_domain = models.CharField(max_length=253, blank=True)
    tracking_check = models.CharField(
        max_length=10, choices=TrackingDomainCheck.choices, blank=True
    )
    # What the check found, in words: the records seen, or the DNS error.
    tracking_found = models.TextField(blank=True)
    tracking_checked_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = _("sending settings")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="sending_settings_single")]

    def __str__(self):
        return "Sending settings"

    @property
    def tracking_domain_verified(self) -> bool:
        return bool(self.tracking_domain) and self.tracking_check == TrackingDomainCheck.RESOLVES
