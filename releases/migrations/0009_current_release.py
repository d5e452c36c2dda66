"""Each (tenant, name)'s current release as derived state (CurrentRelease, kept on append), filled from
the entries by one INSERT … SELECT of each (tenant, name)'s newest entry under the ledger's lock."""

import django.db.models.deletion
from django.db import migrations, models

from ledgerproject.ledger.latest import backfill

BACKFILL = backfill("releases.CurrentRelease")


class Migration(migrations.Migration):
    dependencies = [
        ("releases", "0008_name_totals"),
    ]

    operations = [
        migrations.CreateModel(
            name="CurrentRelease",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("tenant", models.CharField(blank=True, max_length=256)),
                ("name", models.CharField(max_length=256)),
                ("promoted_by", models.CharField(max_length=150)),
                ("spec_digest", models.CharField(max_length=64)),
                ("action", models.CharField(choices=[("promote", "promote"), ("rollback", "rollback")], max_length=8)),
                (
                    "entry",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT, related_name="current_row", to="releases.release"
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["promoted_by", "name"], name="releases_current_promoted_by"),
                    models.Index(fields=["spec_digest", "name"], name="releases_current_spec"),
                    models.Index(fields=["action", "name"], name="releases_current_action"),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("name", "tenant"), name="releases_current_name_tenant")
                ],
            },
        ),
        BACKFILL,
    ]
