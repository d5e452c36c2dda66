"""The index a tenant-bound principal's lists read: its tenant's entries in the list's order (ledger.models.optional_id_index)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("logchain", "0004_rollups"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="logrecord",
            index=models.Index(
                condition=models.Q(("tenant_id__isnull", False)),
                fields=["tenant_id", "seq"],
                name="logchain_tenant_seq",
            ),
        ),
    ]
