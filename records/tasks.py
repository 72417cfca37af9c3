from celery import shared_task

from . import jobs, notifications
from .imports import runner


@shared_task(name=jobs.NOTIFY)
def notify(user_id: int, subject: str, text: str, link_path: str) -> None:
    notifications.send(user_id, subject, text, link_path)


@shared_task(name=jobs.IMPORT_RUN)
def import_run(import_id: int) -> None:
    runner.run(import_id)
