"""The index a tenant-bound principal's lists read: its tenant's entries in the list's order (ledger.models.optional_id_index)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0006_run_event_run_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="output",
            index=models.Index(
                condition=models.Q(("tenant_id__isnull", False)),
                fields=["tenant_id", "seq"],
                name="runs_output_tenant_seq",
            ),
        ),
        migrations.AddIndex(
            model_name="run",
            index=models.Index(
                condition=models.Q(("tenant_id__isnull", False)),
                fields=["tenant_id", "-created_at", "-seq"],
                name="runs_run_tenant_newest",
            ),
        ),
    ]
