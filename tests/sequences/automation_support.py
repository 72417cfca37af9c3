"""What the automation tests share: a contact edited through its record page, as a rep does."""

from django.urls import reverse

from sequences.automation.models import Action, AutomationRule


def edit_contact(client, contact, **changes):
    """POST the contact's edit form with its current values and `changes`."""
    data = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "phone": contact.phone,
        "job_title": contact.job_title,
        "lifecycle_stage": contact.lifecycle_stage,
        "owner": contact.owner_id or "",
        "primary_email": contact.email,
        "other_emails": "\n".join(
            e.address for e in contact.emails.all() if e.address != contact.email
        ),
    }
    data.update(changes)
    return client.post(reverse("records:edit", args=["contacts", contact.pk]), data)


def rule(sequence, owner, action=Action.ENROLL, prop="lifecycle_stage", value="customer", **kw):
    return AutomationRule.objects.create(
        sequence=sequence,
        owner=owner,
        created_by=owner,
        action=action,
        property=prop,
        value=value,
        **kw,
    )
