from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class CrmMailConfig(AppConfig):
    name = "crm_mail"
    verbose_name = "CRM Mail"

    def ready(self):
        # The embedded broker is three folders under var/broker; create them so the first
        # .delay() just works.
        if settings.CELERY_BROKER_URL.startswith("filesystem://"):
            options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
            for key in ("data_folder_in", "processed_folder", "control_folder"):
                Path(options[key]).mkdir(parents=True, exist_ok=True)
