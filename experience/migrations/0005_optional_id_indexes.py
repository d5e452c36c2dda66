"""The extracted ids' indexes hold only the events that carry the id (ledger.models.optional_id_index)."""

from django.db import migrations, models

# (column, index name): each index is rebuilt with a WHERE column IS NOT NULL condition, under its own name.
OPTIONAL_IDS = (
    ("correlation_id", "experience_corr_seq"),
    ("chain_id", "experience_chain_seq"),
    ("artifact_id", "experience_artifact_seq"),
    ("trace_link_id", "experience_trace_seq"),
    ("proposal_id", "experience_proposal_seq"),
)


class Migration(migrations.Migration):
    dependencies = [
        ("experience", "0004_rollups"),
    ]

    operations = [
        *(migrations.RemoveIndex(model_name="experienceevent", name=name) for _, name in OPTIONAL_IDS),
        *(
            migrations.AddIndex(
                model_name="experienceevent",
                index=models.Index(condition=models.Q((f"{column}__isnull", False)), fields=[column, "seq"], name=name),
            )
            for column, name in OPTIONAL_IDS
        ),
    ]
