"""Benchmark: the lists (API, page, admin) of a principal bound to two big tenants, read as one IN (…) or per tenant.

    DJANGO_DEBUG=1 scripts/with-postgres.sh .venv/bin/python bench/several_tenants.py --each 50000 --others 4
    DJANGO_DEBUG=1 DATABASE_URL=postgres://…/ledger10m .venv/bin/python bench/several_tenants.py   # a loaded database

Two tenants append --each entries to each of the enhance, log and output ledgers through the kernel (batches of
1000, as an integrator would; a ledger that already holds them is reused), and after each of their batches other
tenants append --others batches: the two tenants' entries are spread through a ledger of many tenants, as they would
be in a shared deployment. A principal bound to both, made with
`add_user --tenant A --tenant B` (reader, staff for the admin), then reads each list in process: first as the code reads
it (each page's candidates one tenant at a time, ledger/models/tenant_parts.py), then with that split turned off, one
`tenant_id IN (A, B)` read per page, as before it existed. The plan of the slowest ledger read of both is printed.
"""

import argparse
import io
import time

from harness import (
    prepare_database,
    request_latencies,
    setup_django,
    slowest_read,
    timed_with_statements,
    vacuum_analyze,
)

setup_django()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from enhancelog.models import EnhanceEntry  # noqa: E402
from ledgerproject.ledger.models import tenant_parts  # noqa: E402
from logchain.models import LogRecord  # noqa: E402
from runs.models import Output  # noqa: E402

TENANTS = ("bench-tenant-a", "bench-tenant-b")
OTHERS = "bench-tenant-others"
BATCH = 1000
LISTS = {
    EnhanceEntry: ("/api/v1/enhances/", "/enhances/entries/", "/admin/enhancelog/enhanceentry/"),
    LogRecord: ("/api/v1/logs/", "/logs/", "/admin/logchain/logrecord/"),
    Output: ("/api/v1/outputs/", "/admin/runs/output/"),
}


def rows(model, tenant, first, count):
    """`count` entries of `tenant` for `model`'s ledger, numbered from `first` (both tenants' interleave in time)."""
    tag = tenant[-1]
    if model is EnhanceEntry:
        return [
            {"issue_id": f"{tenant}-issue-{i}", "blueprint_id": f"{tenant}-bp-{i % 500}", "prev_hash": "ab" * 32,
             "new_hash": "cd" * 32, "status": EnhanceEntry.APPLIED, "ts_ms": 1_700_000_000_000 + 2 * i + (tag == "b"),
             "tenant_id": tenant}
            for i in range(first, first + count)
        ]  # fmt: skip
    if model is LogRecord:
        node = {"a": 78_000_001, "b": 78_000_002}.get(tag, 78_000_003)
        return [
            {"node_id": node, "node_seq": i + 1, "ts_ms": 1_700_000_000_000 + 2 * i, "level": "Info",
             "message": f"{tenant} line {i}", "tenant_id": tenant}
            for i in range(first, first + count)
        ]  # fmt: skip
    return [
        {"output_id": f"{tenant}-out-{i}", "task_id": f"{tenant}-task-{i // 10}", "attempt": 1, "producer_agent": tag,
         "event": {"type": "progress", "stage": "bench", "note": None}, "parent_refs": [], "tenant_id": tenant}
        for i in range(first, first + count)
    ]  # fmt: skip


def principal():
    User = get_user_model()
    if not User.objects.filter(username="bench-two-tenants").exists():
        tenants = [arg for tenant in TENANTS for arg in ("--tenant", tenant)]
        call_command(
            "add_user", "bench-two-tenants", "--role", "reader", "--role", "writer", *tenants, stdout=io.StringIO()
        )
    User.objects.filter(username="bench-two-tenants").update(is_staff=True)
    return User.objects.get(username="bench-two-tenants")


def fill(model, each, others, user):
    """Both tenants' entries, appended in turns of a batch each, up to `each` per tenant, and `others` batches of
    other tenants' after each turn."""
    held = model._base_manager.of_tenant(TENANTS[0]).count()
    started, appended = time.perf_counter(), 0
    for first in range(held, each, BATCH):
        count = min(BATCH, each - first)
        for tenant in TENANTS:
            model.objects.append_many(rows(model, tenant, first, count), recorded_by=user)
        for turn in range(others):
            model.objects.append_many(rows(model, OTHERS, (first * others) + turn * BATCH, count), recorded_by=user)
        appended += count * (len(TENANTS) + others)
    if appended:
        print(
            f"{model.ledger_name}: {appended:,} entries appended in {time.perf_counter() - started:.0f} s", flush=True
        )


def timed_and_planned(client, path, table, runs):
    """((p50, p95) ms of `runs` GETs, timed without recording their SQL: writing out a page's keys for the record
    costs more than the read), and the plan of the slowest ordered ledger read of one more GET."""
    p50, p95, _ = request_latencies(client, path, runs, warm_up=True)
    statements = timed_with_statements(client, path, 1)[2]
    return (p50, p95), slowest_read(statements, table, ordered_only=True)


def shown(lines, whole):
    """A plan's first lines, each cut short (a page's keys make a long line), or every line as it is when `whole`."""
    keep, width = (None, None) if whole else (5, 150)
    return "\n              ".join(line[:width] for line in lines[:keep])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--each", type=int, default=50_000, help="entries of each of the two tenants per ledger")
    parser.add_argument("--others", type=int, default=4, help="other tenants' batches after each turn of the two")
    parser.add_argument("--runs", type=int, default=5, help="timed requests per list and way of reading")
    parser.add_argument("--plans", action="store_true", help="print each plan whole, not its first lines")
    args = parser.parse_args()
    prepare_database(allow_sqlite=False)
    from django.test import Client

    user = principal()
    for model in LISTS:
        fill(model, args.each, args.others, user)
    vacuum_analyze(*LISTS)
    client = Client()
    client.force_login(user)
    print(
        f"\n{'list (two tenants)':36} {'entries':>11} {'per tenant: p50 / p95 ms':>26} {'one IN (…): p50 / p95 ms':>26}"
    )
    plans = []
    for model, paths in LISTS.items():
        table, entries = model._meta.db_table, model._base_manager.count()
        for path in paths:
            split, plan_split = timed_and_planned(client, path, table, args.runs)
            kept, tenant_parts.MAX_TENANT_PARTS = tenant_parts.MAX_TENANT_PARTS, 1
            try:
                whole, plan_whole = timed_and_planned(client, path, table, args.runs)
            finally:
                tenant_parts.MAX_TENANT_PARTS = kept
            print(
                f"{path:36} {entries:>11,} {split[0]:14.1f} / {split[1]:8.1f} {whole[0]:14.1f} / {whole[1]:8.1f}",
                flush=True,
            )
            plans.append((path, plan_split, plan_whole))
    for path, (ms_split, lines_split), (ms_whole, lines_whole) in plans:
        print(f"\n{path}: slowest ordered ledger read {ms_split:.2f} ms per tenant, {ms_whole:.2f} ms as one IN (…)")
        print("  per tenant: " + shown(lines_split, args.plans))
        print("  one IN:     " + shown(lines_whole, args.plans))


if __name__ == "__main__":
    main()
