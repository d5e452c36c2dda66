"""The all-time entries per release name (rollup dimension name_all), summed from the per-day rows."""

from django.db import migrations

from ledgerproject.ledger.rollups import sum_days

SUM_DAYS = sum_days("releases", "name", "name_all")


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0006_rollups"),
        ("releases", "0007_read_indexes"),
    ]

    operations = [SUM_DAYS]
