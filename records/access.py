"""The only way views load records: filtered by the user's record access, 404 otherwise."""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from .constants import RecordAccess
from .models import Record, User
from .types import RecordType, get_record_type


def visible_to(user: User, qs: QuerySet) -> QuerySet:
    """Narrow a queryset of records to those `user` may see.

    Team access covers records owned by any member of the user's team; a user with team access
    but no team sees only their own. Unowned records need "all" access.
    """
    if user.record_access == RecordAccess.ALL:
        return qs
    if user.record_access == RecordAccess.TEAM and user.team_id:
        return qs.filter(owner__team_id=user.team_id)
    return qs.filter(owner_id=user.pk)


def can_see(user: User, record: Record) -> bool:
    return visible_to(user, Record.objects.filter(pk=record.pk)).exists()


def get_record_for_user(user: User, type_slug: str, pk: int) -> tuple[RecordType, Record]:
    """Load a typed record the user may see, or raise Http404 (never 403: no existence leak)."""
    record_type = get_record_type(type_slug)
    record = visible_to(user, record_type.queryset()).filter(pk=pk).first()
    if record is None:
        raise Http404("No such record")
    return record_type, record


def require_edit(user: User) -> None:
    """Refuse a change by a user whose seat only lets them look."""
    if not user.can_edit_records:
        raise PermissionDenied(_("A View-only seat cannot change records."))
