"""Fill the rollups (ledger.Rollup) of this app's ledgers from the entries stored before they existed."""

from django.db import migrations

from ledgerproject.ledger.rollups import backfill


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0006_rollups"),
        ("runs", "0004_search_indexes"),
    ]

    operations = [
        backfill("runs.Run", "runs.RunEvent", "runs.RunOutcome", "runs.Output", "runs.Blob", "runs.BlobChange")
    ]
