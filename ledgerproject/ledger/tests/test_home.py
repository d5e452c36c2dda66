"""The home page for people: attention list, activity per ledger, dashboard cards, and the no-role page."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from enhancelog.models import EnhanceEntry, Review
from ledgerproject.ledger.home import activity
from ledgerproject.ledger.models import ChainCheck
from ledgerproject.ledger.registry import ledger_models
from releases.models import Release
from runs.models import Run, RunOutcome, RunStatus

pytestmark = pytest.mark.django_db


def rejected(issue, tenant=None):
    return EnhanceEntry.objects.append(
        issue_id=issue,
        blueprint_id="bp-home",
        prev_hash="a" * 64,
        new_hash="",
        status=EnhanceEntry.REJECTED,
        reasons=["denied"],
        ts_ms=1_700_000_000_000,
        tenant_id=tenant,
    )


def failed_run(tenant=None):
    run = Run.objects.append(
        run_id=uuid.uuid4(),
        spec_digest="b" * 64,
        agent_name="home-agent",
        tags={},
        created_at=timezone.now(),
        tenant_id=tenant,
    )
    RunOutcome.objects.append(run=run, status=RunStatus.FAILED, total_events=0, duration_ms=1, success=False)
    return run


def items(html):
    return {part.split('"')[0] for part in html.split('data-key="')[1:]}


def test_the_attention_list_names_unreviewed_rejections_failed_runs_and_rollbacks(client, make_user):
    reviewed = rejected("ISS-home-1")
    rejected("ISS-home-2")
    Review.objects.append(entry=reviewed, decision=Review.ACKNOWLEDGED, comment="seen")
    failed_run()
    for version in ("1", "2"):
        Release.objects.promote("home-agent", spec_digest="c" * 64, promoted_by="p", version_label=f"v{version}")
    Release.objects.rollback("home-agent", promoted_by="p")
    client.force_login(make_user("home-reader", roles=["reader"], all_tenants=True))
    html = client.get("/").content.decode()
    assert {"unreviewed-rejections", "failed-runs", "recent-rollbacks", "unverified-chains"} <= items(html)
    queue = html.split('data-key="unreviewed-rejections"')[1].split("</li>")[0]
    assert ">1<" in queue  # one of the two rejections is still unreviewed
    assert "/enhances/entries/?status=rejected&amp;reviewed=false" in queue
    assert "/runs/?status=FAILED" in html
    assert "/releases/home-agent/#entry-3" in html


def test_a_chain_verified_lately_is_not_named(client, make_user):
    rejected("ISS-home-3")
    for model in ledger_models():
        if model._base_manager.exists():
            ChainCheck.objects.create(ledger=model.ledger_name, ok=True, checked=1, checked_by="t")
    client.force_login(make_user("home-auditor", roles=["auditor"], all_tenants=True))
    assert "unverified-chains" not in items(client.get("/").content.decode())


def test_the_attention_list_counts_only_the_principals_tenant(client, make_user):
    rejected("ISS-globex", tenant="globex")
    failed_run(tenant="globex")
    client.force_login(make_user("acme-home", roles=["reader"], tenants=["acme"]))
    html = client.get("/").content.decode()
    assert {"unreviewed-rejections", "failed-runs"}.isdisjoint(items(html))
    assert 'data-testid="attention-none"' in html


def test_cards_lead_to_each_dashboard_and_to_the_integrity_view(client, bob):
    client.force_login(bob)
    html = client.get("/").content.decode()
    for url in ("/enhances/", "/events/", "/runs/", "/releases/", "/logs/", "/ledgers/"):
        assert f'<a href="{url}"><strong>' in html, url
    assert client.get("/ledgers/").status_code == 200


def test_activity_counts_entries_per_day_from_the_rollups(make_user):
    for n in range(3):
        rejected(f"ISS-act-{n}")
    everyone = make_user("act-all", roles=["reader"], all_tenants=True)
    bound = make_user("act-bound", roles=["reader"], tenants=["acme"])
    rejected("ISS-act-acme", tenant="acme")
    models = [m for m in ledger_models() if m.ledger_name == "enhancelog"]
    assert activity(everyone, models)["ledgers"]["enhancelog"][-1] == 4
    assert sum(activity(everyone, models)["ledgers"]["enhancelog"][:-1]) == 0
    # A tenant-bound principal counts only its own entries.
    assert activity(bound, models)["ledgers"]["enhancelog"][-1] == 1
    tomorrow = timezone.now() + timedelta(days=1)
    assert activity(everyone, models, now=tomorrow)["ledgers"]["enhancelog"][-2:] == [4, 0]


def test_the_home_page_query_count_does_not_grow_with_the_data(client, make_user, django_assert_max_num_queries):
    user = make_user("home-count", roles=["reader"], all_tenants=True)
    client.force_login(user)
    rejected("ISS-count-0")
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    for n in range(1, 15):
        rejected(f"ISS-count-{n}")
        failed_run()
    with CaptureQueriesContext(connection) as many:
        response = client.get("/")
    assert response.status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)
    with django_assert_max_num_queries(len(ledger_models()) + 15):
        client.get("/")


def test_a_principal_with_no_role_is_told_why_and_whom_to_ask(client, make_user):
    make_user("root-admin", superuser=True)
    client.force_login(make_user("no-role-person"))
    response = client.get("/")
    assert response.status_code == 403
    html = response.content.decode()
    assert 'data-testid="no-role"' in html and "no role yet" in html
    assert "root-admin" in html and "no-role-person" in html


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.postgres
def test_no_home_page_query_needs_a_scan_of_a_ledger_table_on_postgresql(client, make_user):
    """With sequential scans priced out, a query no index can serve still plans a Seq Scan."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL plans only")
    rejected("ISS-plan-1")
    failed_run()
    client.force_login(make_user("home-plans", roles=["reader"], all_tenants=True))
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/").status_code == 200
    tables = [model._meta.db_table for model in ledger_models()]
    checked = 0
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            for query in captured.captured_queries:
                if not query["sql"].startswith("SELECT") or not any(f'"{t}"' in query["sql"] for t in tables):
                    continue
                cursor.execute("EXPLAIN " + query["sql"])
                plan = "\n".join(row[0] for row in cursor.fetchall())
                assert not any(f"Seq Scan on {t}" in plan for t in tables), (query["sql"], plan)
                checked += 1
        finally:
            cursor.execute("SET enable_seqscan = on")
    assert checked >= 1  # the bounded attention counts at least
    # Activity and sizes come from the rollups, not from the ledger tables.
    assert any('"ledger_rollup"' in query["sql"] for query in captured.captured_queries)


class _Holder:
    """A principal holding exactly `perms` (the helpers ask nothing else of it)."""

    def __init__(self, *perms):
        self.perms = set(perms)

    def has_perm(self, perm):
        return perm in self.perms


def test_it_shows_a_declared_card_only_to_holders_of_its_permission():
    from ledgerproject.ledger.home import Card, cards_of

    cards = cards_of(Card(permission="runs.view_run", title="Runs", text="t", url_name="runs:run-list", ledger="runs"))
    assert cards(_Holder()) == []
    assert cards(_Holder("runs.view_run")) == [{"title": "Runs", "text": "t", "url": "/runs/", "ledger": "runs"}]


def test_it_leaves_out_a_declared_attention_item_without_the_permission_or_with_nothing_measured():
    from ledgerproject.ledger.home import Attention, attention_of

    def measure(user):
        return {"count": 3, "url": "/x/"} if "show" in user.perms else None

    item = Attention(permission="p.view", key="k", title="T", severity="bad", detail="the queue", measure=measure)
    attention = attention_of(item)
    assert attention(_Holder("show")) == []
    assert attention(_Holder("p.view")) == []
    assert attention(_Holder("p.view", "show")) == [
        {"key": "k", "title": "T", "count": 3, "detail": "the queue", "url": "/x/", "severity": "bad"}
    ]
