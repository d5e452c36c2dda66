"""Fill the rollups (ledger.Rollup) of this app's ledgers from the entries stored before they existed."""

from django.db import migrations

from ledgerproject.ledger.rollups import backfill


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0006_rollups"),
        ("releases", "0005_spec_digest_either_case"),
    ]

    operations = [backfill("releases.Release")]
