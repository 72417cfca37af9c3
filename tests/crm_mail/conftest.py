import pytest
from django.conf import settings

from crm_mail import heartbeats


@pytest.fixture
def background_alive(db):
    """Beat and a worker of every queue have just said they are alive, as a running
    installation's do (crm_mail/heartbeats.py)."""
    heartbeats.record(heartbeats.BEAT, *map(heartbeats.queue_key, settings.CRM_QUEUES))
