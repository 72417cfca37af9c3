"""Celery task of connecting: revoke a disconnected Gmail inbox's grant at Google."""

from celery import shared_task
from django.conf import settings

from mailboxes import jobs
from mailboxes.constants import Provider
from mailboxes.providers import oauth


@shared_task(name=jobs.REVOKE_GOOGLE_TOKEN, ignore_result=True)
def revoke_google_token(token: str) -> bool:
    """An already invalid token counts as revoked."""
    return oauth(Provider.GMAIL).revoke(token, settings.GOOGLE_REVOKE_URI)
