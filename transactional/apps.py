from django.apps import AppConfig


class TransactionalConfig(AppConfig):
    name = "transactional"
    verbose_name = "Transactional email"

    def ready(self):
        from transactional.pool import setup

        setup.connect()
