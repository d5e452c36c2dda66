"""The extracted ids' indexes hold only the events that carry the id (ledger.models.optional_id_index)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("experience", "0004_rollups"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="experienceevent",
            name="experience_corr_seq",
        ),
        migrations.RemoveIndex(
            model_name="experienceevent",
            name="experience_chain_seq",
        ),
        migrations.RemoveIndex(
            model_name="experienceevent",
            name="experience_artifact_seq",
        ),
        migrations.RemoveIndex(
            model_name="experienceevent",
            name="experience_trace_seq",
        ),
        migrations.RemoveIndex(
            model_name="experienceevent",
            name="experience_proposal_seq",
        ),
        migrations.AddIndex(
            model_name="experienceevent",
            index=models.Index(
                condition=models.Q(("correlation_id__isnull", False)),
                fields=["correlation_id", "seq"],
                name="experience_corr_seq",
            ),
        ),
        migrations.AddIndex(
            model_name="experienceevent",
            index=models.Index(
                condition=models.Q(("chain_id__isnull", False)), fields=["chain_id", "seq"], name="experience_chain_seq"
            ),
        ),
        migrations.AddIndex(
            model_name="experienceevent",
            index=models.Index(
                condition=models.Q(("artifact_id__isnull", False)),
                fields=["artifact_id", "seq"],
                name="experience_artifact_seq",
            ),
        ),
        migrations.AddIndex(
            model_name="experienceevent",
            index=models.Index(
                condition=models.Q(("trace_link_id__isnull", False)),
                fields=["trace_link_id", "seq"],
                name="experience_trace_seq",
            ),
        ),
        migrations.AddIndex(
            model_name="experienceevent",
            index=models.Index(
                condition=models.Q(("proposal_id__isnull", False)),
                fields=["proposal_id", "seq"],
                name="experience_proposal_seq",
            ),
        ),
    ]
