"""Enhance log pages: dashboard numbers and links, the filtered list, entry detail with review, the trace."""

import importlib
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.test import Client

from enhancelog.models import EnhanceEntry, Review
from enhancelog.stats import DAY_MS, now_ms
from ledgerproject.ledger import rollups
from ledgerproject.ledger.rollups import ALL_TIME, Rollup

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


@pytest.fixture
def browse(client, bob):
    client.force_login(bob)
    return client


@pytest.fixture
def reviewing(carol):
    other = Client()
    other.force_login(carol)
    return other


@pytest.fixture
def some_history(make_enhance, make_review):
    now = now_ms()
    make_enhance(issue_id="a1", blueprint_id="coding", ts_ms=now - 3 * DAY_MS)
    make_enhance(issue_id="a2", blueprint_id="design", ts_ms=now - 2 * DAY_MS, prev_hash="ff" * 32, new_hash="ee" * 32)
    r1 = make_enhance(issue_id="r1", blueprint_id="coding", ts_ms=now - DAY_MS, status="rejected")
    make_enhance(
        issue_id="r2",
        blueprint_id="coding",
        ts_ms=now - 1000,
        status="rejected",
        verdicts=[{"axis": "noop", "status": "deny", "detail": "hash unchanged"}],
        reasons=["noop: hash unchanged"],
    )
    make_enhance(issue_id="old", blueprint_id="design", ts_ms=now - 60 * DAY_MS)
    make_review(r1, Review.FALSE_POSITIVE)


def test_pages_need_a_login(client):
    for url in ("/enhances/", "/enhances/entries/", "/enhances/blueprints/coding/"):
        assert client.get(url).status_code == 302


def test_the_dashboard_shows_totals_rates_blueprints_and_backlog_with_links(browse, some_history):
    page = browse.get("/enhances/")
    assert page.status_code == 200
    stats = page.context["stats"]
    assert stats["totals"] == {"all": 4, "applied": 2, "rejected": 2, "reject_rate": 50.0}
    assert {a["axis"]: (a["verdicts"], a["denied"]) for a in stats["axes"]} == {"des": (3, 1), "noop": (1, 1)}
    assert stats["top_blueprints"] == [{"blueprint_id": "coding", "rejected": 2}]
    assert stats["backlog"] == {"rejected": 2, "reviewed": 1, "unreviewed": 1}
    assert sum(day["applied"] + day["rejected"] for day in stats["days"]) == 4
    html = page.content.decode()
    assert 'data-testid="denied-noop">1</a>' in html
    assert "/enhances/entries/?status=rejected&amp;reviewed=false" in html
    assert "/enhances/entries/?blueprint_id=coding&amp;status=rejected&amp;since_ms=" in html
    everything = browse.get("/enhances/", {"window": "all"}).context["stats"]
    assert everything["totals"]["all"] == 5


def test_the_dashboard_query_count_is_fixed(browse, some_history, make_enhance, django_assert_max_num_queries):
    # One more than before tenancy covered every ledger: the principal's tenant scope.
    with django_assert_max_num_queries(12):
        browse.get("/enhances/")
    for n in range(20):
        make_enhance(issue_id=f"more{n}", ts_ms=now_ms() - n * 1000, status="rejected" if n % 2 else "applied")
    cache.clear()
    # One more than before tenancy covered every ledger: the principal's tenant scope.
    with django_assert_max_num_queries(12):
        assert browse.get("/enhances/").status_code == 200


def test_the_list_page_filters_and_shows_review_state(browse, some_history, django_assert_max_num_queries):
    # One more than before tenancy covered every ledger: the principal's tenant scope.
    with django_assert_max_num_queries(7):
        page = browse.get("/enhances/entries/", {"status": "rejected"})
    assert [e.issue_id for e in page.context["entries"]] == ["r2", "r1"]
    html = page.content.decode()
    assert "unreviewed" in html and "false_positive" in html
    only_noop = browse.get("/enhances/entries/", {"denied_axis": "noop"}).context["entries"]
    assert [e.issue_id for e in only_noop] == ["r2"]
    unreviewed = browse.get("/enhances/entries/", {"status": "rejected", "reviewed": "false"}).context["entries"]
    assert [e.issue_id for e in unreviewed] == ["r2"]


def test_the_list_page_pages_by_keyset(browse, make_enhance, django_assert_max_num_queries):
    for n in range(55):
        make_enhance(issue_id=f"p{n:02d}", ts_ms=1000 + n)
    first = browse.get("/enhances/entries/")
    assert len(first.context["entries"]) == 50
    assert first.context["entries"][0].issue_id == "p54"
    # One more than before tenancy covered every ledger: the principal's tenant scope.
    with django_assert_max_num_queries(7):
        second = browse.get("/enhances/entries/" + first.context["page"].next_query)
    assert [e.issue_id for e in second.context["entries"]] == ["p04", "p03", "p02", "p01", "p00"]
    assert second.context["page"].next_query is None
    back = browse.get("/enhances/entries/" + second.context["page"].previous_query)
    assert [e.issue_id for e in back.context["entries"]] == [e.issue_id for e in first.context["entries"]]


def test_the_detail_page_shows_verdicts_reasons_and_reviews(browse, some_history):
    page = browse.get("/enhances/entries/r1/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="verdicts"' in html and "blueprint.id missing" in html
    assert "false positive" in html
    assert page.context["form"] is None  # bob reads, he does not review
    assert browse.get("/enhances/entries/ghost/").status_code == 404


def test_a_reviewer_records_a_decision_from_the_detail_page(reviewing, some_history):
    page = reviewing.get("/enhances/entries/r2/")
    assert page.context["form"] is not None
    done = reviewing.post("/enhances/entries/r2/review/", {"decision": "wont_fix", "comment": "known flake"})
    assert done.status_code == 302
    review = Review.objects.get(entry__issue_id="r2")
    assert (review.decision, review.comment, review.recorded_by_name) == ("wont_fix", "known flake", "carol")
    assert "won&#x27;t fix" in reviewing.get("/enhances/entries/r2/").content.decode()


def test_readers_cannot_record_reviews_and_applied_entries_refuse_them(browse, reviewing, some_history):
    assert browse.post("/enhances/entries/r2/review/", {"decision": "acknowledged"}).status_code == 403
    response = reviewing.post("/enhances/entries/a1/review/", {"decision": "acknowledged"}, follow=True)
    assert "was applied" in response.content.decode()
    assert Review.objects.count() == 1


def test_the_trace_page_draws_the_timeline_and_flags_breaks(browse, make_enhance, django_assert_max_num_queries):
    h = [f"{n:064x}" for n in range(1, 6)]
    make_enhance(issue_id="v1", blueprint_id="bp", ts_ms=10, prev_hash=h[0], new_hash=h[1])
    make_enhance(issue_id="r1", blueprint_id="bp", ts_ms=15, status="rejected", prev_hash=h[1])
    make_enhance(issue_id="v2", blueprint_id="bp", ts_ms=20, prev_hash=h[3], new_hash=h[4])
    # Constant: the principal (session, user, permissions, tenant scope), how many tenants use the
    # blueprint id (one page is one tenant's trace), the page of entries and their reviews.
    with django_assert_max_num_queries(8):
        page = browse.get("/enhances/blueprints/bp/")
    html = page.content.decode()
    assert 'data-testid="breaks"' in html and "continuity break" in html
    assert 'class="step step-rejected"' in html
    assert f'data-copy="{h[4]}"' in html
    assert html.index('data-issue="v1"') < html.index('data-issue="r1"') < html.index('data-issue="v2"')
    assert browse.get("/enhances/blueprints/nothing/").status_code == 404


def test_it_ranks_blueprints_over_all_time_from_one_rollup_row_per_blueprint(browse, make_enhance):
    now = now_ms()
    for days_ago in (400, 90, 3):  # three claimed days, two of them outside every window but "all"
        make_enhance(blueprint_id="coding", ts_ms=now - days_ago * DAY_MS, status="rejected")
    make_enhance(blueprint_id="design", ts_ms=now - 200 * DAY_MS, status="rejected")
    make_enhance(blueprint_id="design", ts_ms=now - DAY_MS)  # applied: not a rejection

    totals = Rollup.objects.filter(ledger="enhancelog", dimension="rejected_blueprint_all")
    assert sorted(totals.values_list("key", "day", "n")) == [("coding", ALL_TIME, 3), ("design", ALL_TIME, 1)]
    assert rollups.check(EnhanceEntry) == []
    page = browse.get("/enhances/?window=all")
    assert page.context["stats"]["top_blueprints"] == [
        {"blueprint_id": "coding", "rejected": 3},
        {"blueprint_id": "design", "rejected": 1},
    ]
    # A window still sums its own days.
    assert browse.get("/enhances/?window=7").context["stats"]["top_blueprints"] == [
        {"blueprint_id": "coding", "rejected": 1}
    ]


def test_its_migration_sums_the_daily_rows_into_the_all_time_totals(make_enhance):
    from django.apps import apps
    from django.db import connection, transaction

    migration = importlib.import_module("enhancelog.migrations.0006_rejected_blueprint_totals")
    now = now_ms()
    for days_ago, blueprint in ((30, "coding"), (2, "coding"), (5, "design")):
        make_enhance(blueprint_id=blueprint, ts_ms=now - days_ago * DAY_MS, status="rejected")
    Rollup.objects.filter(ledger="enhancelog", dimension="rejected_blueprint_all").delete()  # as before it
    assert rollups.check(EnhanceEntry) != []

    with transaction.atomic():  # what the migration's RunPython gets: its schema editor's connection
        migration.SUM_DAYS.forwards(apps, SimpleNamespace(connection=connection))

    assert rollups.check(EnhanceEntry) == []
    totals = Rollup.objects.filter(ledger="enhancelog", dimension="rejected_blueprint_all")
    assert dict(totals.values_list("key", "n")) == {"coding": 2, "design": 1}


@pytest.mark.parametrize("window", ["7", "30", "90", "365"])
def test_its_windows_rank_blueprints_as_a_count_of_their_entries_would(browse, make_enhance, window):
    # Claimed days on both sides of month starts, inside and outside each window, and in the future: the
    # window's first month is summed from day rows and every later month from one row per blueprint.
    now = now_ms()
    spread = {"coding": (1, 6, 29, 31, 33, 62, 89, 91, 120, 200, 364, 366), "design": (2, 40, 45, 300), "ops": (-40, 8)}
    for blueprint, days in spread.items():
        for days_ago in days:
            make_enhance(blueprint_id=blueprint, ts_ms=now - days_ago * DAY_MS, status="rejected")
    assert rollups.check(EnhanceEntry) == []

    stats = browse.get(f"/enhances/?window={window}").context["stats"]

    since_ms = now - int(window) * DAY_MS
    since_ms -= since_ms % DAY_MS  # windows start at the UTC midnight of their first day
    counted = {}
    for entry in EnhanceEntry.objects.rejected().filter(ts_ms__gte=since_ms):
        counted[entry.blueprint_id] = counted.get(entry.blueprint_id, 0) + 1
    expected = sorted(counted.items(), key=lambda item: (-item[1], item[0]))
    assert [(row["blueprint_id"], row["rejected"]) for row in stats["top_blueprints"]] == expected


def test_its_monthly_migration_sums_the_daily_rows_per_month(make_enhance):
    from django.apps import apps
    from django.db import connection, transaction

    migration = importlib.import_module("enhancelog.migrations.0007_rejected_blueprint_months")
    now = now_ms()
    for days_ago, blueprint in ((70, "coding"), (35, "coding"), (34, "coding"), (2, "coding"), (5, "design")):
        make_enhance(blueprint_id=blueprint, ts_ms=now - days_ago * DAY_MS, status="rejected")
    months = Rollup.objects.filter(ledger="enhancelog", dimension="rejected_blueprint_month")
    kept = sorted(months.values_list("key", "day", "n"))
    months.delete()  # as before the migration
    assert rollups.check(EnhanceEntry) != []

    with transaction.atomic():  # what the migration's RunPython gets: its schema editor's connection
        migration.SUM_MONTHS.forwards(apps, SimpleNamespace(connection=connection))

    assert rollups.check(EnhanceEntry) == []
    assert sorted(months.values_list("key", "day", "n")) == kept
    assert all(day.day == 1 for _, day, _ in kept) and sum(n for _, _, n in kept) == 5
