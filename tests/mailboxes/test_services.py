"""The account's address rules for personal and team inboxes."""

import pytest

from mailboxes.connecting.services import (
    MailboxRuleError,
    mailbox_connect_personal,
    mailbox_connect_team,
    mailbox_disconnect,
)
from mailboxes.models import EmailPreferences, Mailbox, TeamInbox
from mailboxes.preferences.services import email_preferences_save
from tests.mailboxes.inboxes import default_inbox

IMAP = {"provider": "imap", "secret": {"password": "pw"}, "config": {"imap_host": "h"}}


@pytest.fixture
def support(db):
    return TeamInbox.objects.create(name="Support", kind="help_desk")


def test_personal_address_belongs_to_one_user_and_the_error_does_not_name_the_holder(
    owner, teammate
):
    mailbox_connect_personal(owner, email="Shared@Acme.example", **IMAP)
    with pytest.raises(MailboxRuleError) as exc:
        mailbox_connect_personal(teammate, email="shared@acme.example", **IMAP)
    assert "shared@acme.example is already connected." in str(exc.value)
    assert "owner" not in str(exc.value) and owner.display_name not in str(exc.value)


def test_reconnecting_your_own_address_keeps_the_same_inbox(owner):
    first = mailbox_connect_personal(owner, email="me@acme.example", **IMAP)
    first.mark_needs_reconnect("expired")
    again = mailbox_connect_personal(
        owner, email="ME@acme.example", provider="imap", secret={"password": "new"}, config={}
    )
    assert again.pk == first.pk and again.status == "connected"
    assert Mailbox.objects.get(pk=first.pk).secret == {"password": "new"}


def test_an_address_cannot_be_both_personal_and_team(owner, support):
    mailbox_connect_team(support, provider="gmail", email="help@acme.example", secret={}, config={})
    with pytest.raises(MailboxRuleError) as exc:
        mailbox_connect_personal(owner, email="help@acme.example", **IMAP)
    assert "help@acme.example is already connected." in str(exc.value)
    assert "Support" not in str(exc.value)
    other = TeamInbox.objects.create(name="Sales", kind="conversations")
    with pytest.raises(MailboxRuleError):
        mailbox_connect_team(
            other, provider="gmail", email="help@acme.example", secret={}, config={}
        )


def test_personal_address_cannot_become_a_team_address(owner, support):
    mailbox_connect_personal(owner, email="mine@acme.example", **IMAP)
    with pytest.raises(MailboxRuleError) as exc:
        mailbox_connect_team(
            support, provider="office365", email="mine@acme.example", secret={}, config={}
        )
    assert "mine@acme.example is already connected." in str(exc.value)
    assert owner.display_name not in str(exc.value)


@pytest.mark.parametrize("provider", ["imap", "exchange"])
def test_team_inboxes_take_gmail_or_office365_only(support, provider):
    with pytest.raises(MailboxRuleError):
        mailbox_connect_team(
            support, provider=provider, email="t@acme.example", secret={}, config={}
        )


def test_view_only_seat_cannot_connect(viewer):
    with pytest.raises(MailboxRuleError):
        mailbox_connect_personal(viewer, email="v@acme.example", **IMAP)


def test_first_inbox_is_default_from_and_disconnect_hands_it_on(owner):
    b = mailbox_connect_personal(owner, email="b@acme.example", **IMAP)
    a = mailbox_connect_personal(owner, email="a@acme.example", **IMAP)
    assert default_inbox(owner) == b  # the first connected, whatever its address
    email_preferences_save(owner, from_mailbox=a, from_address=a.email)
    assert default_inbox(owner) == a
    mailbox_disconnect(Mailbox.objects.get(pk=a.pk))
    assert EmailPreferences.objects.get(user=owner).from_mailbox is None
    assert default_inbox(owner) == b


def test_a_default_from_must_be_one_of_the_users_own_inboxes(owner, teammate, support):
    theirs = mailbox_connect_personal(teammate, email="t@acme.example", **IMAP)
    team = mailbox_connect_team(
        support, provider="gmail", email="help@acme.example", secret={}, config={}
    )
    for mailbox in (theirs, team):
        with pytest.raises(ValueError):
            email_preferences_save(owner, from_mailbox=mailbox, from_address=mailbox.email)
    assert not EmailPreferences.objects.exists()
