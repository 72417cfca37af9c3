"""HubSpot's enums of the single-send API (shared/reference/hubspot-api.md, section 1)."""

from django.db import models


class SendStatus(models.TextChoices):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    CANCELED = "CANCELED"
    COMPLETE = "COMPLETE"


class SendResult(models.TextChoices):
    """The values this product answers (HubSpot lists more: none of its others can happen
    here)."""

    SENT = "SENT"
    QUEUED = "QUEUED"
    IDEMPOTENT_IGNORE = "IDEMPOTENT_IGNORE"
    INVALID_TO_ADDRESS = "INVALID_TO_ADDRESS"
    INVALID_FROM_ADDRESS = "INVALID_FROM_ADDRESS"
    PREVIOUSLY_BOUNCED = "PREVIOUSLY_BOUNCED"
    MISSING_CONTENT = "MISSING_CONTENT"
    MISSING_TEMPLATE_PROPERTIES = "MISSING_TEMPLATE_PROPERTIES"
    EMAIL_DISABLED = "EMAIL_DISABLED"
    UNDELIVERABLE = "UNDELIVERABLE"
    CAMPAIGN_CANCELLED = "CAMPAIGN_CANCELLED"


# The single send's path under /marketing/ (HubSpot's; its other paths are aliases.py's).
SEND_PATH = "/v3/transactional/single-email/send"

# The scope that sends, and the one that reads statuses (a sending key holds both).
SEND_SCOPE = "transactional-email"
READ_SCOPE = "transactional-email.read"
