from celery import shared_task

from . import jobs, notifications


@shared_task(name=jobs.NOTIFY)
def notify(user_id: int, subject: str, text: str, link_path: str) -> None:
    notifications.send(user_id, subject, text, link_path)
