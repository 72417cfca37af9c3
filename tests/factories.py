"""factory_boy factories for the records app; services keep search digests and addresses right."""

import factory

from records.constants import RecordAccess, RecordKind, Seat
from records.models import Company, Contact, Deal, Team, Ticket, User
from records.services import contact_save, record_save


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    seat = Seat.SALES
    record_access = RecordAccess.ALL
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = "Example"

    @classmethod
    def _create(cls, model_class, *args, emails=None, **kwargs):
        contact = model_class(*args, **kwargs)
        return contact_save(
            contact, emails if emails is not None else [f"{contact.first_name.lower()}@example.com"]
        )


class _RecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return record_save(model_class(*args, **kwargs))


class CompanyFactory(_RecordFactory):
    class Meta:
        model = Company

    kind = RecordKind.COMPANY
    name = factory.Sequence(lambda n: f"Company {n}")
    domain = factory.Sequence(lambda n: f"company{n}.example")


class DealFactory(_RecordFactory):
    class Meta:
        model = Deal

    kind = RecordKind.DEAL
    name = factory.Sequence(lambda n: f"Deal {n}")


class TicketFactory(_RecordFactory):
    class Meta:
        model = Ticket

    kind = RecordKind.TICKET
    name = factory.Sequence(lambda n: f"Ticket {n}")
