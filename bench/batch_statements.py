"""PostgreSQL's side of a batch append, per statement: wall µs per row of each statement of a batch of 1000.

    scripts/with-postgres.sh .venv/bin/python bench/batch_statements.py --stored 100000 --rounds 3

For each ledger that takes arrays, the script stores `--stored` entries first (batches through the API, in
process), then POSTs `--rounds` more batches through Django's test client and times every SQL statement the
batch sends (Django's execute wrapper; the COPY, which goes through the driver's own cursor, is timed around
bulk_insert.insert_entries), and prints each statement kind's wall µs per row (best of the rounds). Finally it
prints EXPLAIN (ANALYZE, BUFFERS) of each ledger's conflict and tip query for a batch of new keys.
"""

import argparse
import json
import os
import re
import tempfile
import time
from collections import defaultdict

from harness import recreate_database, require_postgres_url, setup_django
from profile_batch import batch_shapes


def kind_of(sql):
    """A short name for a statement of the append path."""
    text = sql.lstrip()
    if "pg_advisory_xact_lock" in text:
        return "lock + conflicts + tip" if "CASE WHEN" in text else "lock + tip"
    if text.startswith("SAVEPOINT") or text.startswith("RELEASE SAVEPOINT") or text.startswith("ROLLBACK TO"):
        return "savepoint"
    if "ledger_rollup" in text and text.startswith("INSERT"):
        return "rollups UPSERT" + (" + latest UPSERT" if text.count("INSERT INTO") > 1 else "")
    if text.startswith("INSERT") and "ON CONFLICT" in text:
        return "latest UPSERT"
    if text.startswith("SELECT") and "MAX(" in text and "GROUP BY" in text:
        return "scope counters MAX"
    if "CASE WHEN" in text:
        return "conflicts + tip"
    if text.startswith("SELECT"):
        match = re.search(r'FROM "(\w+)"', text)
        return f"SELECT {match.group(1) if match else '?'}"
    return text.split()[0]


# The column each ledger's copied rows change to stay new (a text key gets a suffix, a number an offset).
NEW_KEYS = {"enhancelog": "issue_id", "experience": "event_id", "run_events": "event_seq", "logchain": "node_seq"}


def index_costs(connection, model, size, repeats=7):
    """Wall µs per row of inserting `size` stored rows again (new seq and key; INSERT … SELECT, so no parsing of
    the values): with every index, with none, and with each index alone (the others dropped inside a
    transaction that rolls back): what each index costs an append."""
    table = model._meta.db_table
    key = NEW_KEYS.get(model.ledger_name, "output_id")
    text_key = model._meta.get_field(key).get_internal_type() in ("CharField", "TextField")
    changed = f"{key} = {key} || '-again'" if text_key else f"{key} = {key} + 1000000000"
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s ORDER BY indexname", [table])
        indexes = [name for (name,) in cursor.fetchall()]
        cursor.execute(
            f"DROP TABLE IF EXISTS again; CREATE TEMP TABLE again AS SELECT * FROM {table} ORDER BY seq DESC LIMIT {size}"
        )
        cursor.execute(f"UPDATE again SET seq = seq + 1000000000, {changed}")

    with connection.cursor() as cursor:
        cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass", [table])
        constraints = {name for (name,) in cursor.fetchall()}

    def timed(dropped):
        best = None
        for _ in range(repeats):
            with connection.cursor() as cursor:
                cursor.execute("BEGIN")
                try:
                    for name in dropped:
                        if name in constraints:  # the primary key: its constraint owns the index
                            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}" CASCADE')
                        else:
                            cursor.execute(f'DROP INDEX "{name}"')
                    started = time.perf_counter()
                    cursor.execute(f"INSERT INTO {table} SELECT * FROM again")
                    seconds = time.perf_counter() - started
                finally:
                    cursor.execute("ROLLBACK")
            best = seconds if best is None else min(best, seconds)
        return best / size * 1e6

    connection.ensure_connection()
    was = connection.connection.autocommit
    connection.connection.autocommit = True
    try:
        every, heap = timed([]), timed(indexes)
        print(
            f"  INSERT of {size} stored rows again: {every:.1f} µs/row with its {len(indexes)} indexes, {heap:.1f} without any;"
        )
        print("  each index alone on the heap adds:")
        for name in indexes:
            print(f"    {name:<52} {timed([other for other in indexes if other != name]) - heap:6.1f} µs/row")
    finally:
        connection.connection.autocommit = was


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=100_000, help="entries stored per ledger before timing")
    parser.add_argument("--size", type=int, default=1000, help="entries per batch")
    parser.add_argument("--rounds", type=int, default=3, help="timed batches per ledger")
    parser.add_argument("--only", help="one ledger: enhance, experience, run_events, logs, outputs")
    parser.add_argument(
        "--index-costs", action="store_true", help="also time inserting a batch's rows with each index dropped"
    )
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="ledger-batch-statements-")
    os.environ["LEDGER_VAR_DIR"] = workdir
    os.environ["DATABASE_URL"] = recreate_database(require_postgres_url(), "batch_statements")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    from enhancelog.models import EnhanceEntry
    from experience.models import ExperienceEvent
    from ledgerproject.ledger import bulk_insert
    from logchain.models import LogRecord
    from runs.models import Output, RunEvent

    batch_ledgers = {
        "enhance": EnhanceEntry,
        "experience": ExperienceEvent,
        "run_events": RunEvent,
        "logs": LogRecord,
        "outputs": Output,
    }

    call_command("migrate", verbosity=0)
    client, shapes = batch_shapes(highest_node=10**7)

    timings = defaultdict(float)
    seen = {}

    def timed(execute, sql, params, many, context):
        if "pg_advisory_xact_lock" in sql:
            seen["read"] = (sql.split("; ", 1)[1], params[1:])
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings[kind_of(sql)] += time.perf_counter() - started

    original_insert = bulk_insert.insert_entries

    def timed_insert(model, entries, using):
        started = time.perf_counter()
        try:
            return original_insert(model, entries, using)
        finally:
            timings["COPY"] += time.perf_counter() - started

    def post(shape, tag):
        url, body = shape(tag)
        payload = json.dumps([body(i) for i in range(args.size)])
        response = client.post(url, payload, content_type="application/json")
        assert response.status_code == 201, (response.status_code, response.content[:500])

    print(f"{args.size} entries per batch, {args.stored:,} stored per ledger first, best of {args.rounds} batches")
    for name, shape in shapes.items():
        if args.only and name != args.only:
            continue
        started = time.perf_counter()
        for n in range(args.stored // args.size):
            post(shape, f"{name}-stored-{n}")
        print(f"\n{name}: {args.stored:,} stored in {time.perf_counter() - started:.0f} s")
        best = {}
        walls = []
        for round_ in range(args.rounds):
            timings.clear()
            bulk_insert.insert_entries = timed_insert
            started = time.perf_counter()
            try:
                with connection.execute_wrapper(timed):
                    post(shape, f"{name}-timed-{round_}-{time.time_ns()}")
            finally:
                bulk_insert.insert_entries = original_insert
            walls.append(time.perf_counter() - started)
            for kind, seconds in timings.items():
                best[kind] = min(best.get(kind, seconds), seconds)
        print(f"  whole POST (best)                    {min(walls) / args.size * 1e6:8.1f} µs/row")
        for kind, seconds in sorted(best.items(), key=lambda item: -item[1]):
            print(f"  {kind:<36} {seconds / args.size * 1e6:8.1f} µs/row (wall)")
        if args.index_costs:
            index_costs(connection, batch_ledgers[name], args.size)
        if "read" in seen:
            sql, params = seen.pop("read")
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
                print("  EXPLAIN of the read under the lock (the last batch's keys, now stored):")
                for (line,) in cursor.fetchall():
                    print(f"    {line}")


if __name__ == "__main__":
    main()
