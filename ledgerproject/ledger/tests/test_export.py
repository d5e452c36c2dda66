"""Verifiable exports (API and `export_ledger`) and the `checkpoint_ledgers` command."""

import json

import pytest
from django.core.management import CommandError, call_command

from ledgerproject.ledger import checkpoints
from ledgerproject.ledger.tests.test_checkpoint_support import (
    PUBLIC_KEY,
    append_notes,
    checkpoint_now,
    note_model,
    signing_key,  # noqa: F401  (fixture)
)
from ledgerproject.ledger.verify import VerificationError, verify_export

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("signing_key")]


def read_stream(response):
    return b"".join(response.streaming_content).decode().splitlines(keepends=True)


def test_an_auditor_exports_a_ledger_that_verifies_offline(auditor_api):
    notes = append_notes(9)
    response = auditor_api.post("/api/v1/ledgers/testnotes/export/?format=jsonl")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    lines = read_stream(response)
    manifest = json.loads(lines[0])
    assert manifest["format"] == "ledger-export/1"
    assert manifest["checkpoint"]["tree_size"] == 9 == len(lines) - 1
    first = json.loads(lines[1])
    assert set(first) == {"seq", "recorded_at", "recorded_by", "prev_entry_hash", "entry_hash", "canonical"}
    assert first["entry_hash"] == notes[0].entry_hash
    assert verify_export(lines, PUBLIC_KEY)["tree_size"] == 9


def test_the_export_stops_at_its_checkpoint(auditor_api):
    Note = note_model()
    append_notes(4)
    checkpoint = checkpoint_now(Note)
    lines = read_stream(auditor_api.get("/api/v1/ledgers/testnotes/export/"))
    assert json.loads(lines[0])["checkpoint"]["root_hash"] == checkpoint.root_hash
    assert len(lines) == 5


def test_readers_cannot_export_and_other_formats_are_refused(reader_api, auditor_api):
    append_notes(2)
    checkpoint_now(note_model())
    assert reader_api.get("/api/v1/ledgers/testnotes/export/").status_code == 403
    response = auditor_api.get("/api/v1/ledgers/testnotes/export/?format=csv")
    assert response.status_code in (400, 404)


def test_exporting_an_empty_ledger_is_refused(auditor_api):
    response = auditor_api.get("/api/v1/ledgers/testnotes/export/")
    assert response.status_code in (400, 409)
    assert "empty" in response.json()["detail"]


def test_a_tampered_export_fails_verification(auditor_api):
    append_notes(5)
    checkpoint_now(note_model())
    lines = read_stream(auditor_api.get("/api/v1/ledgers/testnotes/export/"))
    entry = json.loads(lines[3])
    entry["canonical"] = entry["canonical"].replace('"n":2', '"n":20')
    with pytest.raises(VerificationError, match="seq 3"):
        verify_export([*lines[:3], json.dumps(entry) + "\n", *lines[4:]], PUBLIC_KEY)
    with pytest.raises(VerificationError, match="covers 5"):
        verify_export(lines[:-1], PUBLIC_KEY)
    with pytest.raises(VerificationError):
        verify_export([lines[0], *lines[1:3], lines[4], lines[3], lines[5]], PUBLIC_KEY)


def test_the_export_command_writes_a_verifiable_file(tmp_path):
    append_notes(12)
    target = tmp_path / "notes.jsonl"
    call_command("export_ledger", "testnotes", "-o", str(target), "--no-progress")
    with target.open() as handle:
        assert verify_export(handle, PUBLIC_KEY)["tree_size"] == 12


def test_the_export_command_refuses_unknown_and_empty_ledgers(tmp_path):
    with pytest.raises(CommandError, match="no ledger called"):
        call_command("export_ledger", "nope", "-o", str(tmp_path / "x.jsonl"), "--no-progress")
    with pytest.raises(CommandError, match="empty"):
        call_command("export_ledger", "testnotes", "-o", str(tmp_path / "x.jsonl"), "--no-progress")


def test_checkpoint_ledgers_signs_grown_ledgers_and_rebuilds_trees(capsys):
    append_notes(6)
    call_command("checkpoint_ledgers", "testnotes", "--no-progress")
    assert "signed checkpoint @6" in capsys.readouterr().out
    call_command("checkpoint_ledgers", "testnotes", "--no-progress")
    assert "unchanged checkpoint @6" in capsys.readouterr().out
    call_command("checkpoint_ledgers", "testnotes", "--rebuild", "--no-progress")
    assert "rebuilt, 6 leaves" in capsys.readouterr().out
    assert checkpoints.latest_checkpoint("testnotes").tree_size == 6
    with pytest.raises(CommandError):
        call_command("checkpoint_ledgers", "nope", "--no-progress")
