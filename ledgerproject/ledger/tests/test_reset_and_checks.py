"""The test-database reset is the one path that empties ledgers; system checks guard the triggers."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from ledgerproject.ledger import checks
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
    monkeypatch.setattr(checks, "_migrated_trigger_models", lambda: set())
    errors = [e for e in checks.check_ledger_models() if e.obj is Note]
    assert [e.id for e in errors] == ["ledger.E003"]
    assert "InstallLedgerTriggers('note')" in errors[0].hint
