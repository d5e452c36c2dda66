"""Merkle trees stored in tiles of up to 16 nodes of the levels 0, 4, 8, … instead of a row per node.

Integration spent most of its time on the database's inserts, two rows per entry; a tile row holds 16 nodes
and the levels in between are folded from it when read (ledger/merkle.py), about n/15 rows for n leaves.
The stored nodes are regrouped, not recomputed: the nodes of the tile levels, in index order, become the
tiles (the last of each level as wide as the nodes it has), so every stored tree keeps its hashes and roots
and proofs read the same before and after. On PostgreSQL the privileges other roles held on the node table
(the application role's SELECT, INSERT) are granted on the tile table. Reversible: the nodes of every
level are made again from the tiles.
"""

import importlib

from django.db import migrations, models
from django.db.models.functions import Mod

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


def _tile(tile_model, key, hashes):
    ledger, level, index = key
    return tile_model(ledger=ledger, level=level, index=index, width=len(hashes), hashes=b"".join(hashes))


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
    tiles, key, hashes = [], None, []
    for ledger, level, index, value in nodes.iterator(chunk_size=CHUNK):
        here = (ledger, level, index >> merkle.TILE_HEIGHT)
        if here != key:
            if hashes:
                tiles.append(_tile(tile_model, key, hashes))
            key, hashes = here, []
        if index & (merkle.TILE_WIDTH - 1) == len(hashes):  # a tile holds its level's nodes from its first on
            hashes.append(bytes(value))
        if len(tiles) >= CHUNK:
            tile_model.objects.using(db).bulk_create(tiles)
            tiles = []
    if hashes:
        tiles.append(_tile(tile_model, key, hashes))
    tile_model.objects.using(db).bulk_create(tiles)
    _copy_grants(schema_editor, NODES, TILES)


def tiles_to_nodes(apps, schema_editor):
    node_model, tile_model = apps.get_model("ledger", "MerkleNode"), apps.get_model("ledger", "MerkleTile")
    db = schema_editor.connection.alias
    _lock(schema_editor, TILES)
    tiles = tile_model.objects.using(db).order_by("ledger", "level", "index", "-width")
    nodes, last = [], None
    for ledger, level, index, hashes in tiles.values_list("ledger", "level", "index", "hashes").iterator(CHUNK):
        if (ledger, level, index) == last:  # a narrower copy of the tile just read
            continue
        last, hashes = (ledger, level, index), bytes(hashes)
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
                        "ledger",
                        "level",
                        "index",
                        "width",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("ledger", models.CharField(max_length=64)),
                ("level", models.PositiveSmallIntegerField()),
                ("index", models.PositiveBigIntegerField()),
                ("width", models.PositiveSmallIntegerField()),
                ("hashes", models.BinaryField()),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("width__gte", 1), ("width__lte", 16)), name="ledger_merkletile_width"
                    )
                ],
            },
        ),
        migrations.RunPython(nodes_to_tiles, tiles_to_nodes),
        migrations.DeleteModel(name="MerkleNode"),
    ]
