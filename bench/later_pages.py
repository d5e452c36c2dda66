"""Benchmark: the list pages' later pages on big ledgers, read from their cursor on, against the cursor as a filter only.

    DJANGO_DEBUG=1 scripts/with-postgres.sh .venv/bin/python bench/later_pages.py --entries 1000000
    DJANGO_DEBUG=1 DATABASE_URL=postgres://…/ledger10m .venv/bin/python bench/later_pages.py   # a loaded database

The enhance and run ledgers are filled to --entries by the fast COPY loader (bench/fast_copy.py; a ledger already that
big is reused). Each list page is ordered by two columns (claimed time or creation time, then seq), and its cursor
names a row: the next page holds the rows past it, `a < v OR (a = v AND seq < s)`. The kernel's pager
(`KeysetPager._beyond`) also says `a <= v` on its own, an index condition, so the read seeks to the cursor. This
script times page 1 and pages whose cursor sits a tenth, half and nine tenths of the way down, as a superuser, with
the pager as it is and with that condition left out (the OR alone, as before), and prints the ledger read's plan.
"""

import argparse

from harness import prepare_database, setup_django, slowest_read, timed_with_statements, vacuum_analyze

setup_django()

import fast_copy  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402

from enhancelog import views as enhance_views  # noqa: E402
from enhancelog.models import EnhanceEntry  # noqa: E402
from ledgerproject.ledger.pagination import KeysetPager  # noqa: E402
from runs import views as run_views  # noqa: E402
from runs.models import Run  # noqa: E402

PAGES = {EnhanceEntry: ("/enhances/entries/", enhance_views.PAGER), Run: ("/runs/", run_views.PAGER)}
DEPTHS = (0.1, 0.5, 0.9)


def cursor_at(model, pager, depth):
    """The cursor of the page that starts `depth` of the way down the list (in the pager's order)."""
    names = [name.lstrip("-") for name in pager.ordering]
    count = model._base_manager.count()
    row = model._base_manager.order_by(*pager.ordering).values_list(*names)[int(count * depth)]
    return pager.encode(values=list(row))


class CursorAsFilterOnly:
    """KeysetPager._beyond without the leading column's own condition: the OR of the clauses alone."""

    def __init__(self):
        self.original = KeysetPager._beyond

    def __enter__(self):
        original = self.original

        def beyond(pager, values, backwards, constants=None):
            condition = original(pager, values, backwards, constants)
            if condition.connector == "AND" and len(condition.children) == 2:
                return condition.children[0]
            return condition

        KeysetPager._beyond = beyond

    def __exit__(self, *exc):
        KeysetPager._beyond = self.original


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries per ledger")
    parser.add_argument("--runs", type=int, default=5, help="timed requests per page and pager")
    args = parser.parse_args()
    prepare_database(allow_sqlite=False)
    specs = fast_copy.specs()
    for model in PAGES:
        loaded, seconds = fast_copy.load_ledger(model, specs[model], args.entries, log=lambda line: None)
        if loaded:
            print(f"{model.ledger_name}: {loaded:,} entries loaded in {seconds:.0f} s", flush=True)
    vacuum_analyze(*PAGES)
    user, _ = get_user_model().objects.get_or_create(
        username="bench-pages", defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client()
    client.force_login(user)
    header = f"{'page':44} {'entries':>11} {'from the cursor: p50 / p95 ms':>30} {'cursor as filter: p50 / p95 ms':>31}"
    print("\n" + header)
    plans = []
    for model, (path, pager) in PAGES.items():
        entries = model._base_manager.count()
        for depth in (0.0, *DEPTHS):
            label = f"{path} page 1" if not depth else f"{path} {depth:.0%} down"
            url = path if not depth else f"{path}?cursor={cursor_at(model, pager, depth)}"
            client.get(url)  # warm
            now = timed_with_statements(client, url, args.runs)
            read_now = slowest_read(now[2], model._meta.db_table, ordered_only=True)
            with CursorAsFilterOnly():
                before = timed_with_statements(client, url, args.runs)
                read_before = slowest_read(before[2], model._meta.db_table, ordered_only=True)
            print(
                f"{label:44} {entries:>11,} {now[0]:14.1f} / {now[1]:8.1f} {before[0]:14.1f} / {before[1]:8.1f}",
                flush=True,
            )
            plans.append((label, read_now, read_before))
    for label, (ms_now, lines_now), (ms_before, lines_before) in plans:
        print(f"\n{label}: ledger read {ms_now:.2f} ms from the cursor, {ms_before:.2f} ms with the cursor as a filter")
        print("  from the cursor: " + "\n                   ".join(lines_now[:4]))
        print("  as a filter:     " + "\n                   ".join(lines_before[:4]))


if __name__ == "__main__":
    main()
