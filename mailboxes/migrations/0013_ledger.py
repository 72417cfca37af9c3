import django.db.models.functions.comparison
from django.conf import settings
from django.db import migrations, models


def name_forwards_alike(apps, schema_editor):
    """Forwards were titled "Email - <subject>"; they are "Email forwarded" now, like the rest
    of the timeline's titles (the subject shows under it anyway)."""
    Activity = apps.get_model("records", "Activity")
    Activity.objects.filter(kind="email", title__startswith="Email - ").update(
        title="Email forwarded"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("mailboxes", "0012_draft_attachments"),
        ("records", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The ledger: a rep's emails, newest first.
        migrations.AddIndex(
            model_name="outbound",
            index=models.Index(
                models.F("sender"),
                models.OrderBy(
                    django.db.models.functions.comparison.Coalesce(
                        "sent_at", "scheduled_at", "created_at"
                    ),
                    descending=True,
                ),
                name="outbound_ledger",
            ),
        ),
        migrations.RunPython(name_forwards_alike, migrations.RunPython.noop),
    ]
