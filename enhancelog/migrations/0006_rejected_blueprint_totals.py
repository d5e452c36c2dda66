"""The all-time rejections per blueprint (rollup dimension rejected_blueprint_all), summed from the per-day rows."""

from django.db import migrations
from django.db.models import Sum

from ledgerproject.ledger.locking import lock_ledger
from ledgerproject.ledger.rollups import ALL_TIME

LEDGER, DAILY, TOTALS = "enhancelog", "rejected_blueprint", "rejected_blueprint_all"


def forwards(apps, schema_editor):
    # Derived from the per-day rollups (one row per blueprint, day and tenant), not from the entries:
    # a grouped read of the rollup table, however large the ledger. Under the ledger's lock, so no
    # append adds to the daily rows between the read and the insert.
    Rollup = apps.get_model("ledger", "Rollup")
    db = schema_editor.connection.alias
    lock_ledger(schema_editor.connection, LEDGER)
    rows = Rollup.objects.using(db).filter(ledger=LEDGER, dimension=DAILY)
    sums = rows.order_by().values("tenant", "key").annotate(total=Sum("n")).filter(total__gt=0)
    Rollup.objects.using(db).bulk_create(
        (
            Rollup(ledger=LEDGER, dimension=TOTALS, day=ALL_TIME, tenant=row["tenant"], key=row["key"], n=row["total"])
            for row in sums.iterator(chunk_size=2000)
        ),
        batch_size=1000,
    )


def backwards(apps, schema_editor):
    apps.get_model("ledger", "Rollup").objects.using(schema_editor.connection.alias).filter(
        ledger=LEDGER, dimension=TOTALS
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0006_rollups"),
        ("enhancelog", "0005_rollups"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
