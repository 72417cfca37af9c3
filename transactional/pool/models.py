"""The sending pool's settings (one row) and the destination domains a relay deferred."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from mailboxes.fields import EncryptedJSONField
from records.models import OneRow


class RelaySecurity(models.TextChoices):
    STARTTLS = "starttls", _("STARTTLS (usually port 587)")
    SSL = "ssl", _("Implicit TLS (usually port 465)")
    # Only for a relay on this machine (forms.py refuses it for any other host).
    NONE = "none", _("None: a relay on this machine only")


class SendingPool(OneRow, models.Model):
    """Transactional email's settings: one row, always pk 1, read with `load()`.

    `enabled` is the add-on switch: off, transactional sends are refused at enqueue. The
    relay's password and the DKIM private key live in `secret`, encrypted at rest like an
    inbox's (mailboxes/crypto.py); the public key is no secret (it is published in DNS).
    """

    enabled = models.BooleanField(_("Transactional email is on"), default=False)
    host = models.CharField(_("Relay host"), max_length=253, blank=True)
    port = models.PositiveIntegerField(_("Port"), default=587)
    security = models.CharField(
        _("TLS"), max_length=8, choices=RelaySecurity.choices, default=RelaySecurity.STARTTLS
    )
    username = models.CharField(_("Username"), max_length=255, blank=True)
    # {"password": "...", "dkim_private_key": "-----BEGIN PRIVATE KEY-----..."}
    secret = EncryptedJSONField(blank=True, default=dict)
    from_address = models.EmailField(_("Default From address"), blank=True)
    from_name = models.CharField(_("Default From name"), max_length=200, blank=True)
    minute_limit = models.PositiveIntegerField(_("Emails a minute"), null=True, blank=True)
    # The SPF mechanism that authorizes the relay ("include:amazonses.com"); empty: derived
    # from the relay's host (deliverability.py).
    spf_mechanism = models.CharField(_("SPF mechanism of the relay"), max_length=200, blank=True)
    dkim_signing = models.BooleanField(_("Sign with DKIM"), default=False)
    dkim_selector = models.CharField(_("DKIM selector"), max_length=63, default="crm")
    # Base64 of the DER public key, as in the TXT record's p= tag.
    dkim_public_key = models.TextField(blank=True)
    # The last deliverability check, as deliverability.Finding dicts, and when it ran.
    dns_check = models.JSONField(default=list, blank=True)
    dns_checked_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sending pool")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="sending_pool_single")]

    def __str__(self):
        return "Sending pool"

    @property
    def configured(self) -> bool:
        return bool(self.host and self.from_address)

    @property
    def domain(self) -> str:
        return self.from_address.rpartition("@")[2].lower()

    @property
    def signs(self) -> bool:
        return self.dkim_signing and bool(self.secret.get("dkim_private_key"))


class DomainDeferral(models.Model):
    """A destination domain the relay deferred mail to (4xx): every email to it waits until
    `until`, the others go on; `failures` in a row set the backoff; a delivery to it ends it."""

    domain = models.CharField(max_length=253, unique=True)
    until = models.DateTimeField()
    failures = models.PositiveSmallIntegerField(default=1)
    reason = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.domain} until {self.until:%H:%M}"
