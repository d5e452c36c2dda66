"""Benchmark: a tenant-bound principal's lists (API, page, admin) on big ledgers, with and without its tenant's index.

    DJANGO_DEBUG=1 scripts/with-postgres.sh .venv/bin/python bench/tenant_reads.py --entries 1000000
    DJANGO_DEBUG=1 DATABASE_URL=postgres://…/ledger10m .venv/bin/python bench/tenant_reads.py   # a loaded database

The enhance, log, output and run ledgers are filled to --entries by the fast COPY loader (bench/fast_copy.py, as
search_explain.py fills them; a ledger already that big is reused), with no tenant. A small tenant then appends a few
entries to each, through the kernel, fewer than a page: its principal's list must find that there are no more, which a
walk of the ledger's order does only at its end. Each list is timed in process as that principal (bound to the one
tenant, with the reader role, staff for the admin), first as the code reads it, then with the ledger's tenant index
dropped inside a transaction rolled back after (what the lists cost before the index existed), and the plan of its
ledger read is printed for both.
"""

import argparse
import io
import uuid

from harness import prepare_database, setup_django, slowest_read, timed_with_statements, vacuum_analyze

setup_django()

import fast_copy  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from enhancelog.models import EnhanceEntry  # noqa: E402
from logchain.models import LogRecord  # noqa: E402
from runs.models import Output, Run  # noqa: E402

TENANT = "bench-small-tenant"
ENTRIES_EACH = 10  # fewer than a page (50): the list's read must reach the end of what the tenant holds
INDEXES = {
    EnhanceEntry: "enhancelog_tenant_ts",
    LogRecord: "logchain_tenant_seq",
    Output: "runs_output_tenant_seq",
    Run: "runs_run_tenant_newest",
}
LISTS = {
    EnhanceEntry: ("/api/v1/enhances/", "/enhances/entries/", "/admin/enhancelog/enhanceentry/"),
    LogRecord: ("/api/v1/logs/", "/logs/", "/admin/logchain/logrecord/"),
    Output: ("/api/v1/outputs/", "/runs/tasks/", "/admin/runs/output/"),
    Run: ("/api/v1/runs/", "/runs/", "/admin/runs/run/"),
}


def small_tenants_entries(model):
    """The small tenant's rows for `model`'s ledger (ENTRIES_EACH of them)."""
    if model is EnhanceEntry:
        return [
            {
                "issue_id": f"small-issue-{i}",
                "blueprint_id": "small-blueprint",
                "prev_hash": "ab" * 32,
                "new_hash": "",
                "status": EnhanceEntry.REJECTED,
                "reasons": ["small tenant"],
                "ts_ms": 1_700_000_000_000 + i,
                "tenant_id": TENANT,
            }
            for i in range(ENTRIES_EACH)
        ]
    if model is LogRecord:
        return [
            {"node_id": 77_000_001, "node_seq": i + 1, "ts_ms": 1_700_000_000_000 + i, "level": "Info",
             "message": f"small tenant line {i}", "tenant_id": TENANT}
            for i in range(ENTRIES_EACH)
        ]  # fmt: skip
    if model is Output:
        return [
            {"output_id": f"small-out-{i}", "task_id": f"small-task-{i}", "attempt": 1, "producer_agent": "small",
             "event": {"type": "progress", "stage": "small", "note": None}, "parent_refs": [], "tenant_id": TENANT}
            for i in range(ENTRIES_EACH)
        ]  # fmt: skip
    return [
        {"run_id": uuid.uuid4(), "spec_digest": "cd" * 32, "agent_name": "small-agent", "tags": {},
         "created_at": "2026-01-21T12:00:00Z", "tenant_id": TENANT}
        for _ in range(ENTRIES_EACH)
    ]  # fmt: skip


def small_tenant_principal():
    """The small tenant's principal, made as an operator makes one (add_user), and staff for the admin's lists."""
    User = get_user_model()
    if not User.objects.filter(username="bench-small-reader").exists():
        roles = ["--role", "reader", "--role", "writer", "--tenant", TENANT]
        call_command("add_user", "bench-small-reader", *roles, stdout=io.StringIO())
    User.objects.filter(username="bench-small-reader").update(is_staff=True)
    return User.objects.get(username="bench-small-reader")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries per ledger (loaded with no tenant)")
    parser.add_argument("--runs", type=int, default=5, help="timed requests per list and index state")
    parser.add_argument("--plans", action="store_true", help="print each plan whole, not its first lines")
    args = parser.parse_args()
    prepare_database(allow_sqlite=False)
    user = small_tenant_principal()
    specs = fast_copy.specs()
    for model in INDEXES:
        loaded, seconds = fast_copy.load_ledger(model, specs[model], args.entries, log=lambda line: None)
        if loaded:
            print(f"{model.ledger_name}: {loaded:,} entries loaded in {seconds:.0f} s", flush=True)
        if not model._base_manager.of_tenant(TENANT).exists():
            model.objects.append_many(small_tenants_entries(model), recorded_by=user)
    vacuum_analyze(*INDEXES)
    client = Client()
    client.force_login(user)
    print(
        f"\n{'list (tenant-bound principal)':36} {'entries':>11} {'tenant index: p50 / p95 ms':>27} {'without: p50 / p95 ms':>24}"
    )
    plans = []
    for model, index in INDEXES.items():
        table, entries = model._meta.db_table, model._base_manager.count()
        for path in LISTS[model]:
            client.get(path)  # warm
            with_index = timed_with_statements(client, path, args.runs)
            plan_with = slowest_read(with_index[2], table)
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(f'DROP INDEX "{index}"')
                without = timed_with_statements(client, path, args.runs)
                plan_without = slowest_read(without[2], table)
                transaction.set_rollback(True)
            print(
                f"{path:36} {entries:>11,} {with_index[0]:12.1f} / {with_index[1]:8.1f}"
                f" {without[0]:12.1f} / {without[1]:8.1f}",
                flush=True,
            )
            plans.append((path, plan_with, plan_without))
    for path, (ms_with, lines_with), (ms_without, lines_without) in plans:
        keep = None if args.plans else 3
        print(f"\n{path}: slowest ledger read {ms_with:.2f} ms with the tenant index, {ms_without:.2f} ms without")
        print("  with:    " + "\n           ".join(lines_with[:keep]))
        print("  without: " + "\n           ".join(lines_without[:keep]))


if __name__ == "__main__":
    main()
