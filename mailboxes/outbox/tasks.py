"""Celery tasks of the outbox: thin wrappers that take ids and call sending.py, copies.py."""

from celery import shared_task

from mailboxes import jobs
from mailboxes.outbox import copies, sending


@shared_task(name=jobs.SEND_OUTBOUND, acks_late=True)
def send_outbound(outbound_id: int, *more_ids: int) -> str | int | None:
    # Idempotent: the rows are claimed with SKIP LOCKED, so a redelivered task finds them
    # taken or done. A batch's emails come as one job (enqueue.SEND_JOB_SIZE at most).
    if more_ids:
        return sum(sending.send_outbounds([outbound_id, *more_ids]).values())
    return sending.send_outbound(outbound_id)


@shared_task(name=jobs.SEND_DUE)
def send_due() -> int:
    return sum(sending.send_due().values())


@shared_task(name=jobs.FILE_SENT_COPIES, acks_late=True)
def file_sent_copies(mailbox_id: int, *old_args) -> int:
    return copies.file_sent_copies(mailbox_id, *old_args)


@shared_task(name=jobs.FILE_OWED_COPIES)
def file_owed_copies() -> int:
    return copies.file_owed_copies()
