"""Email a user from the product itself: reminders and other notices (the system email,
CRM_SYSTEM_EMAIL_URL), not the user's own mail, which leaves through their connected inboxes.

`notify` queues the email once the caller's transaction commits (records/jobs.py), so a
rolled-back change notifies nobody, and the worker sends it (`send`, the task's body in
records/tasks.py) with Django's mail API. Nothing fails the caller: without a system email
configured, or for a user without an address, the notification is skipped with a log line.
"""

import logging
import smtplib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.utils.translation import gettext as _

from . import jobs

log = logging.getLogger(__name__)


def configured() -> bool:
    return bool(settings.CRM_SYSTEM_EMAIL_URL)


def notify(user, subject: str, text: str, link_path: str) -> None:
    """Email `user` the `subject` and `text`, ending with a link to `link_path` (a path of
    this site, made absolute with CRM_BASE_URL), after the current transaction commits."""
    if not configured():
        log.info("notification to user %s not sent: CRM_SYSTEM_EMAIL_URL is not set", user.pk)
        return
    if not user.email:
        log.info("notification to user %s not sent: the user has no email address", user.pk)
        return
    jobs.later(jobs.NOTIFY, user.pk, str(subject), str(text), link_path)


def send(user_id: int, subject: str, text: str, link_path: str) -> None:
    """Send one notification now (the worker's part of `notify`)."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email:
        return  # gone, deactivated or without an address since it was queued
    link = settings.CRM_BASE_URL + link_path
    body = f"{text}\n\n{_('Open it in the CRM:')} {link}\n"
    try:
        send_mail(subject, body, None, [user.email])
    except (smtplib.SMTPException, OSError) as exc:
        log.warning("notification to user %s not sent: %s: %s", user_id, type(exc).__name__, exc)
