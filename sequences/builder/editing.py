"""The builder's edit buttons (add a step, remove, move up or down, use a template), done on
what the page posted and answered with the page as typed: nothing is saved until "Save". They
work the same with or without script, and what a rep typed in other steps is kept."""

from django.http import QueryDict

from mailboxes.composer import library
from mailboxes.models import EmailTemplate
from sequences.constants import StepKind

from .forms import STEP_PREFIX

ACTION = "step_action"


def _rows(data: QueryDict) -> list[dict[str, str]]:
    """Each step's posted fields (without the prefix), in page order."""
    total = data.get(f"{STEP_PREFIX}-TOTAL_FORMS", "")
    total = int(total) if total.isdigit() else 0
    rows = [{} for _ in range(min(total, 200))]
    head = f"{STEP_PREFIX}-"
    for key, value in data.items():
        index, _sep, name = key.removeprefix(head).partition("-")
        if key.startswith(head) and index.isdigit() and int(index) < len(rows):
            rows[int(index)][name] = value
    return rows


def _with_rows(data: QueryDict, rows: list[dict[str, str]]) -> QueryDict:
    out = QueryDict(mutable=True)
    for key, value in data.items():
        if not key.startswith(f"{STEP_PREFIX}-") and key != ACTION:
            out[key] = value
    for index, row in enumerate(rows):
        for name, value in row.items():
            out[f"{STEP_PREFIX}-{index}-{name}"] = value
    out[f"{STEP_PREFIX}-TOTAL_FORMS"] = str(len(rows))
    out[f"{STEP_PREFIX}-INITIAL_FORMS"] = "0"
    return out


def _neighbour(rows, index: int, step: int) -> int | None:
    """The nearest step above (-1) or below (+1) that is not removed."""
    other = index + step
    while 0 <= other < len(rows):
        if not rows[other].get("DELETE"):
            return other
        other += step
    return None


def apply(user, data: QueryDict) -> QueryDict | None:
    """The posted data with the pressed edit button done, or None when "Save" was pressed."""
    action, _sep, arg = (data.get(ACTION) or "").partition(":")
    if not action:
        return None
    rows = _rows(data)
    if action == "add" and arg in StepKind.values:
        rows.append({"kind": arg, "delay_days": "1" if rows else "0"})
        return _with_rows(data, rows)
    index = int(arg) if arg.isdigit() and int(arg) < len(rows) else None
    if index is None:
        return _with_rows(data, rows)
    if action == "remove":
        if rows[index].get("id"):
            rows[index]["DELETE"] = "on"  # an existing step is deleted when the page is saved
        else:
            rows.pop(index)
    elif action in ("up", "down"):
        other = _neighbour(rows, index, -1 if action == "up" else 1)
        if other is not None:
            rows[index], rows[other] = rows[other], rows[index]
    elif action == "template":
        _use_template(user, rows[index])
    return _with_rows(data, rows)


def _use_template(user, row: dict[str, str]) -> None:
    """Copy the chosen template's subject and body into the step (one the user may use)."""
    pk = row.get("template", "")
    template = library.usable(EmailTemplate, user).filter(pk=pk).first() if pk.isdigit() else None
    if template is not None:
        row["subject"] = template.subject
        row["body"] = library.body_html(template)
