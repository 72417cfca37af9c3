from records.constants import RecordAccess, Seat
from records.demo import load_demo
from records.models import Contact, CustomObjectType, Team, User


def test_demo_data_covers_every_seat_and_two_teams(db):
    counts = load_demo(contacts=40)
    assert counts["contacts"] == 40 and counts["activities"] > 40
    assert set(User.objects.values_list("seat", flat=True)) == set(Seat.values)
    assert Team.objects.count() == 2
    assert {RecordAccess.ALL, RecordAccess.TEAM, RecordAccess.OWN} <= set(
        User.objects.values_list("record_access", flat=True)
    )
    assert CustomObjectType.objects.filter(slug="projects").exists()
    assert Contact.objects.filter(emails__isnull=False).distinct().count() == 40
    assert load_demo() == {}  # a second run changes nothing
