"""Benchmark: Merkle integration throughput (entries/s) and checkpoint + export cost, through the real code paths.

    .venv/bin/python bench/proofs_integrate.py --entries 200000          # throwaway SQLite file
    .venv/bin/python bench/proofs_integrate.py --database-url postgres://… # a scratch database!

Appends synthetic notes to the test-only ledger (tests.ledger_testapp) in batches of 1000, then times
`checkpoints.integrate` (what `checkpoint_ledgers` runs), a checkpoint over the integrated tree, and a
verifiable export (with the offline verifier's check of it). With --repeat N the integration is timed N
times, the stored tree thrown away (and the table vacuumed on PostgreSQL) between timings, and the best
and median are printed, with the CPU each timing cost per entry: this process's, and the PostgreSQL
backend's when the server runs on this machine (read from /proc; on a shared machine the figures that move
least with the others' load). Never point it at a database you care about.
"""

import argparse
import os
import resource
import statistics
import time
from pathlib import Path

from harness import run_in_scratch_dir, setup_django, use_scratch_database, vacuum_analyze, write_summary

INTEGRATE_PER_S = 100_000  # issue #12's target


def main(workdir):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary directory")
    parser.add_argument("--repeat", type=int, default=1, help="time the integration N times (best and median)")
    parser.add_argument(
        "--summary", help="also add the target and its verdict to this JSON-lines file (bench/targets.py)"
    )
    args = parser.parse_args()

    use_scratch_database(args.database_url, workdir)
    setup_django("ledgerproject.test_settings")
    from django.core.management import call_command
    from django.db import connection

    from ledgerproject.ledger import checkpoints, signing
    from ledgerproject.ledger.proofs_api import export_lines
    from ledgerproject.ledger.verify import verify_export
    from tests.ledger_testapp.models import Note

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}, entries: {args.entries:,}")
    started = time.perf_counter()
    for start in range(0, args.entries, 1000):
        count = min(1000, args.entries - start)
        Note.objects.append_many([{"key": f"k{start + i}", "body": {"n": start + i}} for i in range(count)])
    print(f"appended in {time.perf_counter() - started:.1f} s")
    vacuum_analyze(Note)

    server_cpu = backend_cpu_reader(connection)
    timings, client_costs, server_costs = [], [], []
    for attempt in range(args.repeat):
        if attempt:  # throw the tree away, outside the timing (VACUUM: the next run must not meet dead rows)
            from ledgerproject.ledger.models import MerkleTile

            MerkleTile.objects.filter(ledger=Note.ledger_name)._raw_delete(MerkleTile.objects.db)
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"VACUUM {MerkleTile._meta.db_table}")
        started, client_started, server_started = time.perf_counter(), process_cpu(), server_cpu()
        size = checkpoints.integrate(Note)
        timings.append(time.perf_counter() - started)
        client_costs.append((process_cpu() - client_started) / size * 1e6)
        if server_started is not None:
            server_costs.append((server_cpu() - server_started) / size * 1e6)
    elapsed = min(timings)
    print(f"integrated {size:,} entries in {elapsed:.1f} s: {size / elapsed:,.0f} entries/s", end="")
    print(f" (best; median {size / statistics.median(timings):,.0f} of {args.repeat})" if args.repeat > 1 else "")
    write_summary(
        args.summary,
        [
            (
                f"Merkle integration, {size:,} entries ({connection.vendor})",
                f"{size / elapsed:,.0f} entries/s",
                f"≥ {INTEGRATE_PER_S:,} entries/s",
                size / elapsed >= INTEGRATE_PER_S,
            )
        ],
    )
    cpu = f"CPU per entry (median): this process {statistics.median(client_costs):.2f} µs"
    if server_costs:
        cpu += f", the PostgreSQL backend {statistics.median(server_costs):.2f} µs"
    print(cpu)

    started = time.perf_counter()
    checkpoint, _ = checkpoints.make_checkpoint(Note)
    print(f"checkpoint @{checkpoint.tree_size:,} signed in {(time.perf_counter() - started) * 1000:.1f} ms")

    target = Path(workdir) / "export.jsonl"
    started = time.perf_counter()
    with target.open("w") as handle:
        for line in export_lines(Note, checkpoint):
            handle.write(line)
    elapsed = time.perf_counter() - started
    print(f"exported in {elapsed:.1f} s: {size / elapsed:,.0f} entries/s, {target.stat().st_size / 1e6:.0f} MB")
    started = time.perf_counter()
    public_key = signing.signing_key().public_key()
    with target.open() as handle:
        verify_export(handle, public_key)
    elapsed = time.perf_counter() - started
    print(f"offline verification in {elapsed:.1f} s: {size / elapsed:,.0f} entries/s")
    print(f"max RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def process_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def backend_cpu_reader(connection):
    """A function giving the CPU seconds spent so far by this connection's PostgreSQL backend, or None when
    that cannot be read (SQLite, or a server on another machine)."""
    if connection.vendor != "postgresql":
        return lambda: None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        stat = f"/proc/{cursor.fetchone()[0]}/stat"

    def read():
        try:
            with open(stat) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime, in ticks

    return read


if __name__ == "__main__":
    run_in_scratch_dir(main)
