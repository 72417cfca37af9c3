"""The models of transactional email, one module per sub-package: imported here so Django
finds them."""

from transactional.api.models import SingleSend  # noqa: F401
from transactional.credentials.models import Credential, CredentialEvent  # noqa: F401
from transactional.emails.models import TransactionalEmail  # noqa: F401
from transactional.events.models import (  # noqa: F401
    StatusEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from transactional.pool.models import DomainDeferral, SendingPool  # noqa: F401
