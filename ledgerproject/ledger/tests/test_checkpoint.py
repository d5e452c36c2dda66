"""Stored Merkle trees, their integration, and signed append-only checkpoints."""

import base64
import logging

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, transaction
from hypothesis import given
from hypothesis import strategies as st

from ledgerproject.ledger import checkpoints, merkle, signing
from ledgerproject.ledger.checkpoints import Checkpoint, MerkleTile
from ledgerproject.ledger.exceptions import ImmutableEntryError
from ledgerproject.ledger.tests.test_checkpoint_support import (
    PUBLIC_KEY,
    append_notes,
    checkpoint_now,
    leaves_of,
    note_model,
    signing_key,  # noqa: F401  (fixture)
)
from ledgerproject.ledger.triggers import installed_triggers, trigger_names
from ledgerproject.ledger.verify import (
    VerificationError,
    check_inclusion,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("signing_key")]


def nodes(ledger="testnotes"):
    """Every stored run: (level, index of its first node, hashes)."""
    rows = MerkleTile.objects.filter(ledger=ledger).values_list("level", "index", "hashes")
    return sorted((level, index, bytes(hashes)) for level, index, hashes in rows)


def tree_nodes(leaves):
    """Every node of the tree over `leaves`: {(level, index): hash}."""
    frontier, made = merkle.Frontier(), {}
    for leaf in leaves:
        made.update(frontier.push(leaf))
    return made


def stored_tree(model):
    """Every node of the tree over `model`'s entries as the stored tiles give it (absent ones left out)."""
    return checkpoints.fetch_nodes(model.ledger_name, tree_nodes(leaves_of(model)).keys())


def test_by_default_appending_leaves_integration_to_the_background_step(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        append_notes(3)
    assert checkpoints.integrated_size("testnotes") == 0
    assert checkpoints.make_checkpoint(note_model())[0].tree_size == 3


def test_it_can_integrate_entries_right_after_the_append_commits(settings, django_capture_on_commit_callbacks):
    settings.LEDGER_MERKLE_INTEGRATE_ON_APPEND = True
    Note = note_model()
    with django_capture_on_commit_callbacks(execute=True):
        append_notes(5)
    assert checkpoints.integrated_size("testnotes") == 5
    assert checkpoints.tree("testnotes", 5).root() == merkle.root_from_leaves(leaves_of(Note))
    # The 5 leaves in one run of the first tile of level 0: its 2 pairs and the four-leaf subtree are folded
    # from them when read.
    assert [(level, index, len(hashes)) for level, index, hashes in nodes()] == [(0, 0, 5 * 32)]
    with django_capture_on_commit_callbacks(execute=True):
        append_notes(1, start=5)
        append_notes(1, start=6)
    # Each append's leaf stored once, after the ones before it.
    assert [(level, index, len(hashes)) for level, index, hashes in nodes()] == [(0, 0, 160), (0, 5, 32), (0, 6, 32)]
    assert stored_tree(Note) == tree_nodes(leaves_of(Note))


def test_integration_is_idempotent_and_resumes_where_it_stopped():
    Note = note_model()
    append_notes(13)
    assert checkpoints.integrate(Note, upto=6) == 6
    assert checkpoints.integrate(Note) == 13
    once = nodes()
    assert checkpoints.integrate(Note) == 13
    assert nodes() == once
    assert stored_tree(Note) == tree_nodes(leaves_of(Note))
    assert checkpoints.rebuild(Note) == 13
    assert stored_tree(Note) == tree_nodes(leaves_of(Note))


def test_integration_in_small_batches_builds_the_same_tree():
    Note = note_model()
    append_notes(37)
    checkpoints.integrate(Note, batch=4)
    in_batches = stored_tree(Note)
    assert [index for level, index, _ in nodes() if level == 0] == list(range(0, 37, 4))  # a run per batch
    checkpoints.rebuild(Note)
    assert stored_tree(Note) == in_batches == tree_nodes(leaves_of(Note))
    assert checkpoints.tree("testnotes", 37).root() == merkle.root_from_leaves(leaves_of(Note))


def test_a_proof_reads_a_logarithmic_number_of_nodes_in_one_query(django_assert_num_queries):
    Note = note_model()
    append_notes(300)
    checkpoints.integrate(Note)
    tree = checkpoints.tree("testnotes", 300)
    with django_assert_num_queries(1):
        proof = tree.inclusion_proof(150)
    assert len(proof) == 9
    with django_assert_num_queries(1):
        tree.consistency_proof(77)


@given(data=st.data())
def test_every_proof_the_server_makes_verifies_and_tampering_is_rejected(data):
    Note = note_model()
    if not Note.objects.exists():
        append_notes(300)
        checkpoints.integrate(Note)
    leaves = leaves_of(Note)
    size = data.draw(st.integers(1, 300), label="tree size")
    index = data.draw(st.integers(0, size - 1), label="leaf index")
    root = merkle.root_from_leaves(leaves[:size])
    stored = checkpoints.tree("testnotes", size)
    assert stored.root() == root
    proof = stored.inclusion_proof(index)
    verify_inclusion(index, size, leaves[index], proof, root)
    if proof:
        flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
        for wrong in (flipped, proof[:-1], [*proof, proof[-1]]):
            with pytest.raises(VerificationError):
                verify_inclusion(index, size, leaves[index], wrong, root)
    if size > 1:
        first = data.draw(st.integers(1, size - 1), label="first size")
        first_root = merkle.root_from_leaves(leaves[:first])
        consistency = stored.consistency_proof(first)
        verify_consistency(first, size, first_root, root, consistency)
        with pytest.raises(VerificationError):
            verify_consistency(first, size, root, first_root, consistency)
        with pytest.raises(VerificationError):
            verify_consistency(first, size, first_root, root, consistency[:-1])


def test_it_signs_a_checkpoint_that_verifies_with_the_public_key():
    Note = note_model()
    append_notes(6)
    checkpoint, created = checkpoints.make_checkpoint(Note)
    assert created
    body = checkpoint.as_dict()
    assert body["origin"] == "ledger.test/testnotes"
    assert body["tree_size"] == 6
    assert body["root_hash"] == merkle.root_from_leaves(leaves_of(Note)).hex()
    assert verify_checkpoint(body, PUBLIC_KEY) == (6, bytes.fromhex(body["root_hash"]))
    signed_text = (
        f"ledger.test/testnotes\n6\n{base64.b64encode(checkpoint.root).decode()}\ntimestamp {checkpoint.timestamp}\n"
    )
    PUBLIC_KEY.verify(base64.b64decode(body["signature"]), signed_text.encode())
    assert body["note"].startswith(signed_text + "\n\u2014 ledger.test ")
    assert body["key_id"] == signing.key_id()


def test_it_makes_a_new_checkpoint_only_when_the_ledger_grew():
    Note = note_model()
    append_notes(3)
    first, created = checkpoints.make_checkpoint(Note)
    again, created_again = checkpoints.make_checkpoint(Note)
    assert created and not created_again
    assert again.pk == first.pk
    append_notes(2, start=3)
    grown, created = checkpoints.make_checkpoint(Note)
    assert created and grown.tree_size == 5
    assert checkpoints.latest_checkpoint("testnotes").pk == grown.pk


def test_it_refuses_to_checkpoint_an_empty_ledger():
    with pytest.raises(checkpoints.EmptyLedgerError):
        checkpoints.make_checkpoint(note_model())


def test_it_rejects_a_forged_or_wrong_key_signature():
    append_notes(4)
    body = checkpoint_now(note_model()).as_dict()
    other_key = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(VerificationError, match="signed by key"):
        verify_checkpoint(body, other_key)
    with pytest.raises(VerificationError, match="signature does not verify"):
        verify_checkpoint({**body, "key_id": None}, other_key)
    forgeries = ({"tree_size": 5}, {"root_hash": "ab" * 32}, {"timestamp": "2020-01-01T00:00:00Z"}, {"ledger": "other"})
    for forged in forgeries:
        with pytest.raises(VerificationError):
            verify_checkpoint({**body, **forged}, PUBLIC_KEY)
    forged_signature = base64.b64encode(bytes(64)).decode()
    with pytest.raises(VerificationError):
        verify_checkpoint({**body, "signature": forged_signature}, PUBLIC_KEY)


def test_a_proof_checked_against_another_tree_size_than_the_checkpoints_fails():
    Note = note_model()
    append_notes(5)
    old = checkpoint_now(Note)
    append_notes(1, start=5)
    new = checkpoint_now(Note)
    proof_at_5 = checkpoints.inclusion_proof("testnotes", 2, 5)
    check_inclusion(proof_at_5, old.as_dict(), PUBLIC_KEY)
    with pytest.raises(VerificationError, match="tree size"):
        check_inclusion(proof_at_5, new.as_dict(), PUBLIC_KEY)
    relabelled = {**proof_at_5, "tree_size": 6}
    with pytest.raises(VerificationError):
        check_inclusion(relabelled, new.as_dict(), PUBLIC_KEY)


def test_checkpoints_cannot_be_changed_or_deleted():
    append_notes(2)
    checkpoint = checkpoint_now(note_model())
    checkpoint.tree_size = 99
    with pytest.raises(ImmutableEntryError):
        checkpoint.save()
    with pytest.raises(ImmutableEntryError):
        checkpoint.delete()
    with pytest.raises(ImmutableEntryError):
        Checkpoint.objects.filter(ledger="testnotes").update(root_hash="0" * 64)
    with pytest.raises(ImmutableEntryError):
        Checkpoint.objects.filter(ledger="testnotes").delete()


def test_the_database_refuses_to_change_or_delete_checkpoints():
    append_notes(2)
    checkpoint = checkpoint_now(note_model())
    table = Checkpoint._meta.db_table
    assert installed_triggers(connection, table) == set(trigger_names(table)[connection.vendor])
    statements = [f'UPDATE "{table}" SET tree_size = 99', f'DELETE FROM "{table}"']
    if connection.vendor == "postgresql":
        statements.append(f'TRUNCATE "{table}"')
    for statement in statements:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement)
    assert Checkpoint.objects.get(pk=checkpoint.pk).tree_size == 2


def test_it_generates_a_key_file_once_with_a_warning(settings, tmp_path, caplog):
    settings.LEDGER_SIGNING_KEY = ""
    settings.LEDGER_SIGNING_KEY_FILE = str(tmp_path / "keys" / "signing-key.pem")
    with caplog.at_level(logging.WARNING, logger="ledgerproject.ledger.signing"):
        first = signing.key_id()
    assert "Generated a new checkpoint signing key" in caplog.text
    assert (tmp_path / "keys" / "signing-key.pem").stat().st_mode & 0o077 == 0
    signing._cache.clear()
    caplog.clear()
    assert signing.key_id() == first
    assert "Generated" not in caplog.text


def test_it_refuses_a_malformed_key_from_the_environment(settings):
    settings.LEDGER_SIGNING_KEY = "not base64!"
    with pytest.raises(ImproperlyConfigured):
        signing.signing_key()
    settings.LEDGER_SIGNING_KEY = base64.b64encode(b"short").decode()
    with pytest.raises(ImproperlyConfigured):
        signing.signing_key()


def test_no_key_material_is_stored_in_the_database():
    append_notes(2)
    checkpoint = checkpoint_now(note_model())
    secret = base64.b64encode(bytes(range(32))).decode()
    stored = " ".join(str(value) for value in Checkpoint.objects.filter(pk=checkpoint.pk).values_list().get())
    assert secret not in stored and bytes(range(32)).hex() not in stored


def _in_threads(count, work):
    import threading

    from django.db import connections

    errors, results = [], []

    def run():
        try:
            results.append(work())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_integrators_build_one_tree():
    Note = note_model()
    append_notes(500)
    sizes = _in_threads(4, lambda: checkpoints.integrate(Note, batch=64))
    assert sizes == [500] * 4
    together = nodes()
    # Each node stored once: the runs of each level follow each other without overlapping.
    for level in {level for level, _, _ in together}:
        runs = [(index, len(hashes) // 32) for lvl, index, hashes in together if lvl == level]
        assert all(index + count == following for (index, count), (following, _) in zip(runs, runs[1:], strict=False))
    assert stored_tree(Note) == tree_nodes(leaves_of(Note))
    checkpoints.rebuild(Note)
    assert stored_tree(Note) == tree_nodes(leaves_of(Note))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_checkpointers_sign_one_checkpoint_per_size():
    Note = note_model()
    append_notes(40)
    made = _in_threads(4, lambda: checkpoints.make_checkpoint(Note))
    assert len({checkpoint.pk for checkpoint, _ in made}) == 1
    assert sum(created for _, created in made) == 1
    assert Checkpoint.objects.filter(ledger="testnotes").count() == 1


def test_a_pem_key_named_by_the_file_variable_is_accepted_as_the_environment_key(settings):
    from cryptography.hazmat.primitives import serialization

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    settings.LEDGER_SIGNING_KEY = pem.decode()
    assert signing.public_key_raw() == key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
