"""What the enrollment pages show and read for each contact (its panel): its emails and task
titles as edited for it, the tokens still without a value (filled for this contact, or for
every contact with "Update all"), its blockers and its forecast.

The values typed for a token go into this contact's copy of the emails only (the enrollment's
overrides), never into the contact record.
"""

from dataclasses import dataclass, field

from django.utils.safestring import SafeString

from mailboxes.composer import tokens
from mailboxes.composer.forms import RichTextarea
from records.models import Contact

from ..models import Step
from .forecast import StepTime
from .services import Blocker, Plan, fill_token, token_problems

ALL = "all"


def token_field(prefix: str, key: str) -> str:
    return f"{prefix}-token-{key}"


def fills(data, prefix: str) -> dict[str, str]:
    """The token values typed under `prefix` ({"contact.first_name": "Sam"})."""
    start = token_field(prefix, "")
    return {
        name[len(start) :]: value.strip()
        for name, value in (data or {}).items()
        if name.startswith(start) and value.strip()
    }


@dataclass
class EmailEdit:
    step: Step
    subject_name: str
    subject: str
    body_name: str
    body: SafeString  # the rich-text editor over this contact's body


@dataclass
class TaskEdit:
    step: Step
    name: str
    title: str


@dataclass
class Panel:
    contact: Contact
    edits: list[EmailEdit | TaskEdit] = field(default_factory=list)  # by position
    overrides: dict[str, dict] = field(default_factory=dict)
    missing: list[tuple[str, str, str]] = field(default_factory=list)  # key, label, field name
    blockers: list[Blocker] = field(default_factory=list)
    times: list[StepTime] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"c{self.contact.pk}"

    @property
    def blocked(self) -> bool:
        return bool(self.blockers)


def read_panel(data, contact: Contact, steps: list[Step], start: int, shared: dict) -> Panel:
    """The contact's panel from what was posted (`data`, None on the first view): the edits
    that differ from the steps are its overrides; typed token values are written in."""
    panel = Panel(contact)
    own = {**shared, **fills(data, panel.prefix)}
    for step in steps:
        if step.position < start:
            continue
        changed = {}
        if step.is_email:
            names = {n: f"{panel.prefix}-{n}_{step.position}" for n in ("subject", "body")}
            subject = (data or {}).get(names["subject"], step.subject)
            body = (data or {}).get(names["body"], step.body)
            for key, value in own.items():
                subject = fill_token(subject, key, value, html=False)
                body = fill_token(body, key, value, html=True)
            changed = {
                n: v for n, v in (("subject", subject), ("body", body)) if v != getattr(step, n)
            }
            editor = RichTextarea(token_menu=True).render(
                names["body"], body, attrs={"id": f"id_{names['body']}"}
            )
            panel.edits.append(EmailEdit(step, names["subject"], subject, names["body"], editor))
        else:
            name = f"{panel.prefix}-task_title_{step.position}"
            title = ((data or {}).get(name) or step.task_title).strip()
            if title != step.task_title:
                changed["task_title"] = title
            panel.edits.append(TaskEdit(step, name, title))
        if changed:
            panel.overrides[str(step.position)] = changed
    return panel


def with_delays(overrides: dict[str, dict], delays: dict[int, int]) -> dict[str, dict]:
    merged = {k: dict(v) for k, v in overrides.items()}
    for position, days in delays.items():
        merged.setdefault(str(position), {})["delay_days"] = days
    return merged


def mark_missing(panel: Panel, plan: Plan, steps: list[Step], context: tokens.Context) -> None:
    keys = token_problems(plan, steps, context)["missing"]
    panel.missing = [(k, tokens.label(k), token_field(panel.prefix, k)) for k in keys]
