"""The test-database reset is the one path that empties ledgers; system checks guard the triggers."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from ledgerproject.ledger import checks
from ledgerproject.ledger.reset import append_only_models
from ledgerproject.ledger.tests.conftest import triggers_lifted
from ledgerproject.ledger.triggers import installed_triggers, trigger_names
from tests.ledger_testapp.models import Note


@pytest.mark.django_db
def test_flush_is_refused_outside_a_test_database(settings, make_note):
    make_note("kept")
    settings.LEDGER_ALLOW_TEST_RESET = False
    with pytest.raises(CommandError, match="append-only"):
        call_command("flush", interactive=False, verbosity=0)
    assert Note.objects.filter(key="kept").exists()


@pytest.mark.django_db(transaction=True)
def test_the_test_reset_empties_ledgers_and_puts_the_triggers_back(make_note):
    make_note("gone")
    call_command("flush", interactive=False, verbosity=0)
    assert not Note.objects.exists()
    table = Note._meta.db_table
    assert installed_triggers(connection, table) == set(trigger_names(table)[connection.vendor])


@pytest.mark.django_db
def test_the_database_check_reports_a_ledger_table_without_triggers():
    with triggers_lifted(Note):
        errors = checks.check_ledger_triggers_installed(databases=["default"])
        assert [e.id for e in errors if e.obj is Note] == ["ledger.E004"]
    assert not [e for e in checks.check_ledger_triggers_installed(databases=["default"]) if e.obj is Note]


def test_the_static_check_reports_a_ledger_whose_migrations_lack_the_triggers(monkeypatch):
    assert not [e for e in checks.check_ledger_models() if e.obj is Note]
    monkeypatch.setattr(checks, "_migrated_trigger_models", lambda: {})
    errors = [e for e in checks.check_ledger_models() if e.obj is Note]
    assert [e.id for e in errors] == ["ledger.E003"]
    assert "InstallLedgerTriggers('note')" in errors[0].hint


def test_the_static_check_reports_a_unique_key_changed_after_the_triggers_were_installed(monkeypatch):
    from django.db import migrations, models

    from ledgerproject.ledger.triggers import InstallLedgerTriggers

    def migration(name, *operations):
        made = migrations.Migration(name, "ledger_testapp")
        made.operations = list(operations)
        return made

    created = migration("0001", InstallLedgerTriggers("note"))
    changed = migration(
        "0002", migrations.AddConstraint("note", models.UniqueConstraint(fields=["topic"], name="one_per_topic"))
    )
    refreshed = migration("0003", InstallLedgerTriggers("note"))
    assert checks._migrated_trigger_models([created]) == {("ledger_testapp", "note"): True}
    assert checks._migrated_trigger_models([created, changed]) == {("ledger_testapp", "note"): False}
    assert checks._migrated_trigger_models([created, changed, refreshed]) == {("ledger_testapp", "note"): True}

    monkeypatch.setattr(checks, "_migrated_trigger_models", lambda: {("ledger_testapp", "note"): False})
    errors = [e for e in checks.check_ledger_models() if e.obj is Note]
    assert [e.id for e in errors] == ["ledger.E003"]
    assert "insert guard" in errors[0].msg


def test_every_append_only_table_is_guarded_after_its_last_migration():
    migrated = checks._migrated_trigger_models()
    for model in append_only_models():
        assert migrated.get((model._meta.app_label, model._meta.model_name)) is True, model


@pytest.mark.django_db
@pytest.mark.parametrize("model", append_only_models(), ids=lambda m: m._meta.label)
def test_the_database_check_reports_a_sqlite_table_without_its_insert_guard(model):
    if connection.vendor != "sqlite":
        pytest.skip("the insert guard is SQLite's")
    guard = trigger_names(model._meta.db_table)["sqlite"][2]
    assert not [e for e in checks.check_ledger_triggers_installed(databases=["default"]) if e.obj is model]
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TRIGGER "{guard}"')
    errors = [e for e in checks.check_ledger_triggers_installed(databases=["default"]) if e.obj is model]
    assert [e.id for e in errors] == ["ledger.E004"]
    assert guard in errors[0].msg


@pytest.mark.django_db
def test_the_database_check_reports_an_out_of_date_insert_guard():
    if connection.vendor != "sqlite":
        pytest.skip("the insert guard is SQLite's")
    table = Note._meta.db_table
    guard = trigger_names(table)["sqlite"][2]
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TRIGGER "{guard}"')
        # A guard built for other keys: say, before `key` was unique.
        cursor.execute(f'CREATE TRIGGER "{guard}" BEFORE INSERT ON "{table}" BEGIN SELECT 1; END')
    errors = [e for e in checks.check_ledger_triggers_installed(databases=["default"]) if e.obj is Note]
    assert [e.id for e in errors] == ["ledger.E004"]
    assert "out of date" in errors[0].msg


def test_the_static_check_covers_the_checkpoint_table_too(monkeypatch):
    from ledgerproject.ledger.checkpoints import Checkpoint

    assert not [e for e in checks.check_ledger_models() if e.obj is Checkpoint]
    monkeypatch.setattr(checks, "_migrated_trigger_models", lambda: {("ledger", "checkpoint"): False})
    errors = [e for e in checks.check_ledger_models() if e.obj is Checkpoint]
    assert [e.id for e in errors] == ["ledger.E003"]
