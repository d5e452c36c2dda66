"""Verification compares the entries with the signed checkpoints: a rewrite whose chain re-walks clean is caught.

Someone with the table owner's rights rewrites an entry (and every later one) with recomputed hashes:
the hash chain re-walks clean, the stored Merkle tree still holds the old leaves, but the root of
the entries no longer is the root that was signed. `verify_ledgers`, the verify API and the export
(API and `export_ledger`) must all say so, naming the checkpoint and the first changed seq.
"""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from ledgerproject.ledger import hashing
from ledgerproject.ledger.chain import verify_chain, verify_ledger
from ledgerproject.ledger.checkpoints import Checkpoint, verify_against_checkpoints
from ledgerproject.ledger.models import ChainCheck
from ledgerproject.ledger.tests.conftest import triggers_lifted
from ledgerproject.ledger.tests.test_checkpoint_support import (
    append_notes,
    checkpoint_now,
    note_model,
    signing_key,  # noqa: F401  (fixture)
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("signing_key")]


def rewrite_from(model, seq, **changes):
    """Rewrite entry `seq` with `changes` and re-hash it and every later entry, so the chain re-walks clean."""
    table = connection.ops.quote_name(model._meta.db_table)
    prev = model._base_manager.filter(seq=seq - 1).values_list("entry_hash", flat=True).first()
    prev = prev or hashing.GENESIS_HASH
    with triggers_lifted(model), connection.cursor() as cursor:
        for entry in model._base_manager.filter(seq__gte=seq).order_by("seq"):
            if entry.seq == seq:
                for name, value in changes.items():
                    setattr(entry, name, value)
            content = hashing.canonical_json(entry.ledger_content())
            canonical = hashing.entry_canonical(
                model.ledger_name, entry.seq, entry.recorded_at, entry.recorded_by_name, content
            )
            this = hashing.entry_hash(prev, canonical)
            columns = {
                f.column: f.get_db_prep_save(getattr(entry, f.attname), connection) for f in model.content_fields()
            }
            columns.update({"prev_entry_hash": prev, "entry_hash": this, "canonical": canonical})
            assignments = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in columns)
            cursor.execute(f"UPDATE {table} SET {assignments} WHERE seq = %s", [*columns.values(), entry.seq])
            prev = this


@pytest.fixture
def signed_then_rewritten():
    """Notes 1–6, checkpoints at 4 and 6, then note 5 rewritten (5 and 6 re-hashed)."""
    Note = note_model()
    append_notes(4)
    checkpoint_now(Note)
    append_notes(2, start=4)
    checkpoint_now(Note)
    rewrite_from(Note, 5, body={"n": 500})
    assert verify_chain(Note).ok, "the rewritten chain must re-walk clean for this test to mean anything"
    return Note


def test_an_intact_ledger_matches_every_signed_checkpoint():
    Note = note_model()
    append_notes(3)
    checkpoint_now(Note)
    append_notes(3, start=3)
    checkpoint_now(Note)
    append_notes(2, start=6)  # beyond the latest checkpoint: not yet signed, not a failure
    result = verify_ledger(Note)
    assert result.ok and result.checked == 8 and result.checkpoints_checked == 2


def test_the_kernel_names_the_checkpoint_and_the_first_rewritten_seq(signed_then_rewritten):
    check = verify_against_checkpoints(signed_then_rewritten)
    assert not check.ok
    assert check.bad_checkpoint == 6 and check.first_bad_seq == 5
    assert "checkpoint @6" in check.reason
    assert check.checked == 1  # the checkpoint at 4 still matches


def test_a_rewritten_head_entry_is_caught(signed_then_rewritten):
    Note = signed_then_rewritten
    rewrite_from(Note, 6, body={"n": 600})
    result = verify_ledger(Note)
    assert not result.ok and result.bad_checkpoint == 6


def test_a_rewrite_below_an_earlier_checkpoint_names_that_checkpoint():
    Note = note_model()
    append_notes(4)
    checkpoint_now(Note)
    append_notes(2, start=4)
    checkpoint_now(Note)
    rewrite_from(Note, 2, topic="forged")
    result = verify_ledger(Note)
    assert not result.ok
    assert (result.bad_checkpoint, result.first_bad_seq) == (4, 2)


@pytest.mark.parametrize("rewritten", [18, 33, 40])
def test_the_first_rewritten_seq_is_found_in_the_stored_leaves_of_any_tile(rewritten):
    Note = note_model()
    append_notes(10)
    checkpoint_now(Note)  # leaves stored in several runs: 10, then 30
    append_notes(30, start=10)
    checkpoint_now(Note)
    rewrite_from(Note, rewritten, topic="forged")
    check = verify_against_checkpoints(Note)
    assert not check.ok and (check.bad_checkpoint, check.first_bad_seq) == (40, rewritten)


def test_removed_entries_below_a_checkpoint_are_caught():
    Note = note_model()
    append_notes(5)
    checkpoint_now(Note)
    with triggers_lifted(Note), connection.cursor() as cursor:
        cursor.execute("DELETE FROM ledger_testapp_note WHERE seq = 5")
    assert verify_chain(Note).ok
    result = verify_ledger(Note)
    assert not result.ok and result.bad_checkpoint == 5 and "removed" in result.reason


def test_a_forged_checkpoint_signature_is_caught():
    Note = note_model()
    append_notes(3)
    checkpoint = checkpoint_now(Note)
    with triggers_lifted(Checkpoint), connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_checkpoint SET signature = %s WHERE id = %s", ["A" * 86 + "==", checkpoint.pk])
    result = verify_ledger(Note)
    assert not result.ok and "signature" in result.reason


def test_verify_ledgers_reports_the_rewrite(signed_then_rewritten, capsys):
    with pytest.raises(CommandError, match="broken chain in: testnotes"):
        call_command("verify_ledgers", "testnotes", "--no-progress")
    out = capsys.readouterr().out
    assert "BROKEN at seq 5 (checkpoint @6)" in out
    check = ChainCheck.objects.get(ledger="testnotes")
    assert not check.ok and check.first_bad_seq == 5 and "checkpoint @6" in check.reason


def test_verify_ledgers_links_only_also_compares_the_checkpoints(signed_then_rewritten, capsys):
    with pytest.raises(CommandError):
        call_command("verify_ledgers", "testnotes", "--no-progress", "--links-only")
    assert "checkpoint @6" in capsys.readouterr().out


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_verify_api_reports_the_rewrite(signed_then_rewritten, auditor_api, method):
    body = getattr(auditor_api, method)("/api/v1/ledgers/testnotes/verify/").json()
    assert body["ok"] is False
    assert body["bad_checkpoint"] == 6 and body["first_bad_seq"] == 5
    assert "checkpoint @6" in body["reason"]


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_export_api_refuses_to_export_the_rewrite(signed_then_rewritten, auditor_api, method):
    response = getattr(auditor_api, method)("/api/v1/ledgers/testnotes/export/")
    assert response.status_code == 409
    body = response.json()
    assert "checkpoint @6" in body["detail"] and body["first_bad_seq"] == 5


def test_the_export_command_refuses_to_export_the_rewrite(signed_then_rewritten, tmp_path):
    target = tmp_path / "notes.jsonl"
    with pytest.raises(CommandError, match="checkpoint @6"):
        call_command("export_ledger", "testnotes", "-o", str(target), "--no-progress")
    assert not target.exists() or "consistent" not in target.read_text()


def test_the_home_page_check_reports_the_rewrite(signed_then_rewritten, client, dave):
    client.force_login(dave)
    response = client.post("/ledgers/testnotes/verify/", follow=True)
    assert "BROKEN at seq 5" in response.content.decode()
    assert "checkpoint @6" in response.content.decode()


def test_an_intact_export_says_when_the_ledger_grew_past_its_checkpoint(auditor_api):
    Note = note_model()
    append_notes(3)
    checkpoint_now(Note)
    append_notes(2, start=3)
    response = auditor_api.get("/api/v1/ledgers/testnotes/export/")
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    manifest = json.loads(lines[0])
    assert manifest["checkpoint"]["tree_size"] == 3 and len(lines) == 4
    assert manifest["unsigned_entries_after"] == 2 and "2 more entries" in manifest["note"]
    assert response["X-Ledger-Unsigned-Entries"] == "2"
