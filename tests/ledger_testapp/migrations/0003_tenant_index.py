"""The index a tenant-bound principal's note lists read: its tenant's notes in append order."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ledger_testapp", "0002_insert_guard"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="note",
            index=models.Index(fields=["tenant_id", "seq"], name="testapp_note_tenant_seq"),
        ),
    ]
