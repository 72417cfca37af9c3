"""How each activity kind shows on a record's timeline.

Apps that add a kind (mailboxes adds email) register a template and, when the kind needs more
rows than the activity itself, a prefetch that loads them for a whole page in one query.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from .constants import ActivityKind


@dataclass(frozen=True)
class ActivityRenderer:
    template: str
    prefetch: Callable[[list], None] | None = None


_renderers: dict[str, ActivityRenderer] = {}


def register(kind: str, template: str, prefetch: Callable[[list], None] | None = None) -> None:
    _renderers[kind] = ActivityRenderer(template, prefetch)


def register_builtin_kinds() -> None:
    register(ActivityKind.NOTE, "records/activities/note.html")
    register(ActivityKind.TASK, "records/activities/task.html")


def template_for(kind: str) -> str:
    renderer = _renderers.get(kind)
    return renderer.template if renderer else "records/activities/unknown.html"


def prefetch(activities: list) -> None:
    """Run each kind's prefetch once over the activities of that kind on the page."""
    by_kind = defaultdict(list)
    for activity in activities:
        by_kind[activity.kind].append(activity)
        activity.template_name = template_for(activity.kind)
    for kind, items in by_kind.items():
        renderer = _renderers.get(kind)
        if renderer and renderer.prefetch:
            renderer.prefetch(items)
