from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "records"
    verbose_name = "CRM records"

    def ready(self):
        from . import timeline

        timeline.register_builtin_kinds()
