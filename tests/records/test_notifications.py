"""records.notifications: the product's own email to a user, queued on commit and sent by the
worker to the system email server (an aiosmtpd sink here), with an absolute link; skipped,
with a log line, without a server or an address; a refusing server costs only that email."""

import logging
from email import message_from_bytes, policy

import pytest
from django.db import transaction

from crm_mail.env import email_from_url
from records import jobs
from records.notifications import notify, send


@pytest.fixture
def system_email(settings, smtp_sink):
    """The system email pointed at the sink, as CRM_SYSTEM_EMAIL_URL would point it."""
    url = f"smtp://{smtp_sink.user}:{smtp_sink.password}@127.0.0.1:{smtp_sink.port}"
    settings.CRM_SYSTEM_EMAIL_URL = url
    for name, value in email_from_url(url).items():
        setattr(settings, name, value)
    # pytest-django keeps mail in memory; the product's backend talks SMTP.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "CRM <notifications@crm.example>"
    settings.CRM_BASE_URL = "https://crm.example"
    return smtp_sink


def notify_and_send(queued_jobs, capture, user) -> list[tuple]:
    """notify() in a transaction that commits, then the worker's part of each job queued."""
    with capture(execute=True):
        notify(user, "Task due: Call Olivia", "Your task is due now.", "/records/contacts/7/")
    queued = queued_jobs.args_of(jobs.NOTIFY)
    for args in queued:
        send(*args)
    return queued


def test_a_notification_is_queued_on_commit_and_sent_with_an_absolute_link(
    owner, system_email, queued_jobs, django_capture_on_commit_callbacks
):
    owner.email = "owner@crm.example"
    owner.save()
    with django_capture_on_commit_callbacks() as callbacks:
        notify(owner, "Task due: Call Olivia", "Your task is due now.", "/records/contacts/7/")
    assert queued_jobs == [] and len(callbacks) == 1  # nothing before the commit

    assert len(notify_and_send(queued_jobs, django_capture_on_commit_callbacks, owner)) == 1
    (received,) = system_email.messages
    assert received.rcpt_tos == ["owner@crm.example"]
    assert received.login == system_email.user
    email = message_from_bytes(received.data, policy=policy.default)
    assert email["Subject"] == "Task due: Call Olivia"
    assert email["From"] == "CRM <notifications@crm.example>"
    text = email.get_content()
    assert "Your task is due now." in text
    assert "https://crm.example/records/contacts/7/" in text


def test_nothing_is_queued_when_the_transaction_rolls_back(owner, queued_jobs):
    owner.email = "owner@crm.example"
    owner.save()
    with transaction.atomic():
        notify(owner, "Subject", "Text", "/")
        transaction.set_rollback(True)
    assert queued_jobs == []


def test_without_a_system_email_notifications_are_skipped_with_a_log_line(
    owner, settings, queued_jobs, django_capture_on_commit_callbacks, caplog
):
    settings.CRM_SYSTEM_EMAIL_URL = ""
    owner.email = "owner@crm.example"
    owner.save()
    with caplog.at_level(logging.INFO, logger="records.notifications"):
        assert notify_and_send(queued_jobs, django_capture_on_commit_callbacks, owner) == []
    assert caplog.messages == [
        f"notification to user {owner.pk} not sent: CRM_SYSTEM_EMAIL_URL is not set"
    ]


def test_a_user_without_an_email_address_is_skipped(
    owner, system_email, queued_jobs, django_capture_on_commit_callbacks, caplog
):
    assert owner.email == ""
    with caplog.at_level(logging.INFO, logger="records.notifications"):
        assert notify_and_send(queued_jobs, django_capture_on_commit_callbacks, owner) == []
    assert system_email.messages == []
    assert "the user has no email address" in caplog.text


def test_a_refusing_server_costs_that_notification_and_a_warning(
    owner, system_email, queued_jobs, django_capture_on_commit_callbacks, caplog
):
    owner.email = "owner@crm.example"
    owner.save()
    system_email.refuse("owner@crm.example", "550 5.1.1 No such user")
    with caplog.at_level(logging.WARNING, logger="records.notifications"):
        notify_and_send(queued_jobs, django_capture_on_commit_callbacks, owner)
    assert system_email.messages == []
    assert "SMTPRecipientsRefused" in caplog.text
