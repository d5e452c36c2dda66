"""The verification API: checkpoints, inclusion and consistency proofs, the public key, and the entry page."""

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.urls import reverse

from ledgerproject.ledger import checkpoints
from ledgerproject.ledger.tests.test_checkpoint_support import (
    PUBLIC_KEY,
    append_notes,
    checkpoint_now,
    note_model,
    signing_key,  # noqa: F401  (fixture)
)
from ledgerproject.ledger.verify import check_consistency, check_inclusion, verify_checkpoint

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("signing_key")]

BASE = "/api/v1/ledgers/testnotes"


def test_anyone_can_fetch_the_public_key_and_it_verifies_checkpoints(anon_api):
    response = anon_api.get("/api/v1/ledgers/public-key/")
    assert response.status_code == 200
    body = response.json()
    assert body["algorithm"] == "Ed25519"
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(body["public_key"]))
    append_notes(3)
    verify_checkpoint(checkpoint_now(note_model()).as_dict(), key)
    assert body["key_id"] == checkpoints.latest_checkpoint("testnotes").key_id


def test_a_ledger_without_a_checkpoint_says_so(reader_api):
    response = reader_api.get(f"{BASE}/checkpoint/")
    assert response.status_code == 404
    assert "no signed checkpoint" in response.json()["detail"]


def test_an_auditor_makes_a_checkpoint_only_when_the_ledger_grew(auditor_api):
    append_notes(4)
    made = auditor_api.post(f"{BASE}/checkpoint/")
    assert made.status_code == 201
    assert made.json()["tree_size"] == 4
    again = auditor_api.post(f"{BASE}/checkpoint/")
    assert again.status_code == 200
    assert again.json() == made.json()
    verify_checkpoint(again.json(), PUBLIC_KEY)


def test_readers_read_checkpoints_but_cannot_make_them(reader_api):
    append_notes(2)
    assert reader_api.post(f"{BASE}/checkpoint/").status_code == 403
    checkpoint_now(note_model())
    body = reader_api.get(f"{BASE}/checkpoint/").json()
    assert set(body) == {"ledger", "origin", "tree_size", "root_hash", "timestamp", "key_id", "signature", "note"}


def test_checkpointing_an_empty_ledger_is_a_conflict(auditor_api):
    response = auditor_api.post(f"{BASE}/checkpoint/")
    assert response.status_code == 409
    assert "empty" in response.json()["detail"]


def test_unknown_ledgers_and_anonymous_callers_are_refused(anon_api, reader_api):
    assert reader_api.get("/api/v1/ledgers/nope/checkpoint/").status_code == 404
    assert reader_api.get("/api/v1/ledgers/nope/proofs/inclusion/?seq=1").status_code == 404
    assert anon_api.get(f"{BASE}/checkpoint/").status_code in (401, 403)
    assert anon_api.get(f"{BASE}/proofs/inclusion/?seq=1").status_code in (401, 403)


def test_an_inclusion_proof_verifies_against_the_signed_checkpoint(reader_api):
    notes = append_notes(11)
    checkpoint = checkpoint_now(note_model()).as_dict()
    response = reader_api.get(f"{BASE}/proofs/inclusion/?seq=6&tree_size=11")
    assert response.status_code == 200
    proof = response.json()
    assert proof["leaf_index"] == 5 and proof["tree_size"] == 11 and proof["entry_hash"] == notes[5].entry_hash
    assert check_inclusion(proof, checkpoint, PUBLIC_KEY, entry_hash=notes[5].entry_hash) == (5, 11)
    # tree_size defaults to the latest checkpoint's.
    assert reader_api.get(f"{BASE}/proofs/inclusion/?seq=6").json() == proof


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("seq=9&tree_size=9", "beyond the latest signed checkpoint"),
        ("seq=7&tree_size=6", "beyond tree_size 6"),
        ("seq=2&tree_size=5", "not the size of a signed checkpoint"),
        ("seq=x", "whole number"),
        ("seq=0", "at least 1"),
        ("", "seq is required"),
    ],
)
def test_it_refuses_inclusion_proofs_outside_signed_checkpoints(reader_api, query, needle):
    append_notes(6)
    checkpoint_now(note_model())
    append_notes(3, start=6)
    response = reader_api.get(f"{BASE}/proofs/inclusion/?{query}")
    assert response.status_code == 400
    assert needle in response.json()["detail"]


def test_proofs_need_a_checkpoint_first(reader_api):
    append_notes(2)
    response = reader_api.get(f"{BASE}/proofs/inclusion/?seq=1")
    assert response.status_code == 400
    assert "no signed checkpoint" in response.json()["detail"]


def test_a_consistency_proof_links_two_signed_checkpoints(reader_api):
    Note = note_model()
    append_notes(5)
    old = checkpoint_now(Note).as_dict()
    append_notes(8, start=5)
    new = checkpoint_now(Note).as_dict()
    response = reader_api.get(f"{BASE}/proofs/consistency/?first=5&second=13")
    assert response.status_code == 200
    proof = response.json()
    assert set(proof) == {"first", "second", "proof"}
    assert check_consistency(proof, old, new, PUBLIC_KEY) == (5, 13)
    same = reader_api.get(f"{BASE}/proofs/consistency/?first=13&second=13").json()
    assert same["proof"] == []


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("first=5&second=20", "beyond the latest signed checkpoint"),
        ("first=4&second=13", "not the size of a signed checkpoint"),
        ("first=13&second=5", "must not exceed"),
        ("second=13", "first is required"),
    ],
)
def test_it_refuses_consistency_proofs_outside_signed_checkpoints(reader_api, query, needle):
    Note = note_model()
    append_notes(5)
    checkpoint_now(Note)
    append_notes(8, start=5)
    checkpoint_now(Note)
    response = reader_api.get(f"{BASE}/proofs/consistency/?{query}")
    assert response.status_code == 400
    assert needle in response.json()["detail"]


def test_the_ledger_list_shows_the_latest_checkpoint(reader_api):
    append_notes(3)
    checkpoint = checkpoint_now(note_model())
    listed = {item["name"]: item for item in reader_api.get("/api/v1/ledgers/").json()}
    assert listed["testnotes"]["checkpoint"]["tree_size"] == 3
    assert listed["testnotes"]["checkpoint"]["root_hash"] == checkpoint.root_hash


def test_tenant_bound_readers_get_no_proof_of_other_tenants_entries(make_user, client_for):
    Note = note_model()
    Note.objects.append(key="a", tenant_id="acme")
    Note.objects.append(key="b", tenant_id="other")
    checkpoint_now(Note)
    api = client_for(make_user("erin", roles=["reader"], tenants=["acme"]))
    assert api.get(f"{BASE}/proofs/inclusion/?seq=1").status_code == 200
    assert api.get(f"{BASE}/proofs/inclusion/?seq=2").status_code == 404


def test_the_entry_page_shows_the_canonical_form_and_a_browser_check(client, bob):
    Note = note_model()
    notes = append_notes(7)
    checkpoint = checkpoint_now(Note)
    client.force_login(bob)
    response = client.get(reverse("ledger-entry", args=["testnotes", 3]))
    assert response.status_code == 200
    html = response.content.decode()
    assert notes[2].entry_hash in html
    assert checkpoint.root_hash in html
    assert "verify-proof.js" in html
    assert 'id="proof-data"' in html
    assert response.context["proof"]["audit_path"] == checkpoints.inclusion_proof("testnotes", 3, 7)["audit_path"]


def test_the_entry_page_of_an_entry_beyond_the_checkpoint_says_it_is_not_yet_covered(client, bob):
    Note = note_model()
    append_notes(2)
    checkpoint_now(Note)
    append_notes(1, start=2)
    client.force_login(bob)
    response = client.get(reverse("ledger-entry", args=["testnotes", 3]))
    assert response.status_code == 200
    assert "not yet covered" in response.content.decode()
    assert client.get(reverse("ledger-entry", args=["testnotes", 9])).status_code == 404


def test_the_home_page_card_shows_the_latest_checkpoint_or_its_absence(client, bob):
    from ledgerproject.ledger.registry import ledger_models

    shown = [model.ledger_name for model in ledger_models() if model._meta.app_label != "ledger_testapp"]
    if not shown:
        pytest.skip("no ledger app is installed")
    client.force_login(bob)
    assert "no checkpoint yet" in client.get(reverse("ledgers")).content.decode()
    root = bytes.fromhex("ab" * 32)
    checkpoints.sign_checkpoint(shown[0], 42, root)
    html = client.get(reverse("ledgers")).content.decode()
    card = html[html.index(f'data-ledger="{shown[0]}"') :]
    card = card[: card.index("</article>")]
    assert "#42" in card and "abababababab" in card


def test_an_auditor_checkpoints_from_the_home_page_and_a_reader_cannot(client, dave, bob):
    append_notes(3)
    client.force_login(bob)
    assert "Checkpoint now" not in client.get(reverse("ledgers")).content.decode()
    assert client.post(reverse("ledger-checkpoint-now", args=["testnotes"])).status_code == 403
    client.force_login(dave)
    assert "Checkpoint now" in client.get(reverse("ledgers")).content.decode()
    response = client.post(reverse("ledger-checkpoint-now", args=["testnotes"]), follow=True)
    assert "signed checkpoint of 3 entries" in response.content.decode()
    assert checkpoints.latest_checkpoint("testnotes").tree_size == 3
    response = client.post(reverse("ledger-checkpoint-now", args=["testnotes"]), follow=True)
    assert "unchanged" in response.content.decode()
