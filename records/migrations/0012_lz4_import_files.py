"""lz4 for imported files (records/compression.py)."""

from django.db import migrations

from records.compression import lz4_operation

COLUMNS = {"records_importfile": ["data"]}


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0011_field_verbose_names"),
    ]

    operations = [lz4_operation(COLUMNS)]
