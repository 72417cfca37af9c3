"""What a user chose about reading mail: the senders whose remote images they always load."""

from django.conf import settings
from django.db import models


class TrustedImageSender(models.Model):
    """ "Always show images from <address>": one user's choice for one sender address.

    Remote images are blocked when a user reads email (a loaded image tells its sender the
    email was opened, when and from where); these senders' images load without asking.
    `address` is stored lowercased.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trusted_image_senders"
    )
    address = models.CharField(max_length=320)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "address"], name="trusted_image_sender_unique")
        ]

    def __str__(self):
        return self.address
