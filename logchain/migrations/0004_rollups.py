"""Fill the rollups (ledger.Rollup) of this app's ledgers from the entries stored before they existed."""

from django.db import migrations

from ledgerproject.ledger.rollups import backfill


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0006_rollups"),
        ("logchain", "0003_tenancy"),
    ]

    operations = [backfill("logchain.LogRecord")]
