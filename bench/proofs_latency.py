"""Benchmark: Merkle root, inclusion and consistency proof latency over a ledger's stored tree (default 1M entries).

    .venv/bin/python bench/proofs_latency.py                      # 1,000,000 entries, throwaway SQLite file
    .venv/bin/python bench/proofs_latency.py --entries 100000
    .venv/bin/python bench/proofs_latency.py --database-url postgres://user@host/db   # a scratch database!

The tree's state is filled directly (the tiles that integration would store, for synthetic entry hashes),
then random proofs are timed exactly as the API computes them (checkpoints.tree(...)), and each is checked with the offline verifier outside the timing. It writes to the database it is given:
never point it at one you care about.
"""

import argparse
import hashlib
import random
import statistics
import time

from harness import run_in_scratch_dir, setup_django, use_scratch_database


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(name, seconds):
    ms = [s * 1000 for s in seconds]
    print(
        f"{name:<22} n={len(ms):<5} p50={percentile(ms, 0.5):7.2f} ms  p95={percentile(ms, 0.95):7.2f} ms  "
        f"p99={percentile(ms, 0.99):7.2f} ms  mean={statistics.fmean(ms):7.2f} ms"
    )


def main(workdir):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=500, help="proofs of each kind to time")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary directory")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    use_scratch_database(args.database_url, workdir)
    setup_django()
    from django.core.management import call_command
    from django.db import connection, transaction

    from ledgerproject.ledger import checkpoints, merkle
    from ledgerproject.ledger.checkpoints import MerkleTile
    from ledgerproject.ledger.verify import verify_consistency, verify_inclusion

    call_command("migrate", verbosity=0)
    ledger, n = "bench", args.entries
    print(f"database: {connection.vendor}, entries: {n:,}")

    started = time.perf_counter()
    frontier = merkle.Frontier()
    raw = b"".join(hashlib.sha256(seq.to_bytes(8, "big")).digest() for seq in range(1, n + 1))
    leaves = [hashlib.sha256(b"\x00" + raw[offset : offset + 32]).digest() for offset in range(0, len(raw), 32)]
    with transaction.atomic():
        MerkleTile.objects.filter(ledger=ledger)._raw_delete(MerkleTile.objects.db)
        checkpoints._insert_runs(connection, ledger, frontier.push_runs(raw))  # the integrator's own insert
    stored = MerkleTile.objects.filter(ledger=ledger).count()
    print(f"filled {stored:,} stored runs of tiles in {time.perf_counter() - started:.1f} s")

    tree = checkpoints.tree(ledger, n)
    root_times = []
    for _ in range(50):
        t0 = time.perf_counter()
        root = tree.root()
        root_times.append(time.perf_counter() - t0)
    assert root == frontier.root(), "stored root differs from the streamed root"
    report("root", root_times)

    rng = random.Random(args.seed)
    inclusion_times, path_lengths = [], []
    for _ in range(args.proofs):
        index = rng.randrange(n)
        t0 = time.perf_counter()
        proof = checkpoints.tree(ledger, n).inclusion_proof(index)
        inclusion_times.append(time.perf_counter() - t0)
        verify_inclusion(index, n, leaves[index], proof, root)
        path_lengths.append(len(proof))
    report("inclusion proof", inclusion_times)

    consistency_times = []
    for _ in range(args.proofs // 5 or 1):
        first = rng.randrange(1, n)
        first_root = checkpoints.tree(ledger, first).root()
        t0 = time.perf_counter()
        proof = checkpoints.tree(ledger, n).consistency_proof(first)
        consistency_times.append(time.perf_counter() - t0)
        verify_consistency(first, n, first_root, root, proof)
    report("consistency proof", consistency_times)
    print(f"audit path length: {min(path_lengths)}–{max(path_lengths)} hashes; every proof verified")


if __name__ == "__main__":
    run_in_scratch_dir(main)
