"""The stored Merkle tree tiles and signed checkpoints (their logic is ledger/checkpoints.py)."""

from django.db import models
from django.db.models import F
from django.db.models.functions import Length
from django.db.models.lookups import Exact, GreaterThanOrEqual, LessThanOrEqual
from django.utils import timezone

from ledgerproject.ledger import signing
from ledgerproject.ledger.exceptions import ImmutableEntryError
from ledgerproject.ledger.merkle import TILE_WIDTH
from ledgerproject.ledger.models.entries import AppendOnlyQuerySet


class MerkleTile(models.Model):
    """A run of consecutive nodes of one tile level (0, 4, 8, …) of a ledger's Merkle tree, within one tile:
    the nodes (level, index), (level, index + 1), … each the complete subtree over leaves
    [n·2^level, (n+1)·2^level) of its node index n, their 32-byte hashes concatenated in `hashes`.
    ledger/merkle.py lays a tile's runs end to end and folds the levels in between from it.

    An integration stores the nodes it completed, cut where a tile ends: a tile filled in one go is one row,
    one filled over several integrations one row per integration. Rows are only ever inserted (integration
    needs no privilege but INSERT), and no node is stored twice. Derived from the entries and rebuildable
    (`checkpoint_ledgers --rebuild`). Tampering with them cannot forge anything: roots are signed and exports
    re-derive them. Not in the admin (Django's admin takes no composite keys).
    """

    # The run's first node is its key: one index serves every root/proof read (the runs of a tile: ledger,
    # level and an index range), the integrated size (the last run of level 0), and makes concurrent integrators'
    # identical inserts collide harmlessly. Tiles instead of a row per node: about n/15 rows for n leaves
    # integrated in batches instead of 2n, which were most of integration's time (migration 0008 moved them).
    pk = models.CompositePrimaryKey("ledger", "level", "index")
    ledger = models.CharField(max_length=64)
    level = models.PositiveSmallIntegerField()
    index = models.PositiveBigIntegerField()
    hashes = models.BinaryField()

    replica_reads = True  # roots and proofs may be read from a replica (ledger/routers.py)

    class Meta:
        constraints = [
            # Whole hashes, at least one, and no further than the end of the run's tile. Integer division, not
            # MOD(), which SQLite has only when built with its math functions (Django adds it to its own connections).
            models.CheckConstraint(
                condition=Exact(Length("hashes") - Length("hashes") / 32 * 32, 0)
                & GreaterThanOrEqual(Length("hashes"), 32)
                & LessThanOrEqual(
                    (F("index") - F("index") / TILE_WIDTH * TILE_WIDTH) * 32 + Length("hashes"), 32 * TILE_WIDTH
                ),
                name="ledger_merkletile_run",
            ),
        ]

    def __str__(self):
        return f"{self.ledger} nodes {self.level}/{self.index}+{len(self.hashes) // 32}"


class CheckpointQuerySet(AppendOnlyQuerySet):
    def latest_for(self, ledger):
        return self.filter(ledger=ledger).order_by("-tree_size").first()


class Checkpoint(models.Model):
    """A signed statement: ledger `ledger` had `tree_size` entries with Merkle root `root_hash` at `timestamp`."""

    ledger = models.CharField(max_length=64)
    origin = models.CharField(max_length=255)
    tree_size = models.PositiveBigIntegerField()
    root_hash = models.CharField(max_length=64)
    # The exact text that was signed (ISO 8601, UTC); kept as text so the body is reproduced byte for byte.
    timestamp = models.CharField(max_length=40)
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    # Its table carries the kernel's append-only triggers (migration 0002); the test reset lifts them too.
    append_only = True
    replica_reads = True  # the latest checkpoint on pages and proofs; see ledger/routers.py

    objects = CheckpointQuerySet.as_manager()

    class Meta:
        constraints = [
            # One checkpoint per size; serves "latest checkpoint of a ledger" (order by -tree_size) and
            # "is N a signed size" lookups, and makes two concurrent checkpointers agree on one row.
            models.UniqueConstraint(fields=["ledger", "tree_size"], name="ledger_checkpoint_unique_size"),
        ]

    def __str__(self):
        return f"{self.ledger} checkpoint @{self.tree_size}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableEntryError(f"checkpoint {self} is append-only and cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableEntryError(f"checkpoint {self} is append-only and cannot be deleted")

    @property
    def root(self):
        return bytes.fromhex(self.root_hash)

    @property
    def body(self):
        return signing.note_body(self.origin, self.tree_size, self.root, self.timestamp)

    def as_dict(self):
        return {
            "ledger": self.ledger,
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": self.signature,
            "note": signing.signed_note(self.body, self.signature),
        }
