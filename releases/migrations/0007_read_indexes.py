"""Indexes for the release reads that planned a Seq Scan: recent rollbacks (home) and ?promoted_by=."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("releases", "0006_rollups"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="release",
            index=models.Index(fields=["action", "recorded_at"], name="releases_action_recorded"),
        ),
        migrations.AddIndex(
            model_name="release",
            index=models.Index(fields=["promoted_by"], name="releases_promoted_by"),
        ),
    ]
