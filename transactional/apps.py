from django.apps import AppConfig


class TransactionalConfig(AppConfig):
    name = "transactional"
