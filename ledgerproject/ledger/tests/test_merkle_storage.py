"""The Merkle tree's storage: the migrations that moved the nodes (to a table keyed by (ledger, level, index), then
into tiles), the tile table's one index and constraints, and what integration refuses to store in it."""

import hashlib
import random
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from ledgerproject.ledger import checkpoints, merkle
from ledgerproject.ledger.models import MerkleTile
from ledgerproject.ledger.tests.conftest import triggers_lifted
from tests.ledger_testapp.models import Note

WITH_ID = ("ledger", "0006_rollups")  # a row per node, with a surrogate id
KEYED = ("ledger", "0007_merklenode_composite_key")  # a row per node, keyed by (ledger, level, index)
TILED = ("ledger", "0008_merkle_tiles")  # the tiles of ledger/merkle.py


def migrate_to(target):
    """Migrate the ledger app to `target`."""
    MigrationExecutor(connection).migrate([target])


def node_model(target):
    """Migrate the ledger app to `target` (a state with a row per node); return its MerkleNode model."""
    migrate_to(target)
    return MigrationExecutor(connection).loader.project_state([target]).apps.get_model("ledger", "MerkleNode")


def grown_tree(size, seed):
    """A tree of `size` random leaves: its frontier and every node of it, {(level, index): hash}."""
    rng = random.Random(seed)
    frontier, nodes = merkle.Frontier(), {}
    for _ in range(size):
        nodes.update(frontier.push(hashlib.sha256(rng.randbytes(8)).digest()))
    return frontier, nodes


def readings(tree, size, rng):
    """Roots at a few sizes, inclusion and consistency proofs of `tree` (a merkle.Tree)."""
    smaller = sorted(rng.sample(range(1, size + 1), min(size, 4)))
    return (
        [tree.root(n) for n in smaller],
        [tree.inclusion_proof(rng.randrange(size)) for _ in range(4)],
        [tree.consistency_proof(n, size) for n in smaller],
    )


def expected_readings(nodes, size):
    return readings(
        merkle.Tree(size, lambda wanted: {n: nodes[n] for n in wanted if n in nodes}), size, random.Random(size)
    )


def stored_nodes(model):
    rows = model.objects.values_list("ledger", "level", "index", "hash")
    return sorted((ledger, level, index, bytes(value)) for ledger, level, index, value in rows)


def as_rows(trees):
    return sorted(
        (ledger, level, index, value) for ledger, nodes in trees.items() for (level, index), value in nodes.items()
    )


@pytest.mark.django_db(transaction=True)
def test_it_moves_every_stored_node_into_tiles_with_the_same_roots_and_proofs():
    rng = random.Random(2026)  # two uneven sizes (61 and 463), one leaf and a power of two; the same every run
    sizes = {"alpha": rng.randrange(1, 300), "beta": rng.randrange(300, 700), "gamma": 1, "delta": 1024}
    trees = {ledger: grown_tree(size, seed) for seed, (ledger, size) in enumerate(sizes.items())}
    old = node_model(WITH_ID)
    try:
        assert [field.name for field in old._meta.fields][0] == "id"
        for ledger, (_, nodes) in trees.items():
            old.objects.bulk_create(
                [old(ledger=ledger, level=lv, index=i, hash=value) for (lv, i), value in nodes.items()]
            )
        assert stored_nodes(node_model(KEYED)) == as_rows({ledger: nodes for ledger, (_, nodes) in trees.items()})
    finally:
        migrate_to(TILED)

    for ledger, (frontier, nodes) in trees.items():
        size = sizes[ledger]
        assert checkpoints.integrated_size(ledger) == size
        assert checkpoints.tree(ledger, size).root() == frontier.root()
        assert readings(checkpoints.tree(ledger, size), size, random.Random(size)) == expected_readings(nodes, size)
        # Every node, of every level, read from the tiles as the API reads them.
        assert checkpoints.fetch_nodes(ledger, nodes.keys()) == nodes
    levels = set(MerkleTile.objects.values_list("level", flat=True))
    assert levels == {0, 4, 8} and MerkleTile.objects.count() < sum(sizes.values()) / 12  # a run per tile


@pytest.mark.django_db(transaction=True)
def test_it_can_move_the_tiles_back_to_a_row_per_node():
    frontier, nodes = grown_tree(37, 7)
    leaves = b"".join(nodes[0, i] for i in range(37))
    integrated = merkle.Frontier()
    # Integrated in three steps: tiles stored as several runs each.
    made = [
        run
        for cut in ((0, 5), (5, 20), (20, 37))
        for run in integrated.push_runs(leaves[32 * cut[0] : 32 * cut[1]], True)
    ]
    MerkleTile.objects.bulk_create([MerkleTile(ledger="delta", level=lv, index=i, hashes=h) for lv, i, h in made])
    try:
        assert stored_nodes(node_model(KEYED)) == as_rows({"delta": nodes})
        assert stored_nodes(node_model(WITH_ID)) == as_rows({"delta": nodes})
    finally:
        migrate_to(TILED)
    # Moved forward again: one run per tile.
    assert sorted((lv, i, len(h) // 32) for lv, i, h in MerkleTile.objects.values_list("level", "index", "hashes")) == [
        (0, 0, 16),
        (0, 16, 16),
        (0, 32, 5),
        (4, 0, 2),
    ]
    assert checkpoints.tree("delta", 37).root() == frontier.root()
    assert checkpoints.fetch_nodes("delta", nodes.keys()) == nodes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_application_role_keeps_its_privileges_on_the_tile_table():
    role = f"ledger_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role}")
    try:
        migrate_to(WITH_ID)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"GRANT SELECT, INSERT ON ledger_merklenode TO {role}")
        finally:
            migrate_to(TILED)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT has_table_privilege(%s, 'ledger_merkletile', 'SELECT'), "
                "has_table_privilege(%s, 'ledger_merkletile', 'INSERT'), "
                "has_table_privilege(%s, 'ledger_merkletile', 'DELETE')",
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
        constraints = connection.introspection.get_constraints(cursor, MerkleTile._meta.db_table)
        tables = connection.introspection.table_names(cursor)
    indexed = [spec for spec in constraints.values() if spec["index"] or spec["unique"] or spec["primary_key"]]
    assert len(indexed) == 1 and indexed[0]["primary_key"]
    assert indexed[0]["columns"] == ["ledger", "level", "index"]
    assert "ledger_merklenode" not in tables


@pytest.mark.django_db
def test_it_refuses_a_second_run_of_the_same_key_and_a_run_that_is_not_whole_hashes_within_a_tile():
    MerkleTile.objects.create(ledger="epsilon", level=4, index=3, hashes=b"\x01" * 32)
    MerkleTile.objects.create(ledger="zeta", level=4, index=3, hashes=b"\x01" * 32)
    with pytest.raises(IntegrityError), transaction.atomic():
        MerkleTile.objects.create(ledger="epsilon", level=4, index=3, hashes=b"\x02" * 64)
    assert MerkleTile.objects.get(pk=("epsilon", 4, 3)).hashes == b"\x01" * 32
    MerkleTile.objects.create(ledger="eta", level=0, index=14, hashes=b"\x01" * 64)  # nodes 14 and 15: the tile's end
    for index, hashes in ((0, b""), (0, b"\x01" * 33), (0, b"\x01" * 32 * 17), (15, b"\x01" * 64)):
        with pytest.raises(IntegrityError), transaction.atomic():
            MerkleTile.objects.create(ledger="theta", level=0, index=index, hashes=hashes)


@pytest.mark.django_db
def test_each_integration_stores_the_nodes_it_made_and_reads_lay_them_end_to_end(make_note):
    for i in range(20):
        make_note(f"w{i}")
    for upto in (3, 5, 18, 20):
        assert checkpoints.integrate(Note, upto=upto) == upto
    runs = sorted((lv, i, len(h) // 32) for lv, i, h in MerkleTile.objects.values_list("level", "index", "hashes"))
    assert runs == [(0, 0, 3), (0, 3, 2), (0, 5, 11), (0, 16, 2), (0, 18, 2), (4, 0, 1)]
    leaves = [merkle.leaf_hash(h) for h in Note.objects.order_by("seq").values_list("entry_hash", flat=True)]
    assert checkpoints.integrated_size("testnotes") == 20
    assert checkpoints.tree("testnotes", 20).root() == merkle.root_from_leaves(leaves)
    assert checkpoints.fetch_nodes("testnotes", {(0, 4), (2, 0), (3, 1), (4, 0), (2, 4)}) == {
        (0, 4): leaves[4],
        (2, 0): merkle.root_from_leaves(leaves[:4]),
        (3, 1): merkle.root_from_leaves(leaves[8:16]),
        (4, 0): merkle.root_from_leaves(leaves[:16]),
        (2, 4): merkle.root_from_leaves(leaves[16:20]),
    }


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
