"""The Celery app: configured from Django settings (CELERY_*), tasks from each app's tasks.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_mail.settings")

app = Celery("crm_mail")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
