"""Changing saved lists: each function one transaction, members only those the user may see.

Who may do what follows the seats: every seat but View-only creates lists and adds or removes
members; the one who created a list, or an admin, renames or deletes it.
"""

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from ..access import visible_to
from ..models import Contact, User
from ..signals import ListMembersAdded, list_members_added, send_on_commit
from .models import ContactList, ListMember


class ListNameTaken(Exception):
    """Another list has this name, whatever its case."""

    def __init__(self, name: str):
        super().__init__(name)
        self.message = _("A list named “%(name)s” already exists: choose another name.") % {
            "name": name
        }


def can_create(user: User) -> bool:
    return user.can_edit_records


def can_change(user: User, contact_list: ContactList) -> bool:
    """Rename or delete: the list's creator or an admin, on a seat that edits records."""
    return user.can_edit_records and (contact_list.created_by_id == user.pk or user.is_staff)


def name_taken(name: str, exclude: ContactList | None = None) -> bool:
    others = ContactList.objects.filter(name__iexact=name.strip())
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    return others.exists()


def lists_with_counts(user: User) -> QuerySet:
    """Every list, with `member_count` (all its members) and `visible_count` (those `user`
    may see), in one query."""
    seen = visible_to(user, Contact.objects.all()).values("pk")
    return ContactList.objects.select_related("created_by").annotate(
        member_count=Count("members", distinct=True),
        visible_count=Count("members", filter=Q(members__contact__in=seen), distinct=True),
    )


def members_of(user: User, contact_list: ContactList) -> QuerySet:
    """The list's contacts `user` may see."""
    return visible_to(user, Contact.objects.filter(list_memberships__contact_list=contact_list))


def list_create(user: User, name: str) -> ContactList:
    name = name.strip()
    try:
        with transaction.atomic():
            return ContactList.objects.create(name=name, created_by=user)
    except IntegrityError as clash:  # another request took the name meanwhile
        raise ListNameTaken(name) from clash


def list_rename(contact_list: ContactList, name: str) -> None:
    contact_list.name = name.strip()
    try:
        with transaction.atomic():
            contact_list.save(update_fields=["name", "updated_at"])
    except IntegrityError as clash:
        raise ListNameTaken(contact_list.name) from clash


@transaction.atomic
def members_add(user: User, contact_list: ContactList, contact_ids: Iterable[int]) -> list[int]:
    """Add the contacts among `contact_ids` that `user` may see and that are not in the list
    yet; return their ids (in the order given). The list's row is locked meanwhile, so two
    adds to one list never both count a contact as new."""
    ContactList.objects.select_for_update().filter(pk=contact_list.pk).first()
    wanted = list(dict.fromkeys(int(pk) for pk in contact_ids))
    visible = set(
        visible_to(user, Contact.objects.filter(pk__in=wanted)).values_list("pk", flat=True)
    )
    present = set(
        ListMember.objects.filter(contact_list=contact_list, contact_id__in=visible).values_list(
            "contact_id", flat=True
        )
    )
    added = [pk for pk in wanted if pk in visible and pk not in present]
    ListMember.objects.bulk_create(
        [ListMember(contact_list=contact_list, contact_id=pk, added_by=user) for pk in added]
    )
    if added:
        send_on_commit(
            list_members_added,
            "records",
            ListMembersAdded(contact_list.pk, tuple(added), user.pk),
        )
    return added


@transaction.atomic
def members_remove(user: User, contact_list: ContactList, contact_ids: Iterable[int]) -> int:
    """Take the contacts among `contact_ids` that `user` may see out of the list; return how
    many were in it."""
    seen = visible_to(user, Contact.objects.filter(pk__in=list(contact_ids))).values("pk")
    removed, _rows = ListMember.objects.filter(
        contact_list=contact_list, contact_id__in=seen
    ).delete()
    return removed
