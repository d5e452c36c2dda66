"""The rejections per blueprint and month (rollup dimension rejected_blueprint_month), summed from the per-day rows."""

from django.db import migrations

from ledgerproject.ledger.rollups import sum_days

SUM_MONTHS = sum_days("enhancelog", "rejected_blueprint", "rejected_blueprint_month", per_month=True)


class Migration(migrations.Migration):
    dependencies = [
        ("enhancelog", "0006_rejected_blueprint_totals"),
    ]

    operations = [SUM_MONTHS]
