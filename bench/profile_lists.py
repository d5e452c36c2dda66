"""Where an API list request's time goes: cProfile on in-process GETs of each filtered list, step by step.

    scripts/with-postgres.sh .venv/bin/python bench/profile_lists.py          # a scratch database, 50,000 per ledger
    DATABASE_URL=postgres://…/ledger10m .venv/bin/python bench/profile_lists.py --reuse --only runs

Fills every searchable ledger with bench/fast_copy.py's rows (or, with --reuse, takes the database as it
is), then for each API list of bench/search_explain.py's filtered lists (the same URLs, called with an API
token as search_explain.py does; --session: a signed-in session cookie): the wall time per request without
the profiler (p50/p95) and, under cProfile, the cost of each step per request (cumulative time of the
step's functions, profiler overhead included: read the shares, not the absolute figures). Representing a
page's rows costs the same at any table size, so a small database (50,000 entries: full pages of 100 for
every filter) shows where that time goes; the 10M figures come from search_explain.py.
"""

import argparse
import contextlib
import cProfile
import pstats
import time

import search_explain  # noqa: F401 (sets Django up, as every bench script does)
from harness import logged_in_client, p50_p95, prepare_database
from profile_append import step_costs

# (label, [(path suffix, function name), ...]): the step's time is the sum of those functions' cumulative time.
STEPS = [
    ("whole request (test client)", [("django/test/client.py", "request")]),
    ("middleware before the view", [("django/contrib/sessions/backends/db.py", "load")]),
    ("view (DRF dispatch)", [("rest_framework/views.py", "dispatch")]),
    ("  authentication", [("rest_framework/views.py", "perform_authentication")]),
    ("  permissions", [("rest_framework/views.py", "check_permissions")]),
    ("  throttles", [("rest_framework/views.py", "check_throttles")]),
    ("  filter_queryset", [("rest_framework/generics.py", "filter_queryset")]),
    ("  paginate_queryset (the page's query)", [("ledgerproject/ledger/pagination.py", "paginate_queryset")]),
    ("    SQL (psycopg execute)", [("psycopg/cursor.py", "execute")]),
    ("    rows → objects (model instances / plain rows)", [("django/db/models/query.py", "__iter__")]),
    ("  serializer.data (representation)", [("rest_framework/serializers.py", "data")]),
    ("  get_paginated_response (links)", [("ledgerproject/ledger/pagination.py", "get_paginated_response")]),
    ("  finalize_response", [("rest_framework/views.py", "finalize_response")]),
    ("render (JSON bytes)", [("rest_framework/response.py", "rendered_content")]),
]


def api_lists(only):
    return [(label, url) for label, url in search_explain.filtered_lists(only) if "(API)" in label]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=50_000, help="entries per searchable ledger (scratch database)")
    parser.add_argument("--reuse", action="store_true", help="take the database as it is: no migration, no load")
    parser.add_argument("--only", help="profile only the lists whose label or URL holds this text")
    parser.add_argument("--runs", type=int, default=200, help="requests per list, timed and then profiled")
    parser.add_argument("--top", type=int, default=0, help="also print the top N functions by own time")
    parser.add_argument("--session", action="store_true", help="a session cookie instead of an API token")
    args = parser.parse_args()
    from django.contrib.auth import get_user_model

    if not args.reuse:
        prepare_database(allow_sqlite=False)
        search_explain.load({}, args.entries)
    get_user_model().objects.get_or_create(username="bench-search", defaults={"is_superuser": True})
    with contextlib.ExitStack() as stack:
        # As API clients call it (a token), or with a signed-in browser's session cookie.
        if args.session:
            client = logged_in_client("bench-search")
        else:
            client = stack.enter_context(search_explain.token_client("bench-search"))
        profile_lists(client, args)


def profile_lists(client, args):
    for label, url in api_lists(args.only):
        for _ in range(10):  # warm: imports, the first queries, compiled representers
            assert client.get(url).status_code == 200, url
        samples = []
        for _ in range(args.runs):
            started = time.perf_counter()
            client.get(url)
            samples.append((time.perf_counter() - started) * 1000)
        p50, p95 = p50_p95(samples)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.runs):
            client.get(url)
        profile.disable()
        stats = pstats.Stats(profile)
        costs = step_costs(stats, STEPS)
        whole = costs["whole request (test client)"] or 1
        print(f"\n{label}: {url}\n  unprofiled: p50 {p50:.2f} ms, p95 {p95:.2f} ms over {args.runs} requests")
        print(f"  {'step (profiled)':<52} {'ms / request':>13} {'share':>7}")
        for step, seconds in costs.items():
            print(f"  {step:<52} {seconds * 1000 / args.runs:>13.2f} {seconds / whole:>7.0%}")
        if args.top:
            stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
