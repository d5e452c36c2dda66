"""The all-time rejections per blueprint (rollup dimension rejected_blueprint_all), summed from the per-day rows."""

from django.db import migrations

from ledgerproject.ledger.rollups import sum_days

SUM_DAYS = sum_days("enhancelog", "rejected_blueprint", "rejected_blueprint_all")


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0006_rollups"),
        ("enhancelog", "0005_rollups"),
    ]

    operations = [SUM_DAYS]
