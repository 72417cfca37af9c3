"""The models of transactional email, one module per sub-package."""

from transactional.pool.models import DomainDeferral, SendingPool  # noqa: F401
