"""Celery task of the reports: roll up the emails whose counts changed."""

from celery import shared_task

from mailboxes import jobs
from mailboxes.reports import rollups


@shared_task(name=jobs.REPORTS_REFRESH)
def reports_refresh() -> int:
    return rollups.refresh_marked()
