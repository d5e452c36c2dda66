"""Re-walks a ledger's hash chain in the database and names the first bad seq and why."""

import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import re
from contextlib import ExitStack, closing, contextmanager
from dataclasses import asdict, dataclass

import orjson

from ledgerproject.ledger import fastjson, hashing
from ledgerproject.ledger.validators import MAX_JSON_INT

BATCH = 5000

logger = logging.getLogger(__name__)


@dataclass
class VerifyResult:
    ledger: str
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""
    # How many signed checkpoints the entries were compared with, and the tree size of the one that failed.
    checkpoints_checked: int = 0
    bad_checkpoint: int | None = None

    def as_dict(self):
        return asdict(self)


def verify_ledger(model, using=None, progress=None, links_only=False, workers=1):
    """Everything the server checks about a ledger: the chain (links and canonical bytes; with
    `links_only`, the links alone; walked by up to `workers` processes, see walk_segments()), then the
    entries against every signed checkpoint (roots recomputed from the entries, signatures, each
    consistent with the one before). Writes nothing."""
    from ledgerproject.ledger.checkpoints import verify_against_checkpoints

    walk = verify_links if links_only else verify_chain
    result = walk(model, using=using, progress=progress, workers=workers)
    if not result.ok:
        return result
    signed = verify_against_checkpoints(model, using=using)
    result.checkpoints_checked = signed.checked
    if not signed.ok:
        result.ok = False
        result.first_bad_seq = signed.first_bad_seq
        result.bad_checkpoint = signed.bad_checkpoint
        result.reason = signed.reason
    return result


def _integral_float(text):
    # RFC 8785 writes 1.0 as 1: parse integral floats as ints so both sides spell numbers alike.
    value = float(text)
    return int(value) if value.is_integer() and abs(value) <= MAX_JSON_INT else value


def _encode_other(value):
    converted = hashing.jsonable(value)
    if converted is value:
        raise TypeError(f"{type(value).__name__} is not JSON")
    return converted


def _normal_text(value, already_parsed=False):
    """One spelling of a JSON value (sorted keys, integral floats as ints), made by the C codec:
    comparing these texts tells true from 1 and "1" from 1, as the canonical bytes do."""
    if not already_parsed:
        value = json.loads(json.dumps(value, default=_encode_other), parse_float=_integral_float)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _changed_fields(hashed, current):
    if not isinstance(hashed, dict):
        return []
    keys = hashed.keys() | current.keys()
    return sorted(
        k
        for k in keys
        if k not in hashed or k not in current or _normal_text(hashed[k], True) != _normal_text(current[k])
    )


def verify_links(model, using=None, progress=None, workers=1):
    """The fast walk: seq continuity, prev links, SHA-256 of each stored canonical text, and that the
    canonical names this ledger and seq. It does not compare the canonical content with the columns
    (verify_chain does), so it catches any rewrite of hashed bytes but not a column edited alone.
    `workers`: see walk_segments()."""
    return walk_segments(model, _links_segment, using, progress, workers)


def _links_segment(model, alias, segment, progress):
    """verify_links() over one _Segment: a VerifyResult whose `checked` counts the segment's entries."""
    from django.db import connections

    name = model.ledger_name
    table = connections[alias].ops.quote_name(model._meta.db_table)
    ledger_marker = ',"ledger":' + hashing.canonical_json(name) + ',"recorded_at":'
    expected_seq, prev = segment.after + 1, segment.prev
    sha256, fromhex = hashlib.sha256, bytes.fromhex
    where, params = segment.where("seq")
    with connections[alias].chunked_cursor() as cursor:
        cursor.execute(f"SELECT seq, prev_entry_hash, entry_hash, canonical FROM {table} {where} ORDER BY seq", params)
        while rows := cursor.fetchmany(BATCH):
            for seq, prev_hash, this_hash, canonical in rows:
                problem = None
                if seq != expected_seq:
                    seq, problem = expected_seq, f"seq {expected_seq} is missing (the next entry has seq {seq})"
                elif prev_hash != prev:
                    problem = "prev_entry_hash does not match the previous entry's entry_hash"
                elif sha256(fromhex(prev) + canonical.encode()).hexdigest() != this_hash:
                    problem = "entry_hash does not match SHA-256(prev_entry_hash || canonical)"
                # RFC 8785 puts "seq" last and "ledger" right before "recorded_at".
                elif not canonical.endswith(f',"seq":{seq}}}') or ledger_marker not in canonical:
                    problem = "the canonical form names another ledger or seq"
                if problem:
                    return VerifyResult(name, False, expected_seq - 1 - segment.after, seq, problem)
                prev = this_hash
                expected_seq += 1
            if progress is not None:
                progress(len(rows))
    return segment.ended(model, alias, expected_seq - 1 - segment.after)


def verify_chain(model, using=None, progress=None, workers=1):
    """Walk `model`'s entries by seq and check, for each one, that:

    - seqs run 1, 2, 3, … with no gap;
    - prev_entry_hash is the previous entry's entry_hash (64 zeros for the first);
    - entry_hash = SHA-256(prev || canonical);
    - the stored canonical text names this ledger, seq, recorded_at and recorded_by, and its
      content equals the row's current column values (so a column changed behind the
      triggers' back is caught even when the hashes were left alone).

    `workers`: see walk_segments().
    """
    return walk_segments(model, _chain_segment, using, progress, workers)


def _chain_segment(model, alias, segment, progress):
    """verify_chain() over one _Segment: a VerifyResult whose `checked` counts the segment's entries."""
    from django.db import connections

    content_fields = model.content_fields()
    columns = ["seq", "recorded_at", "recorded_by_name", "prev_entry_hash", "entry_hash", "canonical"]
    columns += [f.attname for f in content_fields]
    queryset, columns[1] = with_recorded_at_text(model._base_manager.using(alias).filter(**segment.lookups()))
    queryset = queryset.order_by("seq").values_list(*columns)
    walk = _ChainWalk(model, content_fields, segment)
    connection = connections[alias]
    plan = _read_plan(queryset, alias) if connection.vendor == "postgresql" else None
    if plan is not None and plan.parsers is not None:
        with copied_batches(connection, plan.sql, plan.params) as batches:
            problem = walk.copy_lines(batches, plan, progress)
    else:
        rows = iter(raw_rows(queryset, alias))
        while not (problem := walk.rows(chunk := list(itertools.islice(rows, BATCH)))) and chunk:
            if progress is not None:
                progress(len(chunk))
    if problem:
        return VerifyResult(walk.name, False, walk.checked, *problem)
    return segment.ended(model, alias, walk.checked)


# Fewest entries a walk gives each process: below it, forking a process and opening its connection cost more
# than the entries take (about 10 µs each).
MIN_ENTRIES_PER_WORKER = 25_000


@dataclass(frozen=True)
class _Segment:
    """The seqs one walk checks, those after `after` up to `upto` (None: to the last), the first of them
    linking to `prev`: the stored entry_hash of seq `after` (64 zeros before seq 1; None when that entry
    is missing, which the segment before reports)."""

    after: int = 0
    prev: str | None = hashing.GENESIS_HASH
    upto: int | None = None

    def lookups(self):
        bounds = {"seq__gt": self.after} if self.after else {}
        return bounds | ({"seq__lte": self.upto} if self.upto is not None else {})

    def where(self, column):
        """lookups() as a WHERE clause on `column` and its parameters ("" when the segment is the whole ledger)."""
        clauses = [(f"{column} > %s", self.after)] if self.after else []
        clauses += [(f"{column} <= %s", self.upto)] if self.upto is not None else []
        return ("WHERE " + " AND ".join(c for c, _ in clauses) if clauses else ""), [v for _, v in clauses]

    def ended(self, model, alias, checked):
        """The VerifyResult of a walk that found nothing wrong in its `checked` entries: a pass, unless the
        segment has a last seq the walk fell short of, which is then missing, as a walk of the whole
        ledger names it (the next entry being the first one after the segment)."""
        if self.upto is None or self.after + checked == self.upto:
            return VerifyResult(model.ledger_name, True, checked)
        from django.db import connections

        missing = self.after + checked + 1
        with connections[alias].cursor() as cursor:
            table = connections[alias].ops.quote_name(model._meta.db_table)
            cursor.execute(f"SELECT MIN(seq) FROM {table} WHERE seq > %s", [self.upto])
            (next_seq,) = cursor.fetchone()
        reason = f"seq {missing} is missing" + (f" (the next entry has seq {next_seq})" if next_seq else "")
        return VerifyResult(model.ledger_name, False, checked, missing, reason)


# Most processes verify_ledgers gives a walk by default: each holds a database connection.
MAX_DEFAULT_WORKERS = 8


def default_workers():
    """verify_ledgers' processes a walk: one per CPU this process may use, up to MAX_DEFAULT_WORKERS."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cpus or 1, MAX_DEFAULT_WORKERS))


def walk_processes(entries, workers):
    """How many processes walk a ledger whose newest seq is `entries` when `workers` are allowed: no more
    than runs of MIN_ENTRIES_PER_WORKER it holds, and at least one."""
    return max(1, min(workers, entries // MIN_ENTRIES_PER_WORKER))


def walk_segments(model, walk, using=None, progress=None, workers=1):
    """Run `walk` (a function of the model, the database alias, a _Segment and a progress callback, giving
    the segment's VerifyResult) over the whole ledger and give the ledger's VerifyResult.

    With `workers` > 1 on PostgreSQL, outside a transaction, a ledger of at least MIN_ENTRIES_PER_WORKER
    entries a worker is cut into that many runs of seqs (as many as the walk reads), each walked by its
    own process with its own connection: a walk is CPU-bound in Python, one core each. Each run starts
    from the stored entry_hash before it, and is checked to end at its last seq, so the runs together
    check every link a single walk checks; the verdict is the first failing run's, as a single walk
    would give it. Entries appended while the walk runs are after its last seq and are not checked."""
    from django.db import router

    # Verification is exact: it reads the database that takes the appends, never a replica that may lag.
    alias = using or router.db_for_write(model)
    segments = _segments(model, alias, workers)
    if len(segments) == 1:
        return walk(model, alias, segments[0], progress)
    checked = 0
    with closing(_walk_in_processes(model, walk, alias, segments, progress)) as results:
        for result in results:
            result.checked += checked
            if not result.ok:
                return result
            checked = result.checked
    return VerifyResult(model.ledger_name, True, checked)


def _segments(model, alias, workers):
    """The _Segments walk_segments() walks, one per worker (see there), or one for the whole ledger."""
    from django.db import connections

    connection = connections[alias]
    # Other processes cannot see a transaction's rows: a walk inside one stays in this process. So does
    # a walk in a daemonic process (a pool's worker), which may not start processes.
    if workers <= 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        return [_Segment()]
    if not connection.get_autocommit() or multiprocessing.current_process().daemon:
        return [_Segment()]
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(seq) FROM {table}")
        (last,) = cursor.fetchone()
        workers = walk_processes(last or 0, workers)
        if workers == 1:
            return [_Segment()]
        edges = [last * part // workers for part in range(workers + 1)]
        cursor.execute(f"SELECT seq, entry_hash FROM {table} WHERE seq = ANY(%s)", [edges[1:-1]])
        hashes = dict(cursor.fetchall())
    hashes[0] = hashing.GENESIS_HASH
    return [_Segment(after, hashes.get(after), upto) for after, upto in itertools.pairwise(edges)]


def _walk_in_processes(model, walk, alias, segments, progress):
    """The VerifyResults of `walk` over `segments` in order, the first walked here and each other by a
    forked process; it stops at the first that fails (the processes still walking are ended). A run
    whose process gives no verdict (it could not connect, it was killed, …) is walked again here, so
    that it fails, if at all, as a single walk would."""
    context = multiprocessing.get_context("fork")
    children, forwarded = [], 0

    def walked():
        return sum(counter.value for _, _, _, counter in children)

    def forward(own=0):
        nonlocal forwarded
        if progress is not None:
            theirs = walked()
            progress(own + theirs - forwarded)
            forwarded = theirs

    try:
        for segment in segments[1:]:
            receiver, sender = context.Pipe(duplex=False)
            # Entries the process has walked: written by it alone, read here for `progress` (no lock a
            # killed process could leave held).
            counter = context.RawValue("q", 0)
            child = context.Process(
                target=_walk_in_child, args=(model, walk, alias, segment, counter, sender), daemon=True
            )
            child.start()
            sender.close()
            children.append((segment, child, receiver, counter))
        result = walk(model, alias, segments[0], forward)
        yield result
        for segment, child, receiver, counter in children:
            if not result.ok:
                return
            while not receiver.poll(0.2) and child.is_alive():
                forward()
            try:
                outcome = receiver.recv()
            except (EOFError, OSError):  # it ended without a word (killed, or exited): the pipe's end closed
                child.join()
                outcome = ("error", f"the process ended with exit code {child.exitcode}")
            forward()
            if outcome[0] == "result":
                result = outcome[1]
            else:
                logger.warning(
                    "verifying %s: the walk of seqs %s–%s failed in its process (%s); walking it here",
                    model.ledger_name,
                    segment.after + 1,
                    segment.upto,
                    outcome[1],
                )
                result = walk(model, alias, segment, _skipping(forward, counter.value))
            yield result
    finally:
        for _, child, receiver, _ in children:
            if child.is_alive():
                child.terminate()
            child.join(5)
            if child.is_alive():
                child.kill()
                child.join()
            receiver.close()


def _skipping(progress, already):
    """`progress` for a walk again over entries of which `already` were reported: those are not told twice."""
    left = already

    def forward(count=0):
        nonlocal left
        skipped = min(left, count)
        left -= skipped
        progress(count - skipped)

    return forward


def _walk_in_child(model, walk, alias, segment, counter, sender):
    """A forked process's part of _walk_in_processes(): walk `segment` on a connection of its own and
    send ("result", its VerifyResult) or ("error", what went wrong)."""
    from django.db import connections

    # The connections this process inherited are its parent's: talking on one would interleave with the
    # parent on one socket, and closing one would end the parent's session. They are let go unclosed (the
    # driver closes a connection only in the process that opened it) and this process opens its own.
    for connection in connections.all(initialized_only=True):
        connection.connection = None

    def progress(count):
        counter.value += count

    try:
        sender.send(("result", walk(model, alias, segment, progress)))
    except BaseException as exc:  # told to the parent, which walks the run again: no traceback here
        try:
            sender.send(("error", f"{type(exc).__name__}: {exc}"))
        except OSError:  # the parent is gone
            pass
    finally:
        connections[alias].close()
        sender.close()


class _ChainWalk:
    """The state and checks of verify_chain()'s walk: where it is (the seq it expects next, the
    entry_hash the next entry must link to, how many entries passed) and the two ways to walk on."""

    def __init__(self, model, content_fields, segment):
        self.model, self.name = model, model.ledger_name
        self.keys = [f.attname for f in content_fields]
        # Columns whose value is not yet the JSON value that was hashed (a date, a UUID, …).
        self.converted = [f.attname for f in content_fields if f.get_internal_type() not in PLAIN_COLUMN_TYPES]
        self.expected_seq, self.prev, self.checked = segment.after + 1, segment.prev, 0
        self.ledger_part = ',"ledger":' + hashing.canonical_json(self.name) + ',"recorded_at":"'

    def rows(self, rows):
        """Check `rows` (values as raw_rows() gives them) from where the walk is: None when every one
        passes (the walk moves past them), else (the first bad seq, why), the walk left before it.

        The fast path: rebuild each entry's canonical bytes from its columns and compare them with the
        stored text (one C-encoded JSON per row); only a row whose bytes differ is parsed and compared
        field by field (a database may spell a JSON value differently, which is not a change)."""
        model, name, keys, converted = self.model, self.name, self.keys, self.converted
        expected_seq, prev, checked = self.expected_seq, self.prev, self.checked
        sha256, fromhex = hashlib.sha256, bytes.fromhex
        head, ledger_part = '{"content":', self.ledger_part
        jsonable, canonical_json, omit = hashing.jsonable, hashing.canonical_json, model.omit_when_empty
        dumps, sort_keys = orjson.dumps, orjson.OPT_SORT_KEYS
        last_at, last_at_text, last_by, last_by_json = None, "", None, ""
        problem = None
        for row in rows:
            seq, recorded_at, recorded_by, prev_hash, this_hash, canonical = row[:6]
            if seq != expected_seq:
                problem = expected_seq, f"seq {expected_seq} is missing (the next entry has seq {seq})"
                break
            if prev_hash != prev:
                problem = seq, "prev_entry_hash does not match the previous entry's entry_hash"
                break
            if sha256(fromhex(prev) + canonical.encode()).hexdigest() != this_hash:
                problem = seq, "entry_hash does not match SHA-256(prev_entry_hash || canonical)"
                break
            if recorded_at != last_at:  # a batch shares one recorded_at: format it once
                last_at, last_at_text = recorded_at, timestamp_text(recorded_at)
            if recorded_by != last_by:
                last_by, last_by_json = recorded_by, canonical_json(recorded_by)
            content = dict(zip(keys, row[6:], strict=True))
            for key in converted:
                content[key] = jsonable(content[key])
            for key in omit:
                if content.get(key) is None:
                    content.pop(key, None)
            try:
                # orjson's sorted compact JSON is RFC 8785's bytes for the usual content (strings, small
                # integers, ASCII keys); where it spells a value otherwise (an integral float, say) the
                # bytes differ and the row is compared slowly: a match is exact, a mismatch only slower.
                content_json = dumps(content, option=sort_keys).decode()
            except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits, a non-str key
                content_json = None
            expected = f'{head}{content_json}{ledger_part}{last_at_text}","recorded_by":{last_by_json},"seq":{seq}}}'
            if expected != canonical:
                reason = _compare_slowly(model, name, keys, row, seq, recorded_at, recorded_by, canonical)
                if reason:
                    problem = seq, reason
                    break
            prev = this_hash
            expected_seq += 1
            checked += 1
        self.expected_seq, self.prev, self.checked = expected_seq, prev, checked
        return problem

    def copy_lines(self, batches, plan, progress=None):
        """rows() over the lines of a COPY of _read_plan()'s `plan` (lists of them, as copy_batches()
        gives), without making each line a row first: a line is split, its NULLs found, its JSON and
        integer columns parsed and its canonical bytes rebuilt and compared in one loop. A line that
        is anything but an intact entry whose values orjson reads and writes (JSON it refuses, a check
        that fails) goes through copy_fields() and rows(), so its verdict, and the reason given, are
        rows()' own."""
        keys, converted, omit = self.keys, self.converted, self.model.omit_when_empty
        parsers, nullable = plan.parsers, plan.nullable
        build = _content_builder(keys, plan.kinds[6:], omit, converted)
        sha256, fromhex, split = hashlib.sha256, bytes.fromhex, copy_split
        dumps, sort_keys = orjson.dumps, orjson.OPT_SORT_KEYS
        canonical_json = hashing.canonical_json
        head, ledger_part = '{"content":', self.ledger_part
        last_at, last_by, tail = None, None, ""
        for batch in batches:
            expected_seq, prev = self.expected_seq, self.prev
            for data in batch:
                line = str(data, "utf-8")
                fields = split(line, nullable)
                seq_text, recorded_at, recorded_by, prev_hash, this_hash, canonical = fields[:6]
                try:
                    # Sorted still: the objects inside JSON values come from jsonb shortest key first.
                    content_json = dumps(build(fields), option=sort_keys).decode()
                except (ValueError, TypeError):  # JSON orjson does not read or write: rows() decides
                    content_json = None
                if recorded_at != last_at or recorded_by != last_by:  # a batch of appends shares them
                    last_at, last_by = recorded_at, recorded_by
                    tail = f'{ledger_part}{recorded_at}","recorded_by":{canonical_json(recorded_by)},"seq":'
                if (
                    content_json is not None
                    and seq_text == str(expected_seq)
                    and prev_hash == prev
                    and sha256(fromhex(prev) + canonical.encode()).hexdigest() == this_hash
                    and f"{head}{content_json}{tail}{seq_text}}}" == canonical
                ):
                    prev = this_hash
                    expected_seq += 1
                    continue
                self.checked += expected_seq - self.expected_seq
                self.expected_seq, self.prev = expected_seq, prev
                if problem := self.rows([copy_fields(line, parsers, nullable)]):
                    return problem
                expected_seq, prev = self.expected_seq, self.prev
            self.checked += expected_seq - self.expected_seq
            self.expected_seq, self.prev = expected_seq, prev
            if progress is not None:
                progress(len(batch))
        return None


def _content_builder(keys, kinds, omit, converted):
    """A function of a COPY line's fields (as copy_split() gives them; the content's columns from
    position 6 on, in `keys` order, of the `kinds` _column_kind() names) to the entry's content dict,
    as rows() builds it: integer, boolean and JSON columns parsed unless NULL, the `converted`
    columns made JSON values (jsonable()), keys in `omit` dropped when None.

    The function is written out for the columns at hand, one dict display of constant keys in
    sorted order (as collections.namedtuple writes its class): per line that is a third of what a
    zip into dict() then loops parsing, converting and omitting by key cost, the largest Python-level
    step of copy_lines(). Keys go in as repr() literals and values by position, so a column's name
    is never code. Its exceptions are the parsers' own (a ValueError for JSON orjson refuses, …)."""
    parse = {"int": "int_", "bool": "boolean", "json": "loads"}
    lines, names = [], {}
    for index, (key, kind) in enumerate(zip(keys, kinds, strict=True)):
        name = names[key] = f"v{index}"
        lines.append(f"    {name} = fields[{6 + index}]")
        if kind in parse:
            lines.append(f"    if {name} is not None: {name} = {parse[kind]}({name})")
        if key in converted:
            lines.append(f"    {name} = jsonable({name})")
    items = [f"{key!r}: {names[key]}" for key in sorted(keys)]
    lines.append("    content = {" + ", ".join(items) + "}")
    for key in omit:
        if key in names:
            lines.append(f"    if {names[key]} is None: del content[{key!r}]")
    source = "def build(fields):\n" + "\n".join(lines) + "\n    return content\n"
    scope = {"int_": int, "boolean": _BOOLEAN_TEXT.__getitem__, "loads": orjson.loads, "jsonable": hashing.jsonable}
    exec(compile(source, "<chain content builder>", "exec"), scope)  # noqa: S102 (the source is ours, see above)
    return scope["build"]


def _json_loader(field):
    """A faster from_db_value for a JSONField read as text: orjson, falling back to the field's own
    decoder (json.loads) for what orjson refuses or may read otherwise (an integer beyond 64 bits, which
    orjson reads as a float), so values are the same."""
    slow = field.from_db_value
    loads, may_hold_long_integer = orjson.loads, fastjson.may_hold_long_integer

    def parse_text(value):
        # The value of the column's text alone (copy_rows too): the field's decoder needs no connection.
        if not may_hold_long_integer(value):
            try:
                return loads(value)
            except orjson.JSONDecodeError:
                pass
        return slow(value, None, None)

    def load(value, expression, connection):
        return parse_text(value) if isinstance(value, str) else value

    load.json_loader, load.parse_text = True, parse_text
    return load


@dataclass
class _ReadPlan:
    """How raw_rows() reads a values_list() query on PostgreSQL: its SQL, and either the COPY text
    `parsers` (with the `nullable` positions and each column's kind) or, when they are None, the
    cursor's per-column `converters`."""

    sql: str
    params: tuple
    width: int
    converters: list
    parsers: list | None
    nullable: list
    kinds: list


def _read_plan(queryset, alias):
    """The _ReadPlan of a values_list() `queryset` (PostgreSQL), or None when it has no SQL to run."""
    from django.core.exceptions import EmptyResultSet
    from django.db.models import JSONField

    compiler = queryset.query.get_compiler(using=alias)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # .none(), or a filter no row can match: there is no SQL to run
        return None
    columns = [col for col, _, _ in compiler.select]
    converters = []
    for position, (convs, expression) in compiler.get_converters(columns).items():
        field = getattr(expression, "target", None)
        if isinstance(field, JSONField) and field.decoder is None and convs == [field.from_db_value]:
            convs = [_json_loader(field)]
        converters.append((position, convs, expression))
    parsers = _copy_parsers(columns, converters)
    # DISTINCT may add its ordering columns after the selected ones: COPY would send those too.
    if compiler.query.distinct:
        parsers = None
    kinds = [_column_kind(column) for column in columns]
    return _ReadPlan(sql, params, len(columns), converters, parsers, _nullable_positions(columns), kinds)


def raw_rows(queryset, alias, chunk=BATCH):
    """The tuples a values_list() queryset gives, with only the converters a column needs: Django's
    iterator() runs every converter of every row through a generic loop and parses JSON with the json
    module, which cost more than the walk itself. On PostgreSQL the rows stream through COPY when every
    column is one copy_rows() reads (text, integers, booleans, JSON), else from a server-side cursor in
    chunks; other engines use the queryset's own iterator."""
    from django.db import connections

    connection = connections[alias]
    if connection.vendor != "postgresql":
        yield from queryset.iterator(chunk_size=chunk)
        return
    plan = _read_plan(queryset, alias)
    if plan is None:
        return
    if plan.parsers is not None:
        yield from copy_rows(connection, plan.sql, plan.params, plan.parsers, plan.nullable)
        return
    width, converters = plan.width, plan.converters
    with connection.chunked_cursor() as cursor:
        cursor.execute(plan.sql, plan.params)
        # DISTINCT's ordering columns come after the selected ones: rows are cut to the selection.
        whole = len(cursor.description) == width
        while batch := cursor.fetchmany(chunk):
            if not converters:
                yield from batch if whole else (row[:width] for row in batch)
                continue
            for row in batch:
                row = list(row[:width])
                for position, convs, expression in converters:
                    value = row[position]
                    for convert in convs:
                        value = convert(value, expression, connection)
                    row[position] = value
                yield row


def _column_kind(expression):
    """How copy_rows() reads a column of PostgreSQL's COPY text: "text", "int", "bool", "json", or None
    (a type it does not read: the cursor path, with Django's converters, reads the query)."""
    from django.core.exceptions import FieldError

    try:
        field = expression.output_field
    except (AttributeError, FieldError):  # an annotation that does not say its type
        return None
    while field is not None and field.is_relation:  # a foreign key holds its target's value
        field = field.target_field
    kind = None if field is None else field.get_internal_type()
    if kind in ("CharField", "TextField", "SlugField"):
        return "text"
    if kind in INTEGER_COLUMN_TYPES:
        return "int"
    if kind == "BooleanField":
        return "bool"
    if kind == "JSONField" and field.decoder is None:
        return "json"
    return None


def _nullable_positions(columns):
    """The positions of the columns that may hold NULL: a nullable field's, and any computed value's."""
    positions = []
    for position, column in enumerate(columns):
        field = getattr(column, "target", None)
        if field is None or field.null:
            positions.append(position)
    return positions


def _copy_parsers(columns, converters):
    """[(position, parse)] turning copy_rows()' text fields into the values raw_rows() gives, or None when a
    column's type or converter is one it cannot reproduce exactly."""
    from django.db.models import JSONField

    kinds = [_column_kind(column) for column in columns]
    if None in kinds:
        return None
    parsers, converted = [], set()
    for position, convs, expression in converters:
        field = getattr(expression, "target", None)
        loader = convs[0] if len(convs) == 1 else None
        if not (kinds[position] == "json" and isinstance(field, JSONField) and getattr(loader, "json_loader", False)):
            return None  # only the JSON loader is known to be a plain function of the text
        parsers.append((position, loader.parse_text))
        converted.add(position)
    for position, kind in enumerate(kinds):
        if kind == "int":
            parsers.append((position, int))
        elif kind == "bool":
            parsers.append((position, _BOOLEAN_TEXT.__getitem__))
        elif kind == "json" and position not in converted:
            return None
    return parsers


_BOOLEAN_TEXT = {"t": True, "f": False}
# COPY's text format writes a backslash before these letters for the control characters they name.
_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_COPY_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def _copy_unescape(text):
    return _COPY_ESCAPED.sub(lambda match: _COPY_ESCAPES.get(match[1], match[1]), text)


@contextmanager
def copy_statement(connection, statement, params=None):
    """psycopg's Copy of `statement` on a Django connection, started through the connection's execute
    wrappers (query logs and instrumentation see it as any statement) and with psycopg's errors turned
    into Django's, as the cursor's own fetches are."""
    with connection.cursor() as cursor, connection.wrap_database_errors, ExitStack() as stack:

        def start(sql, params, many, context):
            return stack.enter_context(cursor.cursor.copy(sql, params))

        yield cursor._execute_with_wrappers(statement, params, many=False, executor=start)


@contextmanager
def copied_batches(connection, sql, params=None):
    """The rows of `COPY (sql) TO STDOUT` in lists, as copy_batches() reads them.

    Inside a transaction the COPY runs in a savepoint. A reader that stops early cancels the rows still
    coming (copy_batches), and PostgreSQL aborts the transaction a cancelled statement is in; rolling
    back to the savepoint leaves the caller's transaction as it was (without one, only the COPY's own
    statement ends)."""
    savepoint = connection.savepoint() if connection.in_atomic_block else None
    try:
        with (
            copy_statement(connection, f"COPY ({sql}) TO STDOUT", params) as copy,
            closing(copy_batches(copy)) as batches,
        ):
            yield batches
    except BaseException:
        if savepoint is not None:
            _leave_savepoint(connection, savepoint, failed=True, quietly=True)
        raise
    if savepoint is not None:
        _leave_savepoint(connection, savepoint, failed=_transaction_failed(connection))


def _transaction_failed(connection):
    """Whether the connection's transaction is aborted (a statement in it failed or was cancelled)."""
    from psycopg.pq import TransactionStatus

    return connection.connection.info.transaction_status == TransactionStatus.INERROR


def _leave_savepoint(connection, savepoint, failed, quietly=False):
    """Release `savepoint`, or roll back to it when the transaction failed after it. `quietly`: while
    an exception is on its way out, a connection too broken to roll back must not hide it."""
    try:
        if failed:
            connection.savepoint_rollback(savepoint)
        else:
            connection.savepoint_commit(savepoint)
    except Exception:
        if not quietly:
            raise


COPY_BATCH = 1000  # most rows copy_batches() hands over at once
# Fewest rows it hands over while more are on the way: a list costs a wait and a generator, not worth it for a few rows.
COPY_MIN_BATCH = 64


def copy_batches(copy, limit=None):
    """The data rows of psycopg's `copy` of a COPY … TO STDOUT, in lists of up to `limit` (each row a
    buffer of its bytes), read from libpq in one tight loop: psycopg's own per-row read resumes a
    generator and waits once per row, which cost more than the row's parsing. A list ends at `limit`
    rows (COPY_BATCH when None), or when no more data has arrived and it holds COPY_MIN_BATCH.

    The end of the COPY is taken as psycopg's copy_from() takes it: its final result is fetched and, if
    it is not a success (an error met mid-stream, a statement_timeout, a cancelled query, a lost
    connection), raised as psycopg's exception for it after the rows that came before it, so a
    failure is always an error and never a short read."""
    connection = copy.connection
    wait, pgconn = connection.wait, connection.pgconn
    limit = limit or COPY_BATCH
    while True:
        rows, end = wait(_copy_batch(pgconn, limit, min(limit, COPY_MIN_BATCH)))
        if rows:
            try:
                yield rows
            except GeneratorExit as stop:
                # The reader stopped early (a verdict before the last entry): psycopg cancels the rest and
                # drains it, as it does when an error leaves a COPY block, so the connection is free.
                if end is None:
                    copy.finish(stop)
                raise
        if end is not None:
            if isinstance(end, Exception):
                raise end
            return


def _copy_batch(pgconn, limit, enough):
    """A psycopg generator: (rows, None) while the COPY runs; (rows, result or exception) at its end."""
    from psycopg import errors
    from psycopg.generators import fetch_many
    from psycopg.pq import ExecStatus
    from psycopg.waiting import Wait

    get = pgconn.get_copy_data
    rows = []
    append = rows.append
    while True:
        size, data = get(1)
        if size > 0:
            append(data)
            if len(rows) >= limit:
                return rows, None
        elif size == 0:  # nothing buffered: hand over what came if it is enough, else wait for the socket
            if len(rows) >= enough:
                return rows, None
            while not (yield Wait.R):
                continue
            pgconn.consume_input()
        else:  # the COPY is over (-1) or libpq failed (-2): its result says which
            break
    results = yield from fetch_many(pgconn)
    if len(results) != 1:
        return rows, errors.ProgrammingError("you cannot mix COPY with other operations")
    result = results[0]
    if result.status != ExecStatus.COMMAND_OK:
        return rows, errors.error_from_result(result, encoding=pgconn._encoding)
    return rows, result


def copy_rows(connection, sql, params, parsers, nullable=None):
    """The rows of `sql` streamed by `COPY (sql) TO STDOUT` (PostgreSQL), each a list of values:
    text as str, NULL as None, then `parsers` [(position, parse)] applied to the non-NULL fields.
    `nullable`: the positions where NULLs are looked for first (every position when None).

    COPY sends rows while the client works on the ones before (a server-side cursor waits a round
    trip per chunk, with the server idle meanwhile), and its text format costs one split per row
    instead of a decoder call per column. Memory stays constant: the server sends what the socket
    takes."""
    with copied_batches(connection, sql, params) as batches:
        for batch in batches:
            for data in batch:
                yield copy_fields(str(data, "utf-8"), parsers, nullable)


def copy_fields(line, parsers, nullable=None):
    """The values of one line of COPY's text format (`line` ends with its newline): see copy_rows()."""
    fields = copy_split(line, nullable)
    for position, parse in parsers:
        value = fields[position]
        if value is not None:
            fields[position] = parse(value)
    return fields


def copy_split(line, nullable=None):
    """The text fields of one line of COPY's text format (`line` ends with its newline), NULL as None.
    In that format every backslash starts an escape (of a backslash, a tab, a newline, …) or NULL's
    marker (backslash N), so a line whose backslashes are all NULLs at the `nullable` positions is
    read by its split alone; any other is unescaped field by field."""
    find = str.find
    fields = line[:-1].split("\t")
    slash = find(line, "\\")
    if slash >= 0:
        nulls = 0
        while slash >= 0 and line[slash + 1] == "N":
            nulls += 1
            slash = find(line, "\\", slash + 2)
        if slash < 0 and nullable is not None:
            for position in nullable:
                if fields[position] == "\\N":
                    fields[position] = None
                    nulls -= 1
        if slash >= 0 or nulls:  # an escape, or a NULL where none was looked for
            fields = [
                None if field == "\\N" else _copy_unescape(field) if "\\" in field else field
                for field in line[:-1].split("\t")
            ]
    return fields


def pg_timestamp_text(model):
    """SQL giving `model`'s recorded_at as format_timestamp() spells it (PostgreSQL), qualified by
    its table so a join never makes the column ambiguous."""
    return f"""to_char("{model._meta.db_table}"."recorded_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def with_recorded_at_text(queryset):
    """(queryset, the column to read recorded_at from): on PostgreSQL the queryset annotated with
    `recorded_at_text`, recorded_at as format_timestamp() spells it, so that no datetime is parsed per row
    (Django's time zone loader for psycopg is pure Python, the costliest column to read) and every column
    is one raw_rows() streams by COPY; elsewhere the queryset as it is and "recorded_at"."""
    from django.db import connections
    from django.db.models import TextField
    from django.db.models.expressions import RawSQL

    if connections[queryset.db].vendor != "postgresql":
        return queryset, "recorded_at"
    text = RawSQL(pg_timestamp_text(queryset.model), [], output_field=TextField())
    return queryset.annotate(recorded_at_text=text), "recorded_at_text"


def timestamp_text(recorded_at):
    """recorded_at as hashed: the database's text of it (PostgreSQL), or formatted here."""
    return recorded_at if isinstance(recorded_at, str) else hashing.format_timestamp(recorded_at)


INTEGER_COLUMN_TYPES = {
    "IntegerField",
    "BigIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "SmallIntegerField",
    "PositiveSmallIntegerField",
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
}

# Columns whose database value is already the JSON value that was hashed (jsonable() keeps it as is); JSON
# columns are parsed by json.loads, plain JSON values already.
PLAIN_COLUMN_TYPES = {"CharField", "TextField", "BooleanField", "JSONField"} | (
    INTEGER_COLUMN_TYPES - {"AutoField", "BigAutoField", "SmallAutoField"}
)


def _compare_slowly(model, name, keys, row, seq, recorded_at, recorded_by, canonical):
    """Why the stored canonical text disagrees with the row (None when it only spells a value
    differently): the text parsed and compared with the columns field by field."""
    try:
        hashed = json.loads(canonical, parse_float=_integral_float)
    except ValueError:
        return "the stored canonical form is not JSON"
    if not isinstance(hashed, dict) or not isinstance(hashed.get("content"), dict):
        return "the stored canonical form is not an entry object"
    if (
        hashed.get("ledger") != name
        or hashed.get("seq") != seq
        or hashed.get("recorded_at") != timestamp_text(recorded_at)
        or hashed.get("recorded_by") != recorded_by
    ):
        return "ledger, seq, recorded_at or recorded_by differ from what was hashed"
    content = model.hashable_content(dict(zip(keys, row[6:], strict=True)))
    if _normal_text(hashed.get("content"), already_parsed=True) != _normal_text(content):
        changed = _changed_fields(hashed.get("content"), content)
        return "content differs from what was hashed" + (f" (fields: {', '.join(changed)})" if changed else "")
    return None


def record_check(result, checked_by=""):
    """Store a verification result so pages can show the chain's last known status."""
    from ledgerproject.ledger.models import ChainCheck

    return ChainCheck.objects.create(
        ledger=result.ledger,
        ok=result.ok,
        checked=result.checked,
        first_bad_seq=result.first_bad_seq,
        reason=result.reason,
        checked_by=checked_by,
    )
