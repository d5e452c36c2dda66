"""Every target of issue #12 in one run (`make bench`): appends, reads, export, verification and Merkle integration.

    scripts/with-postgres.sh .venv/bin/python bench/targets.py [--full] [--skip PART] [append.py's options]

Each part runs in a process of its own, against a fresh database on DATABASE_URL's PostgreSQL server, and prints
its own report as it goes; the run ends with one table of every target, its figure and met / MISSED:

- appends (bench/append.py; every option this script does not know goes to it): Ledger beside MLflow and raw
  psycopg, one client and eight, single appends and batches, and the filtered list beside MLflow's search_runs;
- reads (bench/search_explain.py): the API's filtered lists, the list and dashboard pages and search, p95 each,
  every query they run EXPLAINed (a Seq Scan on a ledger table misses its target), on ledgers loaded by COPY
  through the kernel's hashes: --reads-entries per ledger (default 20,000, a couple of minutes), or with --full
  10,000,000 per ledger (hours of load and tens of GB; --reads-args='--sizes experience=1000000,…' gives some
  ledgers less; point DATABASE_URL at a server that keeps its data: bench/README.md, "Running it at 10M");
- export and full verification (bench/verify_export.py) and Merkle integration (bench/proofs_integrate.py) on
  --throughput-entries appended through the kernel (default 100,000; 1,000,000 with --full), the tables vacuumed
  and analyzed as autovacuum leaves them, each walk timed THROUGHPUT_REPEAT times (best and median printed).

Options it does not know go to append.py, even with --skip appends; give --reads-args its value as --reads-args=….

The exit status is 1 when a part could not finish (a missed target is not a failure of the run: it is printed).
"""

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import ensure_database, read_summary, recreate_database, require_postgres_url

BENCH = Path(__file__).resolve().parent
PARTS = ("appends", "reads", "throughput", "merkle")
# Each whole-ledger walk (verification, export, integration) is timed this many times and its best rate is the
# figure: one walk takes a second or two, and a shared machine's load moves single timings by up to a third.
THROUGHPUT_REPEAT = 3


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Any other option is bench/append.py's (see its --help).",
    )
    parser.add_argument("--full", action="store_true", help="the reads at 10,000,000 entries per ledger")
    parser.add_argument("--reads-entries", type=int, default=20_000, help="entries per ledger for the reads")
    parser.add_argument("--reads-args", default="", help="more options for search_explain.py, e.g. '--sizes …'")
    parser.add_argument("--throughput-entries", type=int, help="entries for export, verification and Merkle")
    parser.add_argument("--skip", action="append", choices=PARTS, default=[], help="leave a part out (repeatable)")
    args, append_args = parser.parse_known_args()
    throughput = args.throughput_entries or (1_000_000 if args.full else 100_000)
    base = require_postgres_url()
    python = sys.executable

    def reads():
        sizes = ["--full"] if args.full else ["--entries", str(args.reads_entries)]
        # At 10M the load takes hours: a server that keeps its data keeps it for the next run, which only measures
        # (search_explain.py reuses a ledger already at its size).
        url = (ensure_database if args.full else recreate_database)(base, "ledger_bench_reads")
        # DJANGO_DEBUG as search_explain.py documents it: its pages are rendered without collected static files.
        env = {"DATABASE_URL": url, "DJANGO_DEBUG": "1"}
        return [python, str(BENCH / "search_explain.py"), *sizes, *shlex.split(args.reads_args)], env

    def merkle():
        url = recreate_database(base, "ledger_bench_merkle")
        command = [python, str(BENCH / "proofs_integrate.py"), "--entries", str(throughput), "--database-url", url]
        return [*command, "--repeat", str(THROUGHPUT_REPEAT)], {}

    parts = {
        "appends": lambda: ([python, str(BENCH / "append.py"), *append_args], {}),
        "reads": reads,
        "throughput": lambda: (
            [python, str(BENCH / "verify_export.py"), "--entries", str(throughput), "--repeat", str(THROUGHPUT_REPEAT)],
            {},
        ),
        "merkle": merkle,
    }
    with tempfile.TemporaryDirectory(prefix="ledger-bench-targets-") as scratch:
        summary = Path(scratch) / "summary.jsonl"
        summary.touch()
        unfinished = []
        for name, command_of in parts.items():
            if name in args.skip:
                continue
            command, env = command_of()
            print(
                f"\n=== {name}: {shlex.join(Path(word).name if word == python else word for word in command)}",
                flush=True,
            )
            started = time.perf_counter()
            done = subprocess.run([*command, "--summary", str(summary)], env={**os.environ, **env})
            print(f"=== {name}: {time.perf_counter() - started:.0f} s", flush=True)
            if done.returncode:
                unfinished.append((name, done.returncode))
        print_targets(read_summary(summary), unfinished)
    sys.exit(1 if unfinished else 0)


def print_targets(rows, unfinished):
    """The table of every target gathered from the parts, then the parts that did not finish."""
    print("\nIssue #12's targets, measured in this run:\n")
    width = max([len("target"), *(len(row[0]) for row in rows)])
    figure_width = max([len("figure"), *(len(row[1]) for row in rows)])
    print(f"{'target':<{width}}  {'figure':>{figure_width}}  {'asked':<32}")
    for target, figure, goal, met in rows:
        verdict = "not measured" if met is None else "met" if met else "MISSED"
        print(f"{target:<{width}}  {figure:>{figure_width}}  {goal:<32}  {verdict}")
    met, missed = sum(1 for row in rows if row[3]), sum(1 for row in rows if row[3] is False)
    unmeasured = len(rows) - met - missed
    print(f"\n{met} of {len(rows)} met, {missed} missed" + (f", {unmeasured} not measured." if unmeasured else "."))
    for name, status in unfinished:
        print(f"The {name} part stopped with exit status {status}: its targets above are partial or missing.")


if __name__ == "__main__":
    main()
