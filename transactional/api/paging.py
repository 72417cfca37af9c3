"""HubSpot's forward paging of a collection: `?after=<cursor>&limit=<n>` in, `{results,
paging: {next: {after, link}}}` out, `paging` absent on the last page. The cursor is the last
row's primary key, so a page holds whatever was added meanwhile, never a row twice."""

from django.db.models import QuerySet
from django.http import HttpRequest

from transactional.api.errors import invalid
from transactional.api.schemas import PageIn


def page(request: HttpRequest, rows: QuerySet, asked: PageIn) -> tuple[list, dict | None]:
    """The rows of the page asked for, in primary-key order, and its `paging` (None: the
    last)."""
    after = (asked.after or "").strip()
    if after:
        if not after.isdigit():
            raise invalid(
                f"after={asked.after!r} is not a cursor this API gave (paging.next.after).",
                "VALIDATION_FAILED",
                "after",
            )
        rows = rows.filter(pk__gt=int(after))
    found = list(rows.order_by("pk")[: asked.limit + 1])
    if len(found) <= asked.limit:
        return found, None
    cursor = str(found[asked.limit - 1].pk)
    query = request.GET.copy()
    query["after"] = cursor
    link = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    return found[: asked.limit], {"next": {"after": cursor, "link": link}}
