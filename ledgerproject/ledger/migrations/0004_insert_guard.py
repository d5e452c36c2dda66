"""Refresh the append-only triggers so that the SQLite insert guard (REPLACE, a reused seq or unique key refused) is in the database."""

from django.db import migrations

from ledgerproject.ledger.triggers import InstallLedgerTriggers


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0003_cache_table"),
    ]

    operations = [
        InstallLedgerTriggers("checkpoint"),
    ]
