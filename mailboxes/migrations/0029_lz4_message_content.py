"""lz4 for what holds mail: raw MIME, bodies, attachments (records/compression.py)."""

from django.db import migrations

from records.compression import lz4_operation

COLUMNS = {
    "mailboxes_emailmessage": ["raw", "html_body", "text_body"],
    "mailboxes_outboundattachment": ["data"],
    "mailboxes_draftattachment": ["data"],
}


class Migration(migrations.Migration):
    dependencies = [
        ("mailboxes", "0028_reports"),
    ]

    operations = [lz4_operation(COLUMNS)]
