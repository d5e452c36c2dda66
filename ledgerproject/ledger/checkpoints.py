"""Signed Merkle checkpoints of ledgers: the stored tree state, its integration, checkpoints and proofs.

Every ledger has an RFC 6962 Merkle tree over its entries (leaf index = seq − 1). Its complete,
aligned subtrees are stored as MerkleNode rows (ledger, level, index, hash), written once, outside the
append path: by `manage.py checkpoint_ledgers` (cron or `--every`), before every checkpoint and export,
and, if LEDGER_MERKLE_INTEGRATE_ON_APPEND is set, on `entries_appended`; a root or proof then reads
O(log n) rows. Checkpoints sign (origin, tree_size, root, timestamp) with
the Ed25519 key of ledger/signing.py and are append-only. See docs/verification.md.
"""

import base64
import itertools
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connections, models, router, transaction
from django.utils import timezone

from ledgerproject.ledger import merkle, signing
from ledgerproject.ledger.chain import copy_statement
from ledgerproject.ledger.exceptions import StateConflictError
from ledgerproject.ledger.hashing import format_timestamp
from ledgerproject.ledger.locking import advisory_key
from ledgerproject.ledger.models.merkle import Checkpoint, CheckpointQuerySet, MerkleNode
from ledgerproject.ledger.signals import entries_appended

__all__ = ["Checkpoint", "CheckpointQuerySet", "MerkleNode"]

logger = logging.getLogger(__name__)
INTEGRATE_BATCH = 10_000
UNNEST_CHUNK = 20_000  # Merkle node rows per INSERT on PostgreSQL


def origin_for(ledger):
    """A checkpoint's origin line: the deployment's origin and the ledger, so no two ledgers share one."""
    return f"{settings.LEDGER_CHECKPOINT_ORIGIN}/{ledger}"


# --- integrating entries into the stored tree ------------------------------------------------------------


def _db(using=None):
    return using or router.db_for_write(MerkleNode)


def _lock_tree(connection, ledger):
    """Serialize integrators of one ledger (not appenders: this is not the append lock)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_key("merkle", ledger)])
    # SQLite: transactions begin IMMEDIATE (settings), so the database write lock is already held.


def integrated_size(ledger, using=None):
    """How many leaves the stored tree holds (level-0 nodes are written with the subtrees they finish)."""
    last = (
        MerkleNode.objects.using(_db(using))
        .filter(ledger=ledger, level=0)
        .order_by("-index")
        .values_list("index", flat=True)
        .first()
    )
    return 0 if last is None else last + 1


def fetch_nodes(ledger, wanted, using=None):
    """{(level, index): hash} of the wanted stored nodes, in one query.

    Plain SQL: the ORM spends more time building a dozen OR-ed lookups than the database takes to
    answer them. Each term names the whole unique key, so both engines answer it from that index.
    """
    wanted = sorted(wanted)
    if not wanted:
        return {}
    connection = connections[_db(using)]
    quote = connection.ops.quote_name
    table, level_col, index_col = quote(MerkleNode._meta.db_table), quote("level"), quote("index")
    terms = " OR ".join([f"({quote('ledger')} = %s AND {level_col} = %s AND {index_col} = %s)"] * len(wanted))
    params = [value for level, index in wanted for value in (ledger, level, index)]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {level_col}, {index_col}, {quote('hash')} FROM {table} WHERE {terms}", params)
        return {(level, index): bytes(value) for level, index, value in cursor.fetchall()}


class MerkleStateError(StateConflictError):
    """The stored tree disagrees with the entries or with an earlier signed checkpoint."""


def integrate(model, upto=None, using=None, batch=INTEGRATE_BATCH, progress=None):
    """Add the ledger's entries beyond the stored tree to it (up to `upto`); return the tree size.

    Idempotent and safe under concurrent integrators: each batch runs in its own transaction under
    the ledger's tree lock, re-reads the stored size, and inserts rows that are a pure function of
    the entries (a repeat collides on the unique constraint and is ignored).
    """
    db = _db(using)
    name = model.ledger_name
    entries = model._base_manager.using(db)
    while True:
        with transaction.atomic(using=db):
            _lock_tree(connections[db], name)
            size = integrated_size(name, db)
            target = entries.order_by("-seq").values_list("seq", flat=True).first() or 0
            if upto is not None:
                target = min(target, upto)
            if target <= size:
                return size
            edge = fetch_nodes(name, merkle.Frontier.edge_nodes(size), db)
            frontier = merkle.Frontier(size, {level: value for (level, _), value in edge.items()})
            if size:
                _check_last_leaf(name, entries, size, db)
            stop = min(target, size + batch)
            if _integrate_copy(connections[db], model, frontier, stop):
                if progress is not None:
                    progress(frontier.size - size)
                continue
            rows = []
            for seq, entry_hash in (
                entries.filter(seq__gt=size, seq__lte=stop).order_by("seq").values_list("seq", "entry_hash")
            ):
                if seq != frontier.size + 1:
                    raise MerkleStateError(f"{name}: seq {frontier.size + 1} is missing; the tree cannot grow past it")
                for (level, index), value in frontier.push(merkle.leaf_hash(entry_hash)):
                    rows.append((name, level, index, value))
            _insert_nodes(connections[db], rows)
            if progress is not None:
                progress(frontier.size - size)
        if frontier.size >= target:
            return frontier.size


def _integrate_copy(connection, model, frontier, stop):
    """Grow `frontier` with entries frontier.size+1 … `stop` and store the nodes they make, PostgreSQL's
    fast way; False (nothing done) on other engines or when the entries are not a clean run of 64-hex-digit
    hashes, which the row-by-row path then reports as it always has.

    The batch's hashes come back as one text (string_agg in seq order): one value to read, where a row
    per entry cost more than hashing it. Seq is the primary key, so as many rows as seqs in the range
    means none is missing. Lengths are counted in bytes (a third of the read's server time less than in
    characters): a hash of 64 bytes holding a non-ASCII character still fails the hex decoding below.
    The nodes go in by binary COPY, several times faster than an INSERT; under the tree lock, with the
    stored size just re-read, none of them exists yet. Should one exist anyway (a stored tree ahead of
    its leaves), the COPY is undone and the nodes are inserted skipping it."""
    if connection.vendor != "postgresql":
        return False
    size = frontier.size
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), min(octet_length(entry_hash)), max(octet_length(entry_hash)), "
            f"string_agg(entry_hash, '' ORDER BY seq) FROM {table} WHERE seq > %s AND seq <= %s",
            [size, stop],
        )
        count, shortest, longest, joined = cursor.fetchone()
    if count != stop - size or shortest != 64 or longest != 64:
        return False
    try:
        raw = bytes.fromhex(joined)
    except ValueError:
        return False
    if len(raw) != 32 * count:  # fromhex skips spaces: a hash holding one is shorter than 32 bytes
        return False
    ledger, start = model.ledger_name, (frontier.size, dict(frontier.edge))
    # Hashed a block at a time as the COPY sends them: the server stores one block while the next is hashed.
    step = 32 * COPY_LEAVES
    blocks = (frontier.push_entry_hashes(raw[offset : offset + step]) for offset in range(0, len(raw), step))
    try:
        with transaction.atomic(using=connection.alias):
            _copy_nodes(connection, ledger, blocks)
    except IntegrityError:
        frontier.size, frontier.edge = start
        made = frontier.push_entry_hashes(raw)
        _insert_nodes(connection, [(ledger, level, index, value) for level, index, value in made])
    return True


# PostgreSQL's binary COPY: the signature, flags and header extension, then per row its field count and
# each field as a 32-bit length and its bytes (text as UTF-8, smallint 2 bytes, bigint 8, bytea raw).
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_COPY_TRAILER = b"\xff\xff"
COPY_LEAVES = 2048  # entries hashed per block of nodes sent


def _copy_nodes(connection, ledger, blocks):
    """Store `ledger`'s nodes, given as blocks (lists) of (level, index, hash), by COPY … FROM STDIN in binary."""
    import struct

    name = ledger.encode()
    pack = struct.Struct(f"!hi{len(name)}sihiqi32s").pack
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in ("ledger", "level", "index", "hash"))
    statement = f"COPY {quote(MerkleNode._meta.db_table)} ({columns}) FROM STDIN (FORMAT BINARY)"
    with copy_statement(connection, statement) as copy:
        copy.write(_COPY_HEADER)
        for block in blocks:
            copy.write(
                b"".join([pack(4, len(name), name, 2, level, 8, index, 32, value) for level, index, value in block])
            )
        copy.write(_COPY_TRAILER)


def _insert_nodes(connection, rows, chunk=500):
    """Insert (ledger, level, index, hash) rows, skipping ones a concurrent integrator already wrote.

    Multi-row INSERT statements of plain SQL: several times faster than building model instances for
    bulk_create; ON CONFLICT DO NOTHING is understood by both PostgreSQL and SQLite ≥ 3.24.
    """
    quote = connection.ops.quote_name
    key = ", ".join(quote(column) for column in ("ledger", "level", "index"))
    head = f"INSERT INTO {quote(MerkleNode._meta.db_table)} ({key}, {quote('hash')}) "
    if connection.vendor == "postgresql":
        # A few text parameters per statement, split by the server: psycopg's client-side binding
        # parses every %s of a multi-row VALUES list (and escapes every array element) in Python,
        # which cost more than the hashing and the database together.
        with connection.cursor() as cursor:
            for ledger, group in itertools.groupby(rows, key=lambda row: row[0]):
                group = list(group)
                for start in range(0, len(group), UNNEST_CHUNK):
                    part = group[start : start + UNNEST_CHUNK]
                    cursor.execute(
                        f"{head}SELECT %s, u.l::smallint, u.i::bigint, decode(u.h, 'hex') FROM unnest("
                        "string_to_array(%s::text, ','), string_to_array(%s::text, ','), string_to_array(%s::text, ',')"
                        f") AS u(l, i, h) ON CONFLICT ({key}) DO NOTHING",
                        [
                            ledger,
                            ",".join(str(row[1]) for row in part),
                            ",".join(str(row[2]) for row in part),
                            ",".join(row[3].hex() for row in part),
                        ],
                    )
        return
    head += "VALUES "
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            values = ", ".join(["(%s, %s, %s, %s)"] * len(part))
            cursor.execute(f"{head}{values} ON CONFLICT ({key}) DO NOTHING", [value for row in part for value in row])


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
        models.QuerySet(MerkleNode, using=db).filter(ledger=model.ledger_name)._raw_delete(db)
    return integrate(model, using=db, progress=progress)


def tree(ledger, size, using=None):
    """The stored tree of `ledger` read at `size` leaves (roots and proofs in O(log n) reads)."""
    return merkle.Tree(size, lambda wanted: fetch_nodes(ledger, wanted, using))


def _integrate_after_append(sender, first_seq, last_seq, using, **kwargs):
    # Off by default: it would run in the appending request (after commit, outside the append lock, but
    # still on the client's clock) and roughly double the rows a batch append writes. Checkpoints and
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
        MerkleNode.objects.using(db)
        .filter(ledger=name, level=0, index__gte=lo, index__lt=hi)
        .order_by("index")
        .values_list("index", "hash")
    )
    current = entries.filter(seq__gt=lo, seq__lte=hi).order_by("seq").values_list("seq", "entry_hash")
    pairs = zip(stored.iterator(chunk_size=5000), current.iterator(chunk_size=5000), strict=False)
    for (index, value), (seq, entry_hash) in pairs:
        if index + 1 != seq or merkle.leaf_hash(entry_hash) != bytes(value):
            return seq
    return None


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
