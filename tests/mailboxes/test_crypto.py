"""Secrets at rest: encrypted with the first key, readable with any, rotatable."""

import pytest
from cryptography.fernet import Fernet

from mailboxes import crypto


def test_secret_round_trips_and_is_not_stored_in_clear(settings):
    settings.CRM_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    token = crypto.encrypt({"password": "hunter2", "refresh_token": "1//0g-abc"})
    assert "hunter2" not in token and "1//0g" not in token
    assert crypto.decrypt(token) == {"password": "hunter2", "refresh_token": "1//0g-abc"}


def test_rotation_moves_secrets_to_the_new_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CRM_ENCRYPTION_KEYS = [old]
    token = crypto.encrypt("s3cret")
    settings.CRM_ENCRYPTION_KEYS = [new, old]
    assert crypto.decrypt(token) == "s3cret"  # old tokens still readable
    rotated = crypto.rotate(token)
    settings.CRM_ENCRYPTION_KEYS = [new]
    assert crypto.decrypt(rotated) == "s3cret"
    with pytest.raises(crypto.SecretUnreadable):
        crypto.decrypt(token)  # the old key is gone: the unrotated token is unreadable


def test_bad_keys_are_a_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.CRM_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured):
        crypto.encrypt("x")


def test_rotate_command_reencrypts_stored_secrets(settings, owner):
    from django.core.management import call_command
    from django.db import connection

    from mailboxes.models import Mailbox

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CRM_ENCRYPTION_KEYS = [old]
    box = Mailbox.objects.create(
        kind="personal",
        provider="imap",
        email="o@x.example",
        owner=owner,
        secret={"password": "hunter2"},
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM mailboxes_mailbox WHERE id = %s", [box.pk])
        stored = cursor.fetchone()[0]
    assert "hunter2" not in stored
    settings.CRM_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))
    settings.CRM_ENCRYPTION_KEYS = [new]
    assert Mailbox.objects.get(pk=box.pk).secret == {"password": "hunter2"}
