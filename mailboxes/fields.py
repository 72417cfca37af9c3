from django.db import models

from mailboxes import crypto


class EncryptedJSONField(models.TextField):
    """Store a JSON value encrypted with the configured keys; reads give the value back.

    The database only ever holds the Fernet token, so a dump or a log of a query never shows a
    password or token.
    """

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return {}
        return crypto.decrypt(value)

    def get_prep_value(self, value):
        if value in (None, {}, ""):
            return ""
        return crypto.encrypt(value)

    def to_python(self, value):
        return value
