from django.db import migrations

# Copied rather than imported from privacy.models: a migration must not change when the
# model module does.
BUILTINS = [
    (
        "one_to_one",
        "One to one",
        "Email your sales and service reps write to you personally, and their sequences.",
    ),
    (
        "transactional",
        "Transactional",
        "Receipts, invoices, password resets and other email about something you asked for. "
        "It cannot be subscribed to or opted out of.",
    ),
]


def create_builtins(apps, schema_editor):
    SubscriptionType = apps.get_model("privacy", "SubscriptionType")
    for kind, name, description in BUILTINS:
        SubscriptionType.objects.get_or_create(
            kind=kind,
            defaults={"name": name, "description": description, "is_builtin": True},
        )


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_initial")]

    operations = [migrations.RunPython(create_builtins, migrations.RunPython.noop)]
