"""Creates the database cache's table (shared throttle counters) wherever migrate runs."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    # createcachetable reads settings.CACHES: it makes the table of every database cache and skips the
    # ones that exist, so this is a no-op under REDIS_URL and safe to repeat (`manage.py createcachetable`).
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_checkpoints_merkle")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop, elidable=False)]
