from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("mailboxes", "0013_ledger"),
    ]

    operations = [
        migrations.CreateModel(
            name="LoggingRules",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("never_log", models.JSONField(blank=True, default=list, verbose_name="Never log")),
                (
                    "create_contacts",
                    models.BooleanField(
                        default=False, verbose_name="Create contacts for unknown senders"
                    ),
                ),
                ("contacts_since", models.DateTimeField(blank=True, null=True)),
                (
                    "log_mode",
                    models.CharField(
                        choices=[
                            ("all", "All mail with known contacts"),
                            ("replies", "Only replies to email sent from the CRM"),
                        ],
                        default="all",
                        max_length=10,
                        verbose_name="Which email to log",
                    ),
                ),
                (
                    "on_companies",
                    models.BooleanField(default=True, verbose_name="The contact's companies"),
                ),
                (
                    "on_open_deals",
                    models.BooleanField(default=True, verbose_name="The contact's open deals"),
                ),
                (
                    "on_open_tickets",
                    models.BooleanField(default=True, verbose_name="The contact's open tickets"),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "verbose_name_plural": "logging rules",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("pk", 1)), name="logging_rules_single"
                    )
                ],
            },
        ),
    ]
