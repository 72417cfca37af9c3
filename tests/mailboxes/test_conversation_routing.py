"""Fair assignment in a round-robin team inbox: new conversations go in turn to the team's
members who are working now and under the cap; those nobody could take wait and are given
out when someone is free (a conversation closed, working hours that begin)."""

import pytest

from mailboxes.conversations import routing, services
from mailboxes.models import Conversation, TeamInbox
from records.models import User
from tests.factories import UserFactory
from tests.mailboxes.conversations import header

pytestmark = pytest.mark.django_db

ALWAYS = [[["00:00", "23:59"]]] * 7
NEVER = [[]] * 7


@pytest.fixture
def rota(team_desk, owner, teammate, viewer, blue):
    """Owner and teammate work around the clock; the View-only viewer never takes any."""
    TeamInbox.objects.filter(pk=team_desk.team_inbox_id).update(round_robin=True, open_cap=2)
    User.objects.filter(pk__in=[owner.pk, teammate.pk, viewer.pk]).update(working_hours=ALWAYS)
    team_desk.team_inbox.refresh_from_db()
    return team_desk


def arrive(sync_page, desk, *people):
    for person in people:
        sync_page(desk, header(f"{person}@client.example"))
    return {c.counterpart.split("@")[0]: c for c in Conversation.objects.all()}


def test_new_conversations_go_in_turn_up_to_the_cap_then_wait(
    rota, sync_page, owner, teammate, blue
):
    got = arrive(sync_page, rota, "a", "b", "c", "d")
    assert [got[p].assignee for p in "abcd"] == [owner, teammate, owner, teammate]
    got = arrive(sync_page, rota, "e")
    assert got["e"].assignee is None and got["e"].assignee_team == blue  # everyone at the cap
    # Closing one frees a place: the waiting conversation is given out at once.
    services.set_status(owner, got["a"], "closed")
    got["e"].refresh_from_db()
    assert got["e"].assignee == owner


def test_people_outside_their_working_hours_are_skipped(rota, sync_page, owner, teammate):
    User.objects.filter(pk=owner.pk).update(working_hours=NEVER)
    got = arrive(sync_page, rota, "a", "b")
    assert got["a"].assignee == teammate and got["b"].assignee == teammate
    User.objects.filter(pk=teammate.pk).update(working_hours=NEVER)
    got = arrive(sync_page, rota, "c")
    assert got["c"].assignee is None
    # Working hours begin: beat's minute job gives it out.
    User.objects.filter(pk=owner.pk).update(working_hours=ALWAYS)
    assert routing.assign_waiting() == 1
    got["c"].refresh_from_db()
    assert got["c"].assignee == owner


def test_without_round_robin_the_team_keeps_it(team_desk, sync_page, blue):
    got = arrive(sync_page, team_desk, "a")
    assert got["a"].assignee is None and got["a"].assignee_team == blue
    assert routing.assign_waiting() == 0


def test_the_settings_form_refuses_round_robin_without_a_team(admin_user, client, team_desk):
    client.force_login(admin_user)
    url = f"/settings/inboxes/{team_desk.team_inbox_id}/"
    page = client.post(
        url,
        {
            "name": "Support",
            "kind": "conversations",
            "route_to_user": UserFactory(username="solo").pk,
            "round_robin": "on",
        },
    )
    assert "Round robin gives conversations out within a team" in page.content.decode()
    assert not TeamInbox.objects.get(pk=team_desk.team_inbox_id).round_robin


def test_a_conversation_left_unanswered_goes_to_the_next_teammate(rota, sync_page, owner, teammate):
    from datetime import UTC, datetime

    TeamInbox.objects.filter(pk=rota.team_inbox_id).update(reassign_after_minutes=30)
    got = arrive(sync_page, rota, "a")
    assert got["a"].assignee == owner
    monday = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # business hours: Mon-Fri 9-17 UTC
    Conversation.objects.filter(pk=got["a"].pk).update(awaiting_since=monday, assigned_at=monday)
    assert routing.reassign_unanswered(monday.replace(minute=29)) == 0
    assert routing.reassign_unanswered(monday.replace(minute=31)) == 1
    got["a"].refresh_from_db()
    assert got["a"].assignee == teammate and got["a"].assigned_at == monday.replace(minute=31)
    # The new assignee has their own 30 minutes.
    assert routing.reassign_unanswered(monday.replace(minute=50)) == 0
    # Answered: nothing moves any more.
    Conversation.objects.filter(pk=got["a"].pk).update(awaiting_since=None)
    assert routing.reassign_unanswered(monday.replace(hour=12)) == 0


def test_reassigning_needs_round_robin(admin_user, client, team_desk, blue):
    client.force_login(admin_user)
    page = client.post(
        f"/settings/inboxes/{team_desk.team_inbox_id}/",
        {"name": "Support", "kind": "conversations", "route_to_team": blue.pk,
         "reassign_after_minutes": "30"},
    )  # fmt: skip
    assert "turn round robin on" in page.content.decode()
