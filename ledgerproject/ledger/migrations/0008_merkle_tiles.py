"""Merkle trees stored in tiles of up to 16 nodes of the levels 0, 4, 8, … instead of a row per node.

Integration spent most of its time on the database's inserts, two rows per entry; a row now holds a run of up
to 16 consecutive nodes of one tile and the levels in between are folded from it when read (ledger/merkle.py),
about n/15 rows for n leaves. The stored nodes are regrouped, not recomputed: the nodes of the tile levels, in
index order, become one run per tile (or one per stretch without a gap, in a damaged tree), so every stored
tree keeps its hashes and roots and proofs read the same before and after. On PostgreSQL the privileges other
roles held on the node table (the application role's SELECT, INSERT) are granted on the new table.
Reversible: the nodes of every level are made again from the tiles.
"""

import importlib

from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import Length, Mod
from django.db.models.lookups import Exact, GreaterThanOrEqual, LessThanOrEqual

from ledgerproject.ledger import merkle

NODES, TILES = "ledger_merklenode", "ledger_merkletile"
# The grants' copy of the migration that moved the nodes before (its name starts with a digit: no import statement).
_copy_grants = importlib.import_module("ledgerproject.ledger.migrations.0007_merklenode_composite_key")._copy_grants
CHUNK = 2000


def _lock(schema_editor, table):
    # No node may be written to the table read after its rows are read: an integration that runs meanwhile
    # waits for the migration and then fails (the next run integrates again). Reads go on.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"LOCK TABLE {schema_editor.quote_name(table)} IN SHARE MODE")


def nodes_to_tiles(apps, schema_editor):
    node_model, tile_model = apps.get_model("ledger", "MerkleNode"), apps.get_model("ledger", "MerkleTile")
    db = schema_editor.connection.alias
    _lock(schema_editor, NODES)
    nodes = (
        node_model.objects.using(db)
        .annotate(band=Mod("level", merkle.TILE_HEIGHT))
        .filter(band=0)
        .order_by("ledger", "level", "index")
        .values_list("ledger", "level", "index", "hash")
    )
    runs, first, hashes = [], None, []  # the run being gathered: its first node (ledger, level, index), its hashes

    def close():
        if hashes:
            ledger, level, index = first
            runs.append(tile_model(ledger=ledger, level=level, index=index, hashes=b"".join(hashes)))

    for ledger, level, index, value in nodes.iterator(chunk_size=CHUNK):
        # A run goes on while the nodes follow each other within one tile.
        follows = first is not None and (ledger, level) == first[:2] and index == first[2] + len(hashes)
        if not follows or index & (merkle.TILE_WIDTH - 1) == 0:
            close()
            first, hashes = (ledger, level, index), []
        hashes.append(bytes(value))
        if len(runs) >= CHUNK:
            tile_model.objects.using(db).bulk_create(runs)
            runs = []
    close()
    tile_model.objects.using(db).bulk_create(runs)
    _copy_grants(schema_editor, NODES, TILES)


def _tiles(rows):
    """(ledger, tile level, tile index, hashes) of each tile, from its runs (ledger, level, index, hashes) in order."""
    key, runs = None, []
    for ledger, level, index, hashes in rows:
        here = (ledger, level, index >> merkle.TILE_HEIGHT)
        if here != key and runs:
            yield (*key, merkle.tiles_from_runs(runs).get(key[1:], b""))
            runs = []
        key = here
        runs.append((level, index, bytes(hashes)))
    if runs:
        yield (*key, merkle.tiles_from_runs(runs).get(key[1:], b""))


def tiles_to_nodes(apps, schema_editor):
    node_model, tile_model = apps.get_model("ledger", "MerkleNode"), apps.get_model("ledger", "MerkleTile")
    db = schema_editor.connection.alias
    _lock(schema_editor, TILES)
    rows = tile_model.objects.using(db).order_by("ledger", "level", "index")
    nodes = []
    for ledger, level, index, hashes in _tiles(rows.values_list("ledger", "level", "index", "hashes").iterator(CHUNK)):
        for height in range(merkle.TILE_HEIGHT):
            for position in range(len(hashes) // 32 >> height):
                value = merkle.fold_tile(hashes, position << height, 1 << height)
                first = (index << merkle.TILE_HEIGHT >> height) + position
                nodes.append(node_model(ledger=ledger, level=level + height, index=first, hash=value))
        if len(nodes) >= CHUNK:
            node_model.objects.using(db).bulk_create(nodes)
            nodes = []
    node_model.objects.using(db).bulk_create(nodes)
    _copy_grants(schema_editor, TILES, NODES)


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0007_merklenode_composite_key"),
    ]

    operations = [
        migrations.CreateModel(
            name="MerkleTile",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "ledger", "level", "index", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("ledger", models.CharField(max_length=64)),
                ("level", models.PositiveSmallIntegerField()),
                ("index", models.PositiveBigIntegerField()),
                ("hashes", models.BinaryField()),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            Exact(Length("hashes") - Length("hashes") / 32 * 32, 0),
                            GreaterThanOrEqual(Length("hashes"), 32),
                            LessThanOrEqual((F("index") - F("index") / 16 * 16) * 32 + Length("hashes"), 512),
                        ),
                        name="ledger_merkletile_run",
                    )
                ],
            },
        ),
        migrations.RunPython(nodes_to_tiles, tiles_to_nodes),
        migrations.DeleteModel(name="MerkleNode"),
    ]
