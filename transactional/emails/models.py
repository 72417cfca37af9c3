"""Transactional emails written in the product's editor: sent to chosen contacts from their
page, or published for the single-send API, which names them by id (HubSpot's emailId)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EmailState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    # Published: the single-send API may send it; its content may still be edited.
    PUBLISHED = "published", _("Published")


class TransactionalEmail(models.Model):
    """Subscription type "Transactional": no unsubscribe link, subscription preferences
    bypassed (privacy's TRANSACTIONAL context). Its body holds contact tokens
    (`{{ contact.first_name }}`) and custom ones (`{{ custom.order_id }}`, filled from the
    API's customProperties)."""

    name = models.CharField(_("Internal name"), max_length=200)
    subject = models.CharField(_("Subject"), max_length=500)
    # Empty: the sending pool's default From name and address.
    from_name = models.CharField(_("From name"), max_length=200, blank=True)
    from_address = models.EmailField(_("From address"), blank=True)
    reply_to = models.EmailField(_("Reply-To"), blank=True)
    body = models.TextField(_("Body"), blank=True)
    state = models.CharField(max_length=10, choices=EmailState.choices, default=EmailState.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["-updated_at"], name="tx_email_updated")]

    def __str__(self):
        return self.name

    @property
    def is_published(self) -> bool:
        return self.state == EmailState.PUBLISHED
