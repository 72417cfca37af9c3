"""What reps reuse when writing: templates (with tokens), snippets and signatures."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from mailboxes.constants import Sharing


class EmailTemplate(models.Model):
    """A subject and body with tokens like {{ contact.first_name }} filled at insert time."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_templates"
    )
    name = models.CharField(max_length=120)
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField(help_text=_("HTML; sanitized when saved."))
    sharing = models.CharField(
        _("shared with"), max_length=10, choices=Sharing.choices, default=Sharing.PRIVATE
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Snippet(models.Model):
    """A short reusable block of text, inserted by name."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="snippets"
    )
    name = models.CharField(max_length=120)
    body = models.TextField(help_text=_("HTML; sanitized when saved."))
    sharing = models.CharField(
        _("shared with"), max_length=10, choices=Sharing.choices, default=Sharing.PRIVATE
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Signature(models.Model):
    """A user's saved signature; the default one is added to new emails."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signatures"
    )
    name = models.CharField(max_length=120)
    body = models.TextField(help_text=_("HTML; sanitized when saved."))
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner"], condition=models.Q(is_default=True), name="one_default_signature"
            )
        ]

    def __str__(self):
        return self.name
