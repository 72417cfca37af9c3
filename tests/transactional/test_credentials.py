"""Credentials at rest and at the door: secrets stored only as keyed hashes, checked in
constant time, a reset or a revocation effective at once, scopes enforced, last use recorded
at most once a minute."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from tests.at_once import at_once
from transactional.credentials import keys, nonces, services
from transactional.credentials.auth import authenticate_api_key, missing_scopes, verify_smtp
from transactional.credentials.constants import CredentialKind, EventKind, Scope
from transactional.credentials.models import Credential, CredentialEvent

pytestmark = pytest.mark.django_db

SEND = Scope.TRANSACTIONAL_EMAIL
READ = Scope.TRANSACTIONAL_EMAIL_READ


def bearer(value: str) -> str:
    return f"Bearer {value}"


def stored_values(credential: Credential) -> list[str]:
    """Every column of the credential's row, as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM {Credential._meta.db_table} WHERE id = %s",  # noqa: S608
            [credential.pk],
        )
        return [str(v) for v in cursor.fetchone()]


def test_the_database_never_holds_the_secret_only_its_keyed_hash(admin_user):
    issued = services.smtp_token_create("Shop", admin_user, create_contacts=True)
    key = services.api_key_create("ERP", admin_user, scopes=[SEND])

    for credential, secret in ((issued.credential, issued.password), (key.credential, key.secret)):
        assert len(secret) >= 43  # 32 random bytes, URL-safe base64
        row = stored_values(credential)
        assert not any(secret in value for value in row)
        assert credential.secret_hash == keys.digest(credential.lookup_id, secret)
        assert len(credential.secret_hash) == 64
    # A hash made without the server's key (the pepper) is not what is stored.
    plain = keys.digest(issued.username, issued.password, key="somebody-elses-key")
    assert plain != issued.credential.secret_hash
    assert key.api_key.startswith(f"crm_pat_{key.credential.lookup_id}_")


def test_two_tokens_never_share_a_username_or_password(admin_user):
    first = services.smtp_token_create("One", admin_user)
    second = services.smtp_token_create("One", admin_user)
    assert first.username != second.username and first.password != second.password


def test_an_smtp_token_authenticates_with_its_username_and_password_only(admin_user):
    issued = services.smtp_token_create("Shop", admin_user)
    other = services.smtp_token_create("Other", admin_user)

    assert verify_smtp(issued.username, issued.password) == issued.credential
    assert verify_smtp(issued.username, other.password) is None
    assert verify_smtp(issued.username, issued.password[:-1]) is None
    assert verify_smtp("unknown", issued.password) is None
    # A token is not an API key, and an API key is not a token.
    assert authenticate_api_key(bearer(f"crm_pat_{issued.username}_{issued.password}")) is None


def test_an_api_key_authenticates_as_a_bearer_token(admin_user):
    key = services.api_key_create("ERP", admin_user, scopes=[SEND])

    assert authenticate_api_key(bearer(key.api_key)) == key.credential
    assert authenticate_api_key(f"bearer   {key.api_key}  ") == key.credential
    assert authenticate_api_key(key.api_key) is None  # no scheme
    assert authenticate_api_key(f"Basic {key.api_key}") is None
    assert authenticate_api_key(bearer(key.api_key + "x")) is None
    assert authenticate_api_key(bearer("crm_pat_")) is None
    assert authenticate_api_key(bearer("crm_pat_abc")) is None
    assert authenticate_api_key("") is None and authenticate_api_key(None) is None


def test_resetting_the_password_stops_the_old_one_at_once(admin_user):
    issued = services.smtp_token_create("Shop", admin_user)
    fresh = services.password_reset(issued.credential, admin_user)

    assert fresh.username == issued.username
    assert fresh.password != issued.password
    assert verify_smtp(issued.username, issued.password) is None
    assert verify_smtp(fresh.username, fresh.password) == issued.credential


def test_a_deleted_token_and_a_revoked_key_are_refused_and_keep_their_row(admin_user):
    token = services.smtp_token_create("Shop", admin_user)
    key = services.api_key_create("ERP", admin_user, scopes=[SEND])

    assert services.credential_revoke(token.credential, admin_user)
    assert services.credential_revoke(key.credential, admin_user)
    assert not services.credential_revoke(key.credential, admin_user)  # once

    assert verify_smtp(token.username, token.password) is None
    assert authenticate_api_key(bearer(key.api_key)) is None
    for credential in (token.credential, key.credential):
        credential.refresh_from_db()
        assert credential.revoked_at is not None and credential.secret_hash == ""
    with pytest.raises(Credential.DoesNotExist):
        services.password_reset(token.credential, admin_user)


def test_every_action_is_in_the_history_with_who_did_it(admin_user, owner):
    token = services.smtp_token_create("Shop", admin_user)
    services.password_reset(token.credential, owner)
    services.credential_revoke(token.credential, admin_user)
    key = services.api_key_create("ERP", owner, scopes=[READ])
    services.credential_revoke(key.credential, owner)

    history = lambda c: [  # noqa: E731
        (e.kind, e.actor) for e in CredentialEvent.objects.filter(credential=c).order_by("pk")
    ]
    assert history(token.credential) == [
        (EventKind.CREATED, admin_user),
        (EventKind.PASSWORD_RESET, owner),
        (EventKind.DELETED, admin_user),
    ]
    assert history(key.credential) == [(EventKind.CREATED, owner), (EventKind.REVOKED, owner)]


def test_a_token_outlives_the_user_who_made_it(owner):
    issued = services.smtp_token_create("Shop", owner)
    owner.delete()

    credential = verify_smtp(issued.username, issued.password)
    assert credential is not None and credential.created_by is None


def test_scopes_are_enforced_the_send_scope_granting_the_read_one(admin_user):
    sender = services.api_key_create("ERP", admin_user, scopes=[SEND]).credential
    reader = services.api_key_create("Dashboard", admin_user, scopes=[READ]).credential

    assert missing_scopes(sender, SEND) == [] and missing_scopes(sender, READ) == []
    assert missing_scopes(reader, READ) == []
    assert missing_scopes(reader, SEND, READ) == [SEND]
    assert not reader.has_scope(SEND) and reader.has_scope(READ)


def test_last_use_is_written_at_most_once_a_minute(admin_user):
    key = services.api_key_create("ERP", admin_user, scopes=[SEND])
    assert key.credential.last_used_at is None

    assert authenticate_api_key(bearer(key.api_key)) is not None
    first = Credential.objects.get(pk=key.credential.pk).last_used_at
    assert first is not None

    # Within the minute: one query (the lookup) and no write.
    with CaptureQueriesContext(connection) as queries:
        assert authenticate_api_key(bearer(key.api_key)) is not None
    assert len(queries) == 1
    assert Credential.objects.get(pk=key.credential.pk).last_used_at == first

    # A minute later it moves on.
    earlier = timezone.now() - timedelta(seconds=61)
    Credential.objects.filter(pk=key.credential.pk).update(last_used_at=earlier)
    assert authenticate_api_key(bearer(key.api_key)) is not None
    assert Credential.objects.get(pk=key.credential.pk).last_used_at > earlier


def test_a_secret_made_before_the_secret_key_was_rotated_still_works(admin_user, settings):
    key = services.api_key_create("ERP", admin_user, scopes=[SEND])
    old = settings.SECRET_KEY
    with override_settings(SECRET_KEY="a-new-secret-key-" + "x" * 40, SECRET_KEY_FALLBACKS=[old]):
        assert authenticate_api_key(bearer(key.api_key)) == key.credential
    with override_settings(SECRET_KEY="a-new-secret-key-" + "x" * 40, SECRET_KEY_FALLBACKS=[]):
        assert authenticate_api_key(bearer(key.api_key)) is None


def test_one_model_names_both_kinds(admin_user):
    token = services.smtp_token_create("Shop", admin_user).credential
    key = services.api_key_create("ERP", admin_user, scopes=[SEND]).credential
    assert {token.kind, key.kind} == {CredentialKind.SMTP_TOKEN, CredentialKind.API_KEY}
    assert token.pk != key.pk  # a sent email's source id names one of them only


@pytest.mark.django_db(transaction=True)
def test_one_form_posted_four_times_at_once_makes_one_token(postgresql, admin_user):
    nonce = nonces.new()
    outcomes = at_once(lambda: services.smtp_token_create("Shop", admin_user, nonce=nonce))
    (made,) = Credential.objects.values_list("pk", flat=True)
    issued = [o for o in outcomes if isinstance(o, services.Issued)]
    repeats = [o for o in outcomes if isinstance(o, services.AlreadyDone)]
    assert len(issued) == 1 and issued[0].credential.pk == made
    assert len(repeats) == 3 and {r.credential.pk for r in repeats} == {made}
    assert CredentialEvent.objects.get(nonce=nonce).kind == EventKind.CREATED
