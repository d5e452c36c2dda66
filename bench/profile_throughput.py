"""cProfile of the three whole-ledger walks of issue #12: full verification, the JSONL export and Merkle integration.

    scripts/with-postgres.sh .venv/bin/python bench/profile_throughput.py --entries 50000 [--top 15]

Fills an enhance log of N entries (`append_many`, batches of 5000) in its own database on DATABASE_URL's
server (reused when it already holds N entries), then for each phase prints the rate without the profiler
(best of --repeat), the process's CPU µs per entry (load on a shared machine moves wall time far more
than CPU time), and the --top functions by own time under cProfile, in µs per entry. Profiler overhead
inflates Python-heavy steps: read the shares, and the wall rate without it.
"""

import argparse
import cProfile
import os
import pstats
import time

from harness import ROOT, database_url, require_postgres_url, setup_django, vacuum_analyze
from verify_export import entry

DB_NAME = "ledger_bench_profile"


def fill(entries):
    from django.core.management import call_command

    from enhancelog.models import EnhanceEntry

    call_command("migrate", verbosity=0)
    held = EnhanceEntry._base_manager.count()
    if held == entries:
        return f"reusing {entries:,} entries"
    if held:
        raise SystemExit(f"{DB_NAME} holds {held:,} entries, not {entries:,}: drop it first")
    for first in range(0, entries, 5000):
        EnhanceEntry.objects.append_many(
            [entry(i) for i in range(first, min(entries, first + 5000))], recorded_by="bench"
        )
    vacuum_analyze(EnhanceEntry)
    return f"filled {entries:,} entries"


def phases():
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from enhancelog.models import EnhanceEntry
    from ledgerproject.ledger import checkpoints
    from ledgerproject.ledger.chain import verify_chain
    from ledgerproject.ledger.models import ApiToken, MerkleTile

    def verify():
        result = verify_chain(EnhanceEntry)
        assert result.ok, result

    user, _ = get_user_model().objects.get_or_create(username="bench-profile", defaults={"is_superuser": True})
    _, key = ApiToken.objects.issue(user)
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")

    def export():
        response = client.get("/api/v1/enhances/?format=jsonl")
        assert sum(chunk.count(b"\n") for chunk in response.streaming_content) > 0

    def forget_tree():  # outside the timing: the next integration starts from an empty, vacuumed table
        MerkleTile.objects.filter(ledger=EnhanceEntry.ledger_name)._raw_delete(MerkleTile.objects.db)
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM {MerkleTile._meta.db_table}")

    def integrate():
        checkpoints.integrate(EnhanceEntry)

    return {"verify": (None, verify), "export": (None, export), "integrate": (forget_tree, integrate)}


def measure(entries, name, prepare, run, repeat, top):
    walls, cpus = [], []
    for _ in range(repeat):
        if prepare:
            prepare()
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    print(
        f"\n== {name}: {entries / min(walls):,.0f} entries/s (best of {repeat}; "
        f"walls {', '.join(f'{w:.2f}' for w in walls)} s), {min(cpus) / entries * 1e6:.2f} µs CPU per entry"
    )
    if prepare:
        prepare()
    profile = cProfile.Profile()
    profile.enable()
    run()
    profile.disable()
    stats = pstats.Stats(profile)
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    total = stats.total_tt
    print(f"   under cProfile {total:.2f} s; own time per entry of the costliest functions:")
    for (path, line, function), (_, calls, own, cumulative, _) in rows:
        where = f"{os.path.relpath(path, ROOT) if path.startswith('/') else path}:{line}({function})"
        print(
            f"   {own / entries * 1e6:7.2f} µs own {cumulative / entries * 1e6:7.2f} µs cum "
            f"{calls / entries:6.2f} calls/entry  {where}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help="unprofiled timings per phase (the best is printed)")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--only", choices=["verify", "export", "integrate"], action="append")
    args = parser.parse_args()
    base = require_postgres_url()
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ.update(
        DATABASE_URL=database_url(base, DB_NAME), LOGCHAIN_APPENDER="noop", LEDGER_VAR_DIR=str(ROOT / "var" / "bench")
    )
    setup_django()
    print(fill(args.entries))
    for name, (prepare, run) in phases().items():
        if not args.only or name in args.only:
            measure(args.entries, name, prepare, run, args.repeat, args.top)


if __name__ == "__main__":
    main()
