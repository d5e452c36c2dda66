"""Fill the rollups (ledger.Rollup) of this app's ledgers from the entries stored before they existed."""

from django.db import migrations

from ledgerproject.ledger.rollups import backfill


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0006_rollups"),
        ("enhancelog", "0004_review_queue_proxy"),
    ]

    operations = [backfill("enhancelog.EnhanceEntry", "enhancelog.Review")]
