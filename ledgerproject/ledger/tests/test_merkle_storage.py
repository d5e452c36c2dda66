"""The Merkle node table keyed by (ledger, level, index): the migration that moved the nodes, its one index, and
what integration refuses to store in it."""

import hashlib
import random
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from ledgerproject.ledger import checkpoints, merkle
from ledgerproject.ledger.models import MerkleNode
from ledgerproject.ledger.tests.conftest import triggers_lifted
from tests.ledger_testapp.models import Note

BEFORE = ("ledger", "0006_rollups")
AFTER = ("ledger", "0007_merklenode_composite_key")


def migrate_to(target):
    """Migrate the ledger app to `target`; return the MerkleNode model of that state."""
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return MigrationExecutor(connection).loader.project_state([target]).apps.get_model("ledger", "MerkleNode")


def grown_tree(size, seed):
    """A tree of `size` random leaves: its frontier and every node integration would store, as rows."""
    rng = random.Random(seed)
    raw = b"".join(hashlib.sha256(rng.randbytes(8)).digest() for _ in range(size))
    frontier = merkle.Frontier()
    return frontier, frontier.push_entry_hashes(raw)


def readings(ledger, size, rng):
    """Roots at a few sizes, inclusion and consistency proofs, read from the stored nodes as the API reads them."""
    tree = checkpoints.tree(ledger, size)
    smaller = sorted(rng.sample(range(1, size + 1), min(size, 4)))
    return (
        [tree.root(n) for n in smaller],
        [tree.inclusion_proof(rng.randrange(size)) for _ in range(4)],
        [tree.consistency_proof(n, size) for n in smaller],
    )


@pytest.mark.django_db(transaction=True)
def test_it_moves_every_stored_node_to_the_keyed_table_with_the_same_roots_and_proofs():
    rng = random.Random(2026)  # two uneven sizes (61 and 463), one leaf and a power of two; the same every run
    sizes = {"alpha": rng.randrange(1, 300), "beta": rng.randrange(300, 700), "gamma": 1, "delta": 1024}
    old = migrate_to(BEFORE)
    try:
        assert [field.name for field in old._meta.fields][0] == "id"
        frontiers = {}
        for seed, (ledger, size) in enumerate(sizes.items()):
            frontier, made = grown_tree(size, seed)
            frontiers[ledger] = frontier
            old.objects.bulk_create(
                [old(ledger=ledger, level=level, index=index, hash=value) for level, index, value in made]
            )
        stored = sorted(old.objects.values_list("ledger", "level", "index", "hash"))
        before = {ledger: readings(ledger, size, random.Random(size)) for ledger, size in sizes.items()}
    finally:
        migrate_to(AFTER)

    assert sorted((a, b, c, bytes(d)) for a, b, c, d in MerkleNode.objects.values_list()) == [
        (a, b, c, bytes(d)) for a, b, c, d in stored
    ]
    for ledger, size in sizes.items():
        assert checkpoints.integrated_size(ledger) == size
        assert checkpoints.tree(ledger, size).root() == frontiers[ledger].root()
        assert readings(ledger, size, random.Random(size)) == before[ledger]


@pytest.mark.django_db(transaction=True)
def test_it_can_move_the_nodes_back_to_the_table_with_the_surrogate_id():
    frontier, made = grown_tree(37, 7)
    MerkleNode.objects.bulk_create(
        [MerkleNode(ledger="delta", level=level, index=index, hash=value) for level, index, value in made]
    )
    try:
        old = migrate_to(BEFORE)
        assert sorted(
            (level, index, bytes(value)) for level, index, value in old.objects.values_list("level", "index", "hash")
        ) == sorted(made)
        assert checkpoints.tree("delta", 37).root() == frontier.root()
    finally:
        migrate_to(AFTER)
    assert MerkleNode.objects.count() == len(made)
    assert checkpoints.tree("delta", 37).root() == frontier.root()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_application_role_keeps_its_privileges_on_the_moved_table():
    role = f"ledger_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role}")
    try:
        migrate_to(BEFORE)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"GRANT SELECT, INSERT ON ledger_merklenode TO {role}")
        finally:
            migrate_to(AFTER)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT has_table_privilege(%s, 'ledger_merklenode', 'SELECT'), "
                "has_table_privilege(%s, 'ledger_merklenode', 'INSERT'), "
                "has_table_privilege(%s, 'ledger_merklenode', 'DELETE')",
                [role, role, role],
            )
            assert cursor.fetchone() == (True, True, False)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")


@pytest.mark.django_db
def test_it_keeps_a_single_index_the_key_of_ledger_level_and_index():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, MerkleNode._meta.db_table)
        columns = [
            column.name for column in connection.introspection.get_table_description(cursor, "ledger_merklenode")
        ]
    indexed = [spec for spec in constraints.values() if spec["index"] or spec["unique"] or spec["primary_key"]]
    assert len(indexed) == 1 and indexed[0]["primary_key"]
    assert indexed[0]["columns"] == ["ledger", "level", "index"]
    assert "id" not in columns


@pytest.mark.django_db
def test_it_still_refuses_a_second_node_of_the_same_name():
    MerkleNode.objects.create(ledger="epsilon", level=2, index=3, hash=b"\x01" * 32)
    MerkleNode.objects.create(ledger="zeta", level=2, index=3, hash=b"\x01" * 32)
    with pytest.raises(IntegrityError), transaction.atomic():
        MerkleNode.objects.create(ledger="epsilon", level=2, index=3, hash=b"\x02" * 32)
    assert MerkleNode.objects.get(pk=("epsilon", 2, 3)).hash == b"\x01" * 32


@pytest.mark.django_db
@pytest.mark.parametrize("bad_hash", ["é" + "ab" * 31, "é" + "a" * 63], ids=["64 bytes", "64 characters"])
def test_it_refuses_an_entry_hash_holding_a_non_ascii_character(make_note, bad_hash):
    for i in range(4):
        make_note(f"u{i}")
    with triggers_lifted(Note), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Note._meta.db_table} SET entry_hash = %s WHERE seq = 3", [bad_hash])
    with pytest.raises(ValueError):
        checkpoints.integrate(Note)
    assert checkpoints.integrated_size("testnotes") == 0
