"""Templates and snippets: the boolean `shared` becomes a sharing scope (private, team,
everyone). Shared ones were usable by every user, so they become "everyone"."""

from django.db import migrations, models


def sharing_field():
    return models.CharField(
        choices=[("private", "Only me"), ("team", "My team"), ("everyone", "Everyone")],
        default="private",
        max_length=10,
        verbose_name="shared with",
    )


def shared_to_sharing(apps, schema_editor):
    for name in ("EmailTemplate", "Snippet"):
        model = apps.get_model("mailboxes", name)
        model.objects.filter(shared=True).update(sharing="everyone")
        model.objects.filter(shared=False).update(sharing="private")


def sharing_to_shared(apps, schema_editor):
    for name in ("EmailTemplate", "Snippet"):
        model = apps.get_model("mailboxes", name)
        # Back to the old meaning: only "everyone" was shared with everyone.
        model.objects.filter(sharing="everyone").update(shared=True)
        model.objects.exclude(sharing="everyone").update(shared=False)


class Migration(migrations.Migration):
    dependencies = [
        ("mailboxes", "0007_merge_contacts_sharing_an_address"),
    ]

    operations = [
        migrations.AddField(
            model_name="emailtemplate",
            name="sharing",
            field=sharing_field(),
        ),
        migrations.AddField(
            model_name="snippet",
            name="sharing",
            field=sharing_field(),
        ),
        migrations.RunPython(shared_to_sharing, sharing_to_shared),
        migrations.RemoveField(model_name="emailtemplate", name="shared"),
        migrations.RemoveField(model_name="snippet", name="shared"),
        migrations.AlterField(
            model_name="snippet",
            name="body",
            field=models.TextField(help_text="HTML; sanitized when saved."),
        ),
    ]
