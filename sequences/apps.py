from django.apps import AppConfig


class SequencesConfig(AppConfig):
    name = "sequences"

    def ready(self):
        from .stopping.receivers import connect

        connect()
