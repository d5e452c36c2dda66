"""The offline verifier's command line, end to end, and what it catches that a re-walk of the chain cannot."""

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from ledgerproject.ledger import checkpoints, hashing, verify
from ledgerproject.ledger.chain import verify_chain
from ledgerproject.ledger.tests.conftest import triggers_lifted
from ledgerproject.ledger.tests.test_checkpoint_support import (
    PUBLIC_KEY,
    append_notes,
    checkpoint_now,
    note_model,
    signing_key,  # noqa: F401  (fixture)
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("signing_key")]

PROJECT = Path(settings.BASE_DIR)


def run_verifier(*args):
    return subprocess.run(
        [sys.executable, "-m", "ledgerproject.ledger.verify", *map(str, args)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT)},
    )


@pytest.fixture
def public_key_file(tmp_path, reader_api):
    path = tmp_path / "public-key.json"
    path.write_text(json.dumps(reader_api.get("/api/v1/ledgers/public-key/").json()))
    return path


def save(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_the_verifier_imports_neither_django_nor_the_project_settings():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, ledgerproject.ledger.verify; print(sorted(m for m in sys.modules if m.startswith('django')))",
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_command_line_verifies_an_exported_file_and_fails_a_tampered_one(tmp_path, public_key_file):
    append_notes(25)
    export = tmp_path / "notes.jsonl"
    call_command("export_ledger", "testnotes", "-o", str(export), "--no-progress")
    ok = run_verifier("export", export, "--public-key", public_key_file)
    assert ok.returncode == 0, ok.stderr
    assert "25 entries" in ok.stdout

    lines = export.read_text().splitlines(keepends=True)
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("".join([*lines[:10], lines[10].replace('"n\\":9', '"n\\":90'), *lines[11:]]))
    assert lines[10] != tampered.read_text().splitlines(keepends=True)[10]
    bad = run_verifier("export", tampered, "--public-key", public_key_file)
    assert bad.returncode == 1
    assert "seq 10" in bad.stderr

    other_key = base64.b64encode(bytes(32)).decode()
    wrong_key = run_verifier("export", export, "--public-key", other_key)
    assert wrong_key.returncode == 1

    missing = run_verifier("export", tmp_path / "absent.jsonl", "--public-key", public_key_file)
    assert missing.returncode == 2
    assert run_verifier("export").returncode == 2


def test_the_command_line_checks_proofs_fetched_from_the_api(tmp_path, reader_api, public_key_file):
    Note = note_model()
    notes = append_notes(10)
    old = save(tmp_path, "old.json", checkpoint_now(Note).as_dict())
    append_notes(7, start=10)
    new = save(tmp_path, "new.json", reader_api.get("/api/v1/ledgers/testnotes/checkpoint/").json() or {})
    new = save(tmp_path, "new.json", checkpoint_now(Note).as_dict())
    inclusion = save(tmp_path, "inc.json", reader_api.get("/api/v1/ledgers/testnotes/proofs/inclusion/?seq=4").json())
    consistency = save(
        tmp_path, "con.json", reader_api.get("/api/v1/ledgers/testnotes/proofs/consistency/?first=10&second=17").json()
    )
    ok = run_verifier(
        "inclusion",
        inclusion,
        "--checkpoint",
        new,
        "--public-key",
        public_key_file,
        "--entry-hash",
        notes[3].entry_hash,
    )
    assert ok.returncode == 0, ok.stderr
    assert (
        run_verifier("consistency", consistency, "--old", old, "--new", new, "--public-key", public_key_file).returncode
        == 0
    )
    assert run_verifier("checkpoint", old, "--public-key", public_key_file).returncode == 0
    # The same inclusion proof against the older checkpoint (another tree size) fails closed.
    assert run_verifier("inclusion", inclusion, "--checkpoint", old, "--public-key", public_key_file).returncode == 1
    wrong_entry = run_verifier(
        "inclusion",
        inclusion,
        "--checkpoint",
        new,
        "--public-key",
        public_key_file,
        "--entry-hash",
        notes[4].entry_hash,
    )
    assert wrong_entry.returncode == 1
    short = json.loads(consistency.read_text())
    short["proof"] = short["proof"][:-1]
    shortened = save(tmp_path, "short.json", short)
    assert (
        run_verifier("consistency", shortened, "--old", old, "--new", new, "--public-key", public_key_file).returncode
        == 1
    )


def _fetch_through(api):
    def fetch(url, token):
        response = api.get(url.split("testserver", 1)[1])
        if response.status_code != 200:
            raise verify.UsageError(f"HTTP {response.status_code}")
        return response.json()

    return fetch


def test_update_demands_a_consistency_proof_from_a_saved_checkpoint(tmp_path, reader_api, public_key_file, monkeypatch):
    Note = note_model()
    append_notes(9)
    saved = save(tmp_path, "saved.json", checkpoint_now(Note).as_dict())
    append_notes(4, start=9)
    checkpoint_now(Note)
    monkeypatch.setattr(verify, "_fetch_json", _fetch_through(reader_api))
    args = ["--url", "http://testserver", "--ledger", "testnotes", "--public-key", str(public_key_file)]
    assert verify.main(["update", "--old", str(saved), *args, "--save", str(tmp_path / "now.json")]) == 0
    assert json.loads((tmp_path / "now.json").read_text())["tree_size"] == 13


def _rewrite_whole_chain(model, change_seq):
    """Rewrite an entry and re-chain every later one, as someone with raw database access could."""
    table = model._meta.db_table
    rows = list(model._base_manager.order_by("seq").values_list("seq", "canonical", "body"))
    prev = hashing.GENESIS_HASH
    with triggers_lifted(model), connection.cursor() as cursor:
        for seq, canonical, body in rows:
            if seq == change_seq:
                hashed = json.loads(canonical)
                body = {**body, "n": "rewritten"}
                hashed["content"]["body"] = body
                canonical = hashing.canonical_json(hashed)
            this = hashing.entry_hash(prev, canonical)
            cursor.execute(
                f'UPDATE "{table}" SET canonical = %s, body = %s, prev_entry_hash = %s, entry_hash = %s WHERE seq = %s',
                [canonical, json.dumps(body), prev, this, seq],
            )
            prev = this


def test_a_consistently_rewritten_chain_passes_a_rewalk_but_fails_consistency_with_an_earlier_checkpoint(
    tmp_path, public_key_file, reader_api, monkeypatch
):
    Note = note_model()
    append_notes(8)
    before = checkpoint_now(Note).as_dict()
    saved = save(tmp_path, "before.json", before)

    _rewrite_whole_chain(Note, change_seq=3)
    assert verify_chain(Note).ok, "the naive re-walk cannot tell"

    # The server notices that its tree no longer matches the entries and will not sign on top of it,
    # not even after its tree was rebuilt from the rewritten entries…
    append_notes(1, start=8)
    with pytest.raises(checkpoints.MerkleStateError, match="no longer matches"):
        checkpoints.make_checkpoint(Note)
    checkpoints.rebuild(Note)
    with pytest.raises(checkpoints.MerkleStateError, match="refusing to sign"):
        checkpoints.make_checkpoint(Note)

    # …and even a checkpoint signed with the stolen key does not extend the one saved before.
    forged = checkpoints.sign_checkpoint("testnotes", 9, checkpoints.tree("testnotes", 9).root()).as_dict()
    verify.verify_checkpoint(forged, PUBLIC_KEY)
    proof = save(tmp_path, "proof.json", checkpoints.consistency_proof("testnotes", 8, 9))
    result = run_verifier(
        "consistency",
        proof,
        "--old",
        saved,
        "--new",
        save(tmp_path, "forged.json", forged),
        "--public-key",
        public_key_file,
    )
    assert result.returncode == 1
    assert "does not lead to the" in result.stderr

    monkeypatch.setattr(verify, "_fetch_json", _fetch_through(reader_api))
    args = ["--url", "http://testserver", "--ledger", "testnotes", "--public-key", str(public_key_file)]
    assert verify.main(["update", "--old", str(saved), *args]) == 1

    # The server will not export the rewritten ledger either: its entries contradict checkpoint @8
    # (and the forged @9 signed on top of them stands on the rewritten entries, not the signed ones).
    export = tmp_path / "rewritten.jsonl"
    with pytest.raises(CommandError, match="checkpoint @8"):
        call_command("export_ledger", "testnotes", "-o", str(export), "--no-progress")


def test_the_verifier_runs_as_a_single_copied_file(tmp_path, public_key_file):
    import shutil

    append_notes(3)
    checkpoint = save(tmp_path, "cp.json", checkpoint_now(note_model()).as_dict())
    copy = tmp_path / "elsewhere" / "verify.py"
    copy.parent.mkdir()
    shutil.copy(PROJECT / "ledgerproject" / "ledger" / "verify.py", copy)
    result = subprocess.run(
        [sys.executable, str(copy), "checkpoint", str(checkpoint), "--public-key", str(public_key_file)],
        cwd=copy.parent,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: checkpoint signature verified: tree size 3")
