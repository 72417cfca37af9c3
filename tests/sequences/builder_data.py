"""What the builder page posts: the sequence's fields and its steps in page order."""

from sequences.constants import StepKind

SETTINGS = {
    "name": "Trade fair follow-up",
    "business_days_only": "on",
    "window_start": "09:00",
    "window_end": "17:00",
    "unenroll_on_reply": "on",
}


def email(subject="Hello {{ contact.first_name }}", body="<p>Nice to meet you.</p>", **more):
    return {"kind": StepKind.AUTO_EMAIL, "subject": subject, "body": body, **more}


def task(kind=StepKind.TASK, title="Look them up", **more):
    return {"kind": kind, "task_title": title, **more}


def posted(*steps, **settings) -> dict:
    data = {**SETTINGS, **settings, "steps-TOTAL_FORMS": len(steps), "steps-INITIAL_FORMS": 0}
    for index, step in enumerate(steps):
        step = {"delay_days": 2 if index else 0, **step}
        for name, value in step.items():
            data[f"steps-{index}-{name}"] = value
    return data
