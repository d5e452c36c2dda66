"""Fast COPY loader for the read benchmarks: generated ledger rows written as COPY text with the kernel's chain.

Each searchable ledger gets a deterministic synthetic history (row i is a pure function of i and the
target size): claimed times and recorded_at spread over the year before END, so the dashboards' day
windows hold data. Per row only string formatting and one SHA-256 run in Python:

- the content's canonical JSON is spelled by a per-ledger f-string; on sampled rows of EVERY batch
  (first, last, one in the middle) the same row is built through the kernel (model(**fields),
  validate_append(), ledger_content(), hashing.canonical_json) and every column and the canonical
  bytes must match, or the load stops (a drift in the kernel's rules fails loudly);
- the canonical entry text and the chain hashes come from the kernel itself
  (hashing.entry_canonical_for, hashing.entry_hash);
- the rollups pages read are counted in Python (checked against rollups.counts on the sampled rows)
  and UPSERTed once per batch in the batch's transaction, under the ledger's lock, as append_many does;
- for a big load, the table's secondary indexes (not the primary key or constraint-backed ones) are
  dropped first and rebuilt at the end (a unique one is rebuilt with its uniqueness checked); their
  definitions are kept in bench_dropped_index until rebuilt, so an interrupted load restores them on
  its next start. PostgreSQL's ledger triggers refuse UPDATE/DELETE/TRUNCATE only: COPY needs none off.

After a ledger is loaded, the kernel's full chain verification (chain.verify_chain: links and
canonical bytes against the columns) walks a prefix of it.
"""

import datetime
import hashlib
import json
import time
import uuid
from collections import Counter

from django.db import connection, transaction

from ledgerproject.ledger import hashing, latest, rollups
from ledgerproject.ledger.bulk_insert import copy_escape as esc  # the kernel's COPY text escaping
from ledgerproject.ledger.chain import verify_chain
from ledgerproject.ledger.locking import lock_ledger

END = datetime.datetime(2026, 11, 29, tzinfo=datetime.UTC)
END_MS = int(END.timestamp() * 1000)
YEAR_MS = 365 * 86_400_000
BATCH = 20_000
RELEASE_NAMES = 10_000
RECORDED = "recorded"  # a rollup key counted on the entry's recorded day
KERNEL_COLUMNS = [
    "seq",
    "recorded_at",
    "recorded_by_id",
    "recorded_by_name",
    "prev_entry_hash",
    "entry_hash",
    "canonical",
]
USER = "bench"


def h(i, tag):
    """A deterministic SHA-256 hex digest for row i."""
    return hashlib.sha256(f"{tag}:{i}".encode()).hexdigest()


class Spec:
    """A ledger's generated rows: fields(i) for the kernel, fast(i) → (content columns as COPY text,
    canonical content JSON, rollup keys as (dimension, day or RECORDED, key))."""

    def __init__(self, model, target):
        self.model = model
        self.target = target
        self.step = YEAR_MS // max(target, 1)

    def claimed_ms(self, i):
        return END_MS - (self.target - i) * self.step

    def recorded_at(self, i):
        return datetime.datetime.fromtimestamp((self.claimed_ms(i) + 2000) / 1000, datetime.UTC)


class EnhanceSpec(Spec):
    def fields(self, i):
        rejected = i % 7 == 0
        return {
            "issue_id": f"S-{i:08d}",
            "blueprint_id": f"bp-{i % 20000:05d}",
            "prev_hash": h(i, "prev"),
            "new_hash": "" if rejected else h(i, "new"),
            "status": "rejected" if rejected else "applied",
            "verdicts": [],
            "reasons": ["bench: denied"] if rejected else [],
            "ts_ms": self.claimed_ms(i),
        }

    def fast(self, i):
        rejected = i % 7 == 0
        issue, bp, prev, ts = f"S-{i:08d}", f"bp-{i % 20000:05d}", h(i, "prev"), self.claimed_ms(i)
        day = rollups.ms_day(ts)
        if rejected:
            cols = f'{issue}\t\\N\t{bp}\t{prev}\t\t\t\t[]\trejected\t["bench: denied"]\t{ts}\t\t\tbench: denied'
            content = (
                f'{{"axes":"","blueprint_id":"{bp}","denied_axes":"","intent":"","issue_id":"{issue}",'
                f'"new_hash":"","prev_hash":"{prev}","rationale":"","reasons":["bench: denied"],'
                f'"reasons_text":"bench: denied","status":"rejected","ts_ms":{ts},"verdicts":[]}}'
            )
            keys = (
                ("status", day, "rejected"),
                ("rejected_blueprint", day, bp),
                ("rejected_blueprint_month", day.replace(day=1), bp),
                ("rejected_blueprint_all", rollups.ALL_TIME, bp),
            )
        else:
            new = h(i, "new")
            cols = f"{issue}\t\\N\t{bp}\t{prev}\t{new}\t\t\t[]\tapplied\t[]\t{ts}\t\t\t"
            content = (
                f'{{"axes":"","blueprint_id":"{bp}","denied_axes":"","intent":"","issue_id":"{issue}",'
                f'"new_hash":"{new}","prev_hash":"{prev}","rationale":"","reasons":[],'
                f'"reasons_text":"","status":"applied","ts_ms":{ts},"verdicts":[]}}'
            )
            keys = (("status", day, "applied"),)
        return cols, content, keys


class ExperienceSpec(Spec):
    """ProposalCreated events (the largest payload): the canonical text of row 0 made a template."""

    def __init__(self, model, target):
        super().__init__(model, target)
        from experience.tests.conftest import VALID

        self.payload = VALID["ProposalCreated"]
        entry = model(**self.fields(0))
        entry.validate_append()
        canonical = hashing.canonical_json(entry.ledger_content())
        data = json.dumps(entry.data, separators=(",", ":"), ensure_ascii=False)
        values = self._values(0)
        for text in (canonical, data):
            assert not any("{" + str(n) in text for n in range(len(values)))
        self.templates = []
        for text in (canonical, data):
            text = text.replace("{", "{{").replace("}", "}}")
            for n, value in enumerate(values):
                text = text.replace(f'"{value}"', f'"{{{n}}}"')
            self.templates.append(text)
        self.proposal_id = entry.proposal_id

    def _values(self, i):
        occurred = self.recorded_at(i) - datetime.timedelta(seconds=5)
        text = occurred.strftime("%Y-%m-%dT%H:%M:%S")
        return (f"ev-{i:010d}", f"corr-{i // 10:08d}", f"chain-{i // 5:08d}", text + "Z", text + ".000000Z")

    def fields(self, i):
        event_id, corr, chain, occurred, _ = self._values(i)
        return {
            "event_id": event_id,
            "occurred_at": occurred,
            "correlation_id": corr,
            "kind": "ProposalCreated",
            "data": {**self.payload, "chain_id": chain},
        }

    def fast(self, i):
        values = self._values(i)
        event_id, corr, chain, occurred, _ = values
        content = self.templates[0].format(*values)
        data = self.templates[1].format(*values)
        utc = occurred[:10] + " " + occurred[11:19] + "+00:00"
        cols = (
            f"{event_id}\t{occurred}\t{utc}\t\\N\t{corr}\tProposalCreated\t{esc(data)}\t{chain}\t\\N\t\\N\t"
            f"{self.proposal_id}"
        )
        return cols, content, ()


class LogSpec(Spec):
    def fields(self, i):
        return {
            "node_id": 1 + i % 5000,
            "node_seq": 1 + i // 5000,
            "ts_ms": self.claimed_ms(i),
            "level": "Info",
            "message": f"line {i}",
        }

    def fast(self, i):
        node, node_seq, ts = 1 + i % 5000, 1 + i // 5000, self.claimed_ms(i)
        cols = f"{node}\t{node_seq}\t\\N\t{ts}\tInfo\tline {i}\tf\t\\N"
        content = (
            f'{{"chain_pending":false,"daemon_id":null,"level":"Info","message":"line {i}",'
            f'"node_id":{node},"node_seq":{node_seq},"ts_ms":{ts}}}'
        )
        return cols, content, ()


class ReleaseSpec(Spec):
    """RELEASE_NAMES names promoted in turn, each entry superseding its name's previous one; every
    997th entry (past the second round) rolls its name back to the release before the current one."""

    def is_rollback(self, i):
        return i >= 2 * RELEASE_NAMES and i % 997 == 0

    def version(self, i):
        while self.is_rollback(i):
            i -= 2 * RELEASE_NAMES
        return h(i % 2000, "spec"), f"1.{i // RELEASE_NAMES}.{i % RELEASE_NAMES}"

    def fields(self, i):
        spec, label = self.version(i)
        rollback = self.is_rollback(i)
        return {
            "name": f"agent-{i % RELEASE_NAMES:05d}",
            "spec_digest": spec,
            "version_label": label,
            "promoted_by": "bench",
            "action": "rollback" if rollback else "promote",
            "supersedes_id": i + 1 - RELEASE_NAMES if i >= RELEASE_NAMES else None,
            "rolled_back_to_id": i + 1 - 2 * RELEASE_NAMES if rollback else None,
        }

    def fast(self, i):
        spec, label = self.version(i)
        name = f"agent-{i % RELEASE_NAMES:05d}"
        supersedes = i + 1 - RELEASE_NAMES if i >= RELEASE_NAMES else None
        if self.is_rollback(i):
            action, back = "rollback", i + 1 - 2 * RELEASE_NAMES
            keys = (("name", RECORDED, name), ("name_all", rollups.ALL_TIME, name), ("rollback", RECORDED, name))
        else:
            action, back = "promote", None
            keys = (("name", RECORDED, name), ("name_all", rollups.ALL_TIME, name))
        sup_json, back_json = ("null" if v is None else str(v) for v in (supersedes, back))
        sup_col, back_col = ("\\N" if v is None else str(v) for v in (supersedes, back))
        cols = f"{name}\t{spec}\t{label}\tbench\t\t{action}\t{back_col}\t{sup_col}\t\\N"
        content = (
            f'{{"action":"{action}","name":"{name}","notes":"","promoted_by":"bench",'
            f'"rolled_back_to_id":{back_json},"spec_digest":"{spec}","supersedes_id":{sup_json},'
            f'"version_label":"{label}"}}'
        )
        return cols, content, keys


class BlobSpec(Spec):
    def fields(self, i):
        return {"digest": h(i, "blob"), "size": i, "media_type": "application/octet-stream"}

    def fast(self, i):
        digest = h(i, "blob")
        cols = f"{digest}\t{i}\tapplication/octet-stream"
        content = f'{{"digest":"{digest}","media_type":"application/octet-stream","size":{i}}}'
        return cols, content, ()


def run_id(i):
    return uuid.UUID(h(i, "run")[:32], version=4)


class RunSpec(Spec):
    def created_at(self, i):
        return self.recorded_at(i) - datetime.timedelta(seconds=1)

    def fields(self, i):
        return {
            "run_id": run_id(i),
            "spec_digest": h(i % 2000, "spec"),
            "agent_name": f"agent-{i % 500:03d}",
            "tags": {},
            "created_at": self.created_at(i),
        }

    def fast(self, i):
        rid, spec, agent, created = str(run_id(i)), h(i % 2000, "spec"), f"agent-{i % 500:03d}", self.created_at(i)
        cols = f"{rid}\t\\N\t{spec}\t{agent}\t\\N\t{{}}\t{created.isoformat()}"
        content = (
            f'{{"agent_name":"{agent}","created_at":"{hashing.format_timestamp(created)}","git_sha":null,'
            f'"run_id":"{rid}","spec_digest":"{spec}","tags":{{}}}}'
        )
        return cols, content, ()


class OutcomeSpec(Spec):
    def fields(self, i):
        return {
            "run_id": run_id(i),
            "status": "COMPLETED",
            "total_events": 0,
            "final_state_digest": h(i, "final"),
            "duration_ms": 5,
            "success": True,
        }

    def fast(self, i):
        rid, final = str(run_id(i)), h(i, "final")
        cols = f"{rid}\tCOMPLETED\t0\t{final}\t5\tt"
        content = (
            f'{{"duration_ms":5,"final_state_digest":"{final}","run_id":"{rid}","status":"COMPLETED",'
            f'"success":true,"total_events":0}}'
        )
        return cols, content, ()


class OutputSpec(Spec):
    def fields(self, i):
        return {
            "output_id": f"o-{i:010d}",
            "task_id": f"task-{i // 3:08d}",
            "attempt": 1,
            "producer_agent": f"agent-{i % 500:03d}",
            "event": {"type": "progress", "stage": f"s{i}", "note": None},
            "parent_refs": [],
        }

    def fast(self, i):
        oid, task, agent = f"o-{i:010d}", f"task-{i // 3:08d}", f"agent-{i % 500:03d}"
        event = f'{{"note":null,"stage":"s{i}","type":"progress"}}'
        cols = f"{oid}\t\\N\t{task}\t1\t{agent}\t{event}\t[]\tprogress\t\\N"
        content = (
            f'{{"attempt":1,"blob_digest":null,"event":{event},"event_type":"progress","output_id":"{oid}",'
            f'"parent_refs":[],"producer_agent":"{agent}","task_id":"{task}"}}'
        )
        return cols, content, ()


def specs():
    """model → Spec class, in load order (outcomes refer to runs)."""
    from enhancelog.models import EnhanceEntry
    from experience.models import ExperienceEvent
    from logchain.models import LogRecord
    from releases.models import Release
    from runs.models import Blob, Output, Run, RunOutcome

    return {
        EnhanceEntry: EnhanceSpec,
        ExperienceEvent: ExperienceSpec,
        LogRecord: LogSpec,
        Release: ReleaseSpec,
        Blob: BlobSpec,
        Run: RunSpec,
        RunOutcome: OutcomeSpec,
        Output: OutputSpec,
    }


def copy_text(field, value):
    """The COPY text of a column value as the kernel's instance holds it (for the sampled check)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return str(value)


def check_rows(spec, rows, first):
    """Build rows `first + k` of this batch through the kernel and compare every column, the canonical
    content bytes and the rollup keys with the fast ones; raise on any difference."""
    model = spec.model
    fields = model.content_fields()
    for k in sorted({0, len(rows) // 2, len(rows) - 1}):
        i = first + k
        cols, content, keys = rows[k]
        entry = model(**spec.fields(i))
        entry.validate_append()
        kernel = hashing.canonical_json(entry.ledger_content())
        if content != kernel:
            raise SystemExit(
                f"{model.ledger_name} row {i}: fast canonical content differs from the kernel's\n"
                f"fast:   {content}\nkernel: {kernel}"
            )
        texts = cols.split("\t")
        if len(texts) != len(fields):
            raise SystemExit(f"{model.ledger_name} row {i}: {len(texts)} columns, the model has {len(fields)}")
        for field, text in zip(fields, texts, strict=True):
            value = getattr(entry, field.attname)
            if field.get_internal_type() == "JSONField":
                same = json.loads(text.replace("\\\\", "\\")) == value
            elif isinstance(value, datetime.datetime):
                same = text != "\\N" and datetime.datetime.fromisoformat(text) == value
            else:
                same = text == copy_text(field, value)
            if not same:
                raise SystemExit(f"{model.ledger_name} row {i}: column {field.attname} is {text!r}, kernel {value!r}")
        entry.seq, entry.recorded_at, entry.recorded_by_name = i + 1, spec.recorded_at(i), USER
        expected = rollups.counts(model, [entry], connection.alias)
        got = Counter({("entries", rollups.recorded_day(entry), "", ""): 1})
        for dimension, day, key in keys:
            got[(dimension, rollups.recorded_day(entry) if day == RECORDED else day, "", key)] += 1
        if got != expected:
            raise SystemExit(f"{model.ledger_name} row {i}: rollups {dict(got)} but the kernel counts {dict(expected)}")


def ensure_bookkeeping():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_dropped_index (tbl text, name text PRIMARY KEY, def text)")


def restore_indexes(table=None, log=print):
    """Rebuild the indexes a load dropped (all of them, or one table's)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, def FROM bench_dropped_index WHERE %s::text IS NULL OR tbl = %s", [table, table])
        for name, definition in cursor.fetchall():
            started = time.perf_counter()
            cursor.execute(definition)
            cursor.execute("DELETE FROM bench_dropped_index WHERE name = %s", [name])
            log(f"    index {name} rebuilt in {time.perf_counter() - started:.0f} s")


def drop_indexes(table):
    """Drop `table`'s secondary indexes (not the primary key's or a constraint's), remembering them."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = %s::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute("INSERT INTO bench_dropped_index VALUES (%s, %s, %s)", [table, name, definition])
            cursor.execute(f'DROP INDEX "{name}"')


def load_ledger(model, spec_class, target, log=print, verify_prefix=200_000):
    """Fill `model`'s ledger up to `target` entries; returns (rows loaded, seconds)."""
    table = model._meta.db_table
    columns = [f.column for f in model._meta.concrete_fields]
    assert columns[: len(KERNEL_COLUMNS)] == KERNEL_COLUMNS, columns
    ensure_bookkeeping()
    restore_indexes(table, log)
    have = model._base_manager.count()
    if have >= target:
        return 0, 0.0
    spec = spec_class(model, target)
    if target - have >= 1_000_000:
        drop_indexes(table)
    started = time.perf_counter()
    sql = f'COPY "{table}" ({", ".join(columns)}) FROM STDIN'
    entry_hash = hashing.entry_hash
    try:
        for first in range(have, target, BATCH):
            rows = [spec.fast(i) for i in range(first, min(target, first + BATCH))]
            check_rows(spec, rows, first)
            with transaction.atomic():
                lock_ledger(connection, model.ledger_name)
                tip = model._base_manager.order_by("-seq").values_list("seq", "entry_hash", "recorded_at").first()
                seq, prev, last_at = tip if tip else (0, hashing.GENESIS_HASH, None)
                if seq != first:
                    raise SystemExit(f"{model.ledger_name}: tip seq {seq}, expected {first} (row i is seq i + 1)")
                at = spec.recorded_at(first)
                if last_at is not None and at < last_at:
                    at = last_at
                canonical_of = hashing.entry_canonical_for(model.ledger_name, at, USER)
                head = f"\t{at.isoformat()}\t\\N\t{USER}\t"
                found = Counter()
                lines = []
                for cols, content, keys in rows:
                    seq += 1
                    canonical = canonical_of(seq, content)
                    this = entry_hash(prev, canonical)
                    lines.append(f"{seq}{head}{prev}\t{this}\t{esc(canonical)}\t{cols}\n")
                    prev = this
                    for key in keys:
                        found[key] += 1
                with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                    copy.write("".join(lines))
                day = at.astimezone(datetime.UTC).date()
                counted = Counter({("entries", day, "", ""): len(rows)})
                for (dimension, key_day, key), n in found.items():
                    counted[(dimension, day if key_day == RECORDED else key_day, "", key)] += n
                rollups._upsert(model.ledger_name, counted, connection.alias)
            done = first + len(rows)
            if (done // BATCH) % 25 == 0 or done == target:
                elapsed = time.perf_counter() - started
                log(f"    {model.ledger_name}: {done:,} ({(done - have) / elapsed:,.0f} rows/s)")
    finally:
        restore_indexes(table, log)
    seconds = time.perf_counter() - started
    # The latest-entry rows (a release name's current release) as append_many keeps them: one INSERT … SELECT.
    rebuilt = latest.rebuild_all(model)
    for kept, rows in rebuilt.items():
        log(f"    {model.ledger_name}: {rows:,} rows of {kept._meta.label} rebuilt")
    # Statistics for the loaded table and the rebuilt latest-entry tables, as autovacuum leaves them a minute
    # after a load: without them a list joining the current releases was planned on guesses (74 ms, not 1.5).
    with connection.cursor() as cursor:
        for analyzed in (table, *(kept._meta.db_table for kept in rebuilt)):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(analyzed)}")
    verify(model, verify_prefix, log)
    return target - have, seconds


class _Enough(Exception):
    pass


def verify(model, prefix, log=print):
    """The kernel's full chain verification over the first `prefix` entries (links, hashes, canonical
    bytes against the columns)."""
    checked = [0]

    def progress(n):
        checked[0] += n
        if checked[0] >= prefix:
            raise _Enough

    started = time.perf_counter()
    try:
        result = verify_chain(model, progress=progress)
    except _Enough:
        log(
            f"    {model.ledger_name}: chain verified over the first {checked[0]:,} entries "
            f"({time.perf_counter() - started:.0f} s)"
        )
        return
    if not result.ok:
        raise SystemExit(f"{model.ledger_name}: chain verification failed at {result.first_bad_seq}: {result.reason}")
    log(f"    {model.ledger_name}: chain verified over all {result.checked:,} entries")
