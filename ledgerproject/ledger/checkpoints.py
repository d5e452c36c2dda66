"""Signed Merkle checkpoints of ledgers: the stored tree state, its integration, checkpoints and proofs.

Every ledger has an RFC 6962 Merkle tree over its entries (leaf index = seq − 1). Its complete,
aligned subtrees are stored in MerkleTile rows (ledger, level, index, hashes: runs of up to 16 nodes of a tile
of the levels 0, 4, 8, …; ledger/merkle.py folds the levels between them), inserted only, outside the append
path: by `manage.py checkpoint_ledgers` (cron or `--every`), before every checkpoint and export,
and, if LEDGER_MERKLE_INTEGRATE_ON_APPEND is set, on `entries_appended`; a root or proof then reads
O(log n) rows. Checkpoints sign (origin, tree_size, root, timestamp) with
the Ed25519 key of ledger/signing.py and are append-only. See docs/verification.md.
"""

import base64
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connections, models, router, transaction
from django.utils import timezone

from ledgerproject.ledger import merkle, signing
from ledgerproject.ledger.exceptions import StateConflictError
from ledgerproject.ledger.hashing import format_timestamp
from ledgerproject.ledger.locking import advisory_key
from ledgerproject.ledger.models.entries import newest_seq
from ledgerproject.ledger.models.merkle import Checkpoint, CheckpointQuerySet, MerkleTile
from ledgerproject.ledger.signals import entries_appended

__all__ = ["Checkpoint", "CheckpointQuerySet", "MerkleTile"]

logger = logging.getLogger(__name__)
INTEGRATE_BATCH = 10_000
RUNS_PER_INSERT = 200  # runs per multi-row INSERT (SQLite: 800 parameters, under its oldest limit of 999)
UNNEST_RUNS = 5000  # runs per INSERT … SELECT FROM unnest() (PostgreSQL)


def origin_for(ledger):
    """A checkpoint's origin line: the deployment's origin and the ledger, so no two ledgers share one."""
    return f"{settings.LEDGER_CHECKPOINT_ORIGIN}/{ledger}"


# --- integrating entries into the stored tree ------------------------------------------------------------


def _db(using=None):
    return using or router.db_for_write(MerkleTile)


def _lock_tree(connection, ledger):
    """Serialize integrators of one ledger (not appenders: this is not the append lock)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_key("merkle", ledger)])
    # SQLite: transactions begin IMMEDIATE (settings), so the database write lock is already held.


def integrated_size(ledger, using=None):
    """How many leaves the stored tree holds: the nodes up to the end of the last run of level 0."""
    last = (
        MerkleTile.objects.using(_db(using))
        .filter(ledger=ledger, level=0)
        .order_by("-index")
        .values_list("index", "hashes")
        .first()
    )
    return 0 if last is None else last[0] + len(last[1]) // 32


def fetch_tiles(ledger, keys, using=None):
    """{(level, index): hashes} of the tiles `keys`, laid from their stored runs (merkle.tiles_from_runs), in
    one query.

    Plain SQL: the ORM spends more time building a dozen OR-ed lookups than the database takes to
    answer them. Each term is a range of the key, so both engines answer it from that index.
    """
    keys = sorted(keys)
    if not keys:
        return {}
    connection = connections[_db(using)]
    quote = connection.ops.quote_name
    table, level_col, index_col = quote(MerkleTile._meta.db_table), quote("level"), quote("index")
    term = f"({quote('ledger')} = %s AND {level_col} = %s AND {index_col} >= %s AND {index_col} < %s)"
    params = []
    for level, index in keys:
        params += [ledger, level, index << merkle.TILE_HEIGHT, (index + 1) << merkle.TILE_HEIGHT]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {level_col}, {index_col}, {quote('hashes')} FROM {table} WHERE {' OR '.join([term] * len(keys))}",
            params,
        )
        return merkle.tiles_from_runs(cursor.fetchall())


def fetch_nodes(ledger, wanted, using=None):
    """{(level, index): hash} of the wanted nodes the stored tiles hold, in one query (merkle.tile_of)."""
    return merkle.nodes_from_tiles(wanted, fetch_tiles(ledger, {merkle.tile_of(*node)[:2] for node in wanted}, using))


class MerkleStateError(StateConflictError):
    """The stored tree disagrees with the entries or with an earlier signed checkpoint."""


def integrate(model, upto=None, using=None, batch=INTEGRATE_BATCH, progress=None):
    """Add the ledger's entries beyond the stored tree to it (up to `upto`); return the tree size.

    Idempotent and safe under concurrent integrators: each batch runs in its own transaction under
    the ledger's tree lock, re-reads the stored size, and inserts the nodes it completed. A run already
    stored collides on the primary key and is skipped, and the batch then checks that the stored tree holds
    every node it made: a stored run that disagrees (a stray or damaged row) is a MerkleStateError, never a
    node silently lost.
    """
    db = _db(using)
    name = model.ledger_name
    entries = model._base_manager.using(db)
    while True:
        with transaction.atomic(using=db):
            connection = connections[db]
            _lock_tree(connection, name)
            size = integrated_size(name, db)
            target = newest_seq(entries)
            if upto is not None:
                target = min(target, upto)
            if target <= size:
                return size
            edge_nodes = merkle.Frontier.edge_nodes(size)
            edge = fetch_nodes(name, edge_nodes, db)
            if len(edge) != len(edge_nodes):
                raise MerkleStateError(
                    f"{name}: the stored tree lacks nodes of its right edge; rebuild it (checkpoint_ledgers --rebuild)"
                )
            frontier = merkle.Frontier(size, {level: value for (level, _), value in edge.items()})
            if size:
                _check_last_leaf(name, entries, size, db)
            stop = min(target, size + batch)
            raw = _entry_hashes_joined(connection, model, size, stop)
            if raw is None:
                raw = _entry_hashes_by_row(name, entries, size, stop)
            runs = frontier.push_runs(raw)
            if _insert_runs(connection, name, runs) < len(runs):
                _check_runs_stored(name, runs, db)
            if progress is not None:
                progress(frontier.size - size)
            if frontier.size >= target:
                return frontier.size


def _check_runs_stored(name, runs, db):
    """Raise MerkleStateError unless the stored tiles hold every node of `runs` (some were already stored)."""
    made = {
        (level, index + position): value
        for level, index, hashes in runs
        for position, value in enumerate(merkle.split_hashes(hashes))
    }
    if fetch_nodes(name, made.keys(), db) != made:
        raise MerkleStateError(
            f"{name}: the stored tree holds nodes that disagree with the entries beyond its size; "
            "rebuild it (checkpoint_ledgers --rebuild)"
        )


def _entry_hashes_joined(connection, model, size, stop):
    """The raw 32-byte entry hashes of seqs size+1 … `stop`, concatenated in seq order, PostgreSQL's fast
    way; None on other engines or when the entries are not a clean run of 64-hex-digit hashes, which the
    row-by-row read (_entry_hashes_by_row) then reports as it always has.

    The batch's hashes come back as one text (string_agg in seq order): one value to read, where a row
    per entry cost more than hashing it. Seq is the primary key, so as many rows as seqs in the range
    means none is missing. Lengths are counted in bytes (a third of the read's server time less than in
    characters): a hash of 64 bytes holding a non-ASCII character still fails the hex decoding below."""
    if connection.vendor != "postgresql":
        return None
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), min(octet_length(entry_hash)), max(octet_length(entry_hash)), "
            f"string_agg(entry_hash, '' ORDER BY seq) FROM {table} WHERE seq > %s AND seq <= %s",
            [size, stop],
        )
        count, shortest, longest, joined = cursor.fetchone()
    if count != stop - size or shortest != 64 or longest != 64:
        return None
    try:
        raw = bytes.fromhex(joined)
    except ValueError:
        return None
    if len(raw) != 32 * count:  # fromhex skips spaces: a hash holding one is shorter than 32 bytes
        return None
    return raw


def _entry_hashes_by_row(name, entries, size, stop):
    """_entry_hashes_joined()'s bytes read row by row: a missing seq is a MerkleStateError, a hash that is
    not 64 hex digits merkle.entry_hash_bytes()' ValueError."""
    raw, expected = [], size + 1
    rows = entries.filter(seq__gt=size, seq__lte=stop).order_by("seq").values_list("seq", "entry_hash")
    for seq, entry_hash in rows.iterator(chunk_size=5000):
        if seq != expected:
            break
        raw.append(merkle.entry_hash_bytes(entry_hash))
        expected += 1
    # Short of `stop` (at most the last seq): a row skipped `expected`, or the rows ended before it.
    if expected != stop + 1:
        raise MerkleStateError(f"{name}: seq {expected} is missing; the tree cannot grow past it")
    return b"".join(raw)


def _insert_runs(connection, ledger, runs):
    """Insert `ledger`'s (level, index, hashes) runs, skipping any already stored (ON CONFLICT DO NOTHING:
    PostgreSQL, and SQLite ≥ 3.24); return how many went in."""
    inserted = 0
    quote = connection.ops.quote_name
    key = ", ".join(quote(column) for column in ("ledger", "level", "index"))
    head = f"INSERT INTO {quote(MerkleTile._meta.db_table)} ({key}, {quote('hashes')}) "
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Four text parameters, split by the server: psycopg's client-side binding parses every %s of a
            # multi-row VALUES list in Python, which cost integration more than the database's inserts.
            for start in range(0, len(runs), UNNEST_RUNS):
                part = runs[start : start + UNNEST_RUNS]
                cursor.execute(
                    f"{head}SELECT %s, u.l::smallint, u.i::bigint, decode(u.h, 'hex') FROM unnest("
                    "string_to_array(%s::text, ','), string_to_array(%s::text, ','), string_to_array(%s::text, ',')"
                    f") AS u(l, i, h) ON CONFLICT ({key}) DO NOTHING",
                    [
                        ledger,
                        ",".join([str(level) for level, _, _ in part]),
                        ",".join([str(index) for _, index, _ in part]),
                        ",".join([hashes.hex() for _, _, hashes in part]),
                    ],
                )
                inserted += cursor.rowcount
            return inserted
        for start in range(0, len(runs), RUNS_PER_INSERT):
            part = runs[start : start + RUNS_PER_INSERT]
            values = ", ".join(["(%s, %s, %s, %s)"] * len(part))
            params = [value for level, index, hashes in part for value in (ledger, level, index, hashes)]
            cursor.execute(f"{head}VALUES {values} ON CONFLICT ({key}) DO NOTHING", params)
            inserted += cursor.rowcount
    return inserted


def _check_last_leaf(name, entries, size, db):
    """A cheap guard: the stored last leaf must still be the leaf of entry `size` (else the chain was rewritten)."""
    stored = fetch_nodes(name, {(0, size - 1)}, db).get((0, size - 1))
    current = entries.filter(seq=size).values_list("entry_hash", flat=True).first()
    if stored is None or current is None or merkle.leaf_hash(current) != stored:
        raise MerkleStateError(
            f"{name}: entry {size} no longer matches the Merkle tree built from it; the ledger was changed "
            "behind the append path (rebuilding the tree will not make old checkpoints agree)"
        )


def rebuild(model, using=None, progress=None):
    """Throw away the stored tree of a ledger and integrate it again from its entries."""
    db = _db(using)
    with transaction.atomic(using=db):
        _lock_tree(connections[db], model.ledger_name)
        # The tree is derived state: deleting it is allowed (checkpoints stay, and are checked against it).
        models.QuerySet(MerkleTile, using=db).filter(ledger=model.ledger_name)._raw_delete(db)
    return integrate(model, using=db, progress=progress)


def tree(ledger, size, using=None):
    """The stored tree of `ledger` read at `size` leaves (roots and proofs in O(log n) reads)."""
    return merkle.Tree(size, lambda wanted: fetch_nodes(ledger, wanted, using))


def _integrate_after_append(sender, first_seq, last_seq, using, **kwargs):
    # Off by default: it would run in the appending request (after commit, outside the append lock, but
    # still on the client's clock) and add a few statements and a row to every append. Checkpoints and
    # exports integrate first anyway, and `checkpoint_ledgers --every` keeps trees fresh in the background.
    # When on, a failure must not turn a stored append into an error: the next integration catches up.
    if not getattr(settings, "LEDGER_MERKLE_INTEGRATE_ON_APPEND", False):
        return
    try:
        integrate(sender, upto=last_seq, using=using)
    except Exception:
        logger.exception(
            "could not integrate %s entries %s–%s into its Merkle tree", sender.ledger_name, first_seq, last_seq
        )


entries_appended.connect(_integrate_after_append, dispatch_uid="ledger.checkpoints.integrate")


# --- checkpoints -----------------------------------------------------------------------------------------


class EmptyLedgerError(StateConflictError):
    """An empty ledger has nothing to checkpoint."""


def latest_checkpoint(ledger, using=None):
    return Checkpoint.objects.using(using or router.db_for_read(Checkpoint)).latest_for(ledger)


def make_checkpoint(model, using=None):
    """Sign a checkpoint of the ledger's current tree if it grew since the last one: (checkpoint, created).

    Refuses (MerkleStateError) when the tree at the last checkpoint's size no longer has that
    checkpoint's root: the server never signs a history that contradicts what it signed before.
    """
    db = _db(using)
    name = model.ledger_name
    integrate(model, using=db)
    with transaction.atomic(using=db):
        _lock_tree(connections[db], name)
        size = integrated_size(name, db)
        latest = Checkpoint.objects.using(db).latest_for(name)
        if latest is not None and latest.tree_size >= size:
            return latest, False
        if size == 0:
            raise EmptyLedgerError(f"ledger {name} is empty: there is nothing to checkpoint yet")
        current = tree(name, size, db)
        if latest is not None and current.root(latest.tree_size) != latest.root:
            raise MerkleStateError(
                f"{name}: the tree's first {latest.tree_size} leaves no longer have the root signed at "
                f"{latest.timestamp}; refusing to sign a history that contradicts it"
            )
        return sign_checkpoint(name, size, current.root(), using=db), True


def sign_checkpoint(ledger, size, root, using=None, moment=None):
    """Sign and store a checkpoint of (ledger, size, root) as is (make_checkpoint decides whether to)."""
    origin = origin_for(ledger)
    timestamp = format_timestamp(moment or timezone.now())
    key_id, signature = signing.sign(signing.note_body(origin, size, root, timestamp))
    checkpoint = Checkpoint(
        ledger=ledger,
        origin=origin,
        tree_size=size,
        root_hash=root.hex(),
        timestamp=timestamp,
        key_id=key_id,
        signature=signature,
    )
    try:
        with transaction.atomic(using=using):
            checkpoint.save(using=using)
    except IntegrityError:
        # Someone signed this size at the same moment: theirs stands.
        return Checkpoint.objects.using(using).get(ledger=ledger, tree_size=size)
    return checkpoint


def signed_checkpoint_at(ledger, size, using=None):
    return (
        Checkpoint.objects.using(using or router.db_for_read(Checkpoint)).filter(ledger=ledger, tree_size=size).first()
    )


# --- verifying the entries against the signed checkpoints ------------------------------------------------


@dataclass
class CheckpointCheck:
    """The outcome of comparing a ledger's entries with its signed checkpoints."""

    ok: bool
    checked: int  # checkpoints compared
    latest_tree_size: int | None = None
    bad_checkpoint: int | None = None  # tree_size of the first checkpoint that fails
    first_bad_seq: int | None = None
    reason: str = ""


def _signature_ok(checkpoint):
    """Whether the checkpoint's signature verifies; None when it names another (rotated) key."""
    from cryptography.exceptions import InvalidSignature

    if checkpoint.key_id != signing.key_id():
        return None
    try:
        signing.signing_key().public_key().verify(
            base64.b64decode(checkpoint.signature), checkpoint.body.encode("utf-8")
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def _first_changed_leaf(name, entries, lo, hi, db):
    """The first seq in (lo, hi] whose leaf differs from the stored tree's leaf, or None (not known)."""
    stored = (
        MerkleTile.objects.using(db)
        .filter(ledger=name, level=0, index__gte=lo >> merkle.TILE_HEIGHT << merkle.TILE_HEIGHT, index__lt=hi)
        .order_by("index")
        .values_list("index", "hashes")
    )
    current = entries.filter(seq__gt=lo, seq__lte=hi).order_by("seq").values_list("seq", "entry_hash")
    leaves = _stored_leaves(stored.iterator(chunk_size=500), lo, hi)
    for (index, value), (seq, entry_hash) in zip(leaves, current.iterator(chunk_size=5000), strict=False):
        if index + 1 != seq or merkle.leaf_hash(entry_hash) != value:
            return seq
    return None


def _stored_leaves(runs, lo, hi):
    """(index, leaf hash) of the stored leaves lo … hi−1 in order, from level-0 (index, hashes) runs sorted by
    index; they end where the stored leaves stop following each other."""
    expected = None
    for index, hashes in runs:
        if expected is not None and index != expected:
            return
        leaves = merkle.split_hashes(bytes(hashes))
        expected = index + len(leaves)
        for position in range(max(lo - index, 0), min(len(leaves), hi - index)):
            yield index + position, leaves[position]


def verify_against_checkpoints(model, using=None, upto=None):
    """Recompute the Merkle root of the entries at every signed checkpoint's size (up to `upto`) and compare.

    One pass over (seq, entry_hash) in seq order: the root at each checkpoint's size is taken from the
    entries themselves (never from the stored tree, which a rewrite leaves behind), so every checkpoint is
    also checked to be consistent with the one before (both are prefixes of one recomputed tree). Each
    checkpoint's signature is checked with the signing key (a checkpoint of a rotated key is checked for
    its root only). A rewritten entry or suffix is reported naming the first checkpoint it contradicts
    and, where the stored tree still holds the old leaves, the first changed seq.
    """
    db = using or router.db_for_read(Checkpoint)
    name = model.ledger_name
    signed = Checkpoint.objects.using(db).filter(ledger=name)
    if upto is not None:
        signed = signed.filter(tree_size__lte=upto)
    signed = list(signed.order_by("tree_size"))
    if not signed:
        return CheckpointCheck(True, 0, reason="no signed checkpoint yet")
    latest = signed[-1].tree_size

    matched = 0  # checkpoints whose root the entries gave, so far

    def bad(checkpoint, reason, seq=None):
        return CheckpointCheck(False, matched, latest, checkpoint.tree_size, seq, reason)

    for checkpoint in signed:
        if checkpoint.origin != origin_for(name) and not checkpoint.origin.endswith(f"/{name}"):
            return bad(checkpoint, f"checkpoint @{checkpoint.tree_size} names origin {checkpoint.origin!r}")
        if _signature_ok(checkpoint) is False:
            return bad(checkpoint, f"checkpoint @{checkpoint.tree_size}: the signature does not verify")
    entries = model._base_manager.using(db)
    frontier, pending, previous = merkle.Frontier(), list(signed), 0
    rows = entries.filter(seq__lte=latest).order_by("seq").values_list("seq", "entry_hash")
    for seq, entry_hash in rows.iterator(chunk_size=5000):
        if seq != frontier.size + 1:
            return bad(pending[0], f"seq {frontier.size + 1} is missing below checkpoint @{pending[0].tree_size}", seq)
        frontier.push(merkle.leaf_hash(entry_hash))
        while pending and pending[0].tree_size == frontier.size:
            checkpoint = pending.pop(0)
            if frontier.root() != checkpoint.root:
                first = _first_changed_leaf(name, entries, previous, checkpoint.tree_size, db)
                where = f"; the first changed entry is seq {first}" if first else ""
                return bad(
                    checkpoint,
                    f"the entries' Merkle root at tree size {checkpoint.tree_size} differs from the root signed in "
                    f"checkpoint @{checkpoint.tree_size} ({checkpoint.timestamp}): an entry at or below seq "
                    f"{checkpoint.tree_size} was rewritten{where}",
                    first,
                )
            previous = checkpoint.tree_size
            matched += 1
    if pending:
        return bad(
            pending[0],
            f"checkpoint @{pending[0].tree_size} covers {pending[0].tree_size} entries but the ledger holds "
            f"{frontier.size}: entries were removed",
            frontier.size + 1,
        )
    return CheckpointCheck(True, len(signed), latest)


# --- proofs ----------------------------------------------------------------------------------------------


def inclusion_proof(ledger, seq, tree_size, entry_hash=None, using=None):
    """The API's inclusion proof of entry `seq` in the tree of `tree_size` leaves."""
    path = tree(ledger, tree_size, using).inclusion_proof(seq - 1)
    leaf = fetch_nodes(ledger, {(0, seq - 1)}, using)[(0, seq - 1)]
    proof = {
        "leaf_index": seq - 1,
        "tree_size": tree_size,
        "leaf_hash": leaf.hex(),
        "audit_path": [value.hex() for value in path],
        "seq": seq,
    }
    if entry_hash is not None:
        proof["entry_hash"] = entry_hash
    return proof


def consistency_proof(ledger, first, second, using=None):
    path = tree(ledger, second, using).consistency_proof(first, second)
    return {"first": first, "second": second, "proof": [value.hex() for value in path]}
