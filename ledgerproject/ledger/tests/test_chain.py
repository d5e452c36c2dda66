"""Chain verification names the first bad seq and why; the command exits non-zero on a break."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from ledgerproject.ledger.chain import verify_chain, verify_links
from ledgerproject.ledger.models import ChainCheck
from ledgerproject.ledger.tests.conftest import triggers_lifted
from tests.ledger_testapp.models import Note

pytestmark = pytest.mark.django_db


def behind_the_triggers_back(sql, params=()):
    """Change the test ledger with raw SQL while its triggers are lifted."""
    with triggers_lifted(Note), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def five_notes(make_note):
    return [make_note(f"n{i}", count=i) for i in range(1, 6)]


def test_an_intact_chain_verifies(five_notes):
    result = verify_chain(Note)
    assert (result.ok, result.checked, result.first_bad_seq) == (True, 5, None)


def test_an_empty_ledger_verifies():
    assert verify_chain(Note).ok


def test_a_changed_column_is_named_by_seq(five_notes):
    behind_the_triggers_back("UPDATE ledger_testapp_note SET count = 99 WHERE seq = 3")
    result = verify_chain(Note)
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 3, 2)
    assert "content differs" in result.reason and "count" in result.reason


def test_a_changed_json_value_of_another_type_is_caught(make_note):
    make_note("j", body={"flag": True})
    body = '{"flag": 1}'
    behind_the_triggers_back("UPDATE ledger_testapp_note SET body = %s WHERE seq = 1", [body])
    assert verify_chain(Note).first_bad_seq == 1


def test_a_rewritten_hash_breaks_the_next_link(five_notes):
    behind_the_triggers_back("UPDATE ledger_testapp_note SET entry_hash = %s WHERE seq = 2", ["f" * 64])
    result = verify_chain(Note)
    assert result.first_bad_seq == 2
    assert "entry_hash" in result.reason


def test_a_rewritten_canonical_form_is_caught(five_notes):
    behind_the_triggers_back(
        "UPDATE ledger_testapp_note SET canonical = REPLACE(canonical, '\"count\":4', '\"count\":40') WHERE seq = 4"
    )
    assert verify_chain(Note).first_bad_seq == 4


def test_a_removed_entry_is_named_as_a_gap(five_notes):
    behind_the_triggers_back("DELETE FROM ledger_testapp_note WHERE seq = 2")
    result = verify_chain(Note)
    assert result.first_bad_seq == 2
    assert "missing" in result.reason


def test_the_command_reports_every_ledger_and_records_the_check(five_notes, capsys):
    call_command("verify_ledgers", "testnotes", "--no-progress")
    assert "testnotes: ok, 5 entries" in capsys.readouterr().out
    check = ChainCheck.objects.get(ledger="testnotes")
    assert check.ok and check.checked == 5


def test_the_command_fails_on_a_broken_chain(five_notes, capsys):
    behind_the_triggers_back("UPDATE ledger_testapp_note SET topic = 'forged' WHERE seq = 5")
    with pytest.raises(CommandError, match="broken chain in: testnotes"):
        call_command("verify_ledgers", "testnotes", "--no-progress")
    assert "BROKEN at seq 5" in capsys.readouterr().out
    assert ChainCheck.objects.get(ledger="testnotes").first_bad_seq == 5


def test_the_command_refuses_an_unknown_ledger():
    with pytest.raises(CommandError, match="no ledger called 'nope'"):
        call_command("verify_ledgers", "nope", "--no-progress")


def test_the_fast_walk_passes_an_intact_chain(five_notes):
    assert verify_links(Note).as_dict() == {
        "ledger": "testnotes",
        "ok": True,
        "checked": 5,
        "first_bad_seq": None,
        "reason": "",
        "checkpoints_checked": 0,
        "bad_checkpoint": None,
    }


def test_the_fast_walk_catches_rewritten_hashed_bytes_and_gaps(five_notes):
    behind_the_triggers_back(
        "UPDATE ledger_testapp_note SET canonical = REPLACE(canonical, '\"count\":4', '\"count\":40') WHERE seq = 4"
    )
    result = verify_links(Note)
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 4, 3)
    behind_the_triggers_back("DELETE FROM ledger_testapp_note WHERE seq = 2")
    assert verify_links(Note).first_bad_seq == 2


def test_the_fast_walk_does_not_compare_columns_but_the_full_walk_does(five_notes):
    behind_the_triggers_back("UPDATE ledger_testapp_note SET count = 99 WHERE seq = 3")
    assert verify_links(Note).ok
    assert verify_chain(Note).first_bad_seq == 3


def test_the_command_can_run_the_fast_walk(five_notes, capsys):
    call_command("verify_ledgers", "testnotes", "--no-progress", "--links-only")
    assert "testnotes: ok, 5 entries" in capsys.readouterr().out
