# The run events' run column loses its own index: the unique (run, event_seq) index leads with the run.

import django.db.models.deletion
from django.db import migrations, models

from ledgerproject.ledger.triggers import InstallLedgerTriggers


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0005_rollups"),
    ]

    operations = [
        migrations.AlterField(
            model_name="runevent",
            name="run",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="events",
                to="runs.run",
                to_field="run_id",
            ),
        ),
        # SQLite rebuilds the table for AlterField, and its append-only triggers with it.
        InstallLedgerTriggers("runevent"),
    ]
