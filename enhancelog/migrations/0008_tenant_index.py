"""The index a tenant-bound principal's lists read: its tenant's entries in the list's order (ledger.models.optional_id_index)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("enhancelog", "0007_rejected_blueprint_months"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="enhanceentry",
            index=models.Index(
                condition=models.Q(("tenant_id__isnull", False)),
                fields=["tenant_id", "ts_ms", "seq"],
                name="enhancelog_tenant_ts",
            ),
        ),
    ]
