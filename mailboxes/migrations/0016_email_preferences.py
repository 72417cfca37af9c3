# Each user's email preferences; the default From moves there from Mailbox.is_default_from,
# which could not name an alias.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def default_from_to_preferences(apps, schema_editor):
    Mailbox = apps.get_model("mailboxes", "Mailbox")
    EmailPreferences = apps.get_model("mailboxes", "EmailPreferences")
    EmailPreferences.objects.bulk_create(
        [
            EmailPreferences(user_id=box.owner_id, from_mailbox=box, from_address=box.email)
            for box in Mailbox.objects.filter(is_default_from=True, owner__isnull=False)
        ]
    )


def default_from_to_flags(apps, schema_editor):
    Mailbox = apps.get_model("mailboxes", "Mailbox")
    EmailPreferences = apps.get_model("mailboxes", "EmailPreferences")
    chosen = EmailPreferences.objects.filter(from_mailbox__isnull=False)
    Mailbox.objects.filter(pk__in=chosen.values("from_mailbox")).update(is_default_from=True)


class Migration(migrations.Migration):
    dependencies = [
        ("mailboxes", "0015_sending_defaults"),
        ("records", "0006_account_settings"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="EmailPreferences",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="email_preferences",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "from_mailbox",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="mailboxes.mailbox",
                    ),
                ),
                ("from_address", models.EmailField(blank=True, max_length=254)),
                (
                    "font_family",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("", "The recipient's default"),
                            ("arial", "Arial"),
                            ("helvetica", "Helvetica"),
                            ("verdana", "Verdana"),
                            ("tahoma", "Tahoma"),
                            ("trebuchet", "Trebuchet MS"),
                            ("georgia", "Georgia"),
                            ("times", "Times New Roman"),
                            ("courier", "Courier New"),
                        ],
                        default="",
                        max_length=20,
                    ),
                ),
                (
                    "font_size",
                    models.PositiveSmallIntegerField(
                        blank=True,
                        choices=[
                            (10, "10 px"),
                            (11, "11 px"),
                            (12, "12 px"),
                            (13, "13 px"),
                            (14, "14 px"),
                            (16, "16 px"),
                            (18, "18 px"),
                        ],
                        null=True,
                    ),
                ),
                ("log_by_default", models.BooleanField(default=True)),
                ("track_by_default", models.BooleanField(default=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={"verbose_name_plural": "email preferences"},
        ),
        migrations.RunPython(default_from_to_preferences, default_from_to_flags),
        migrations.RemoveConstraint(model_name="mailbox", name="one_default_from"),
        migrations.RemoveField(model_name="mailbox", name="is_default_from"),
    ]
