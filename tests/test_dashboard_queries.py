"""Every dashboard page (the home page and each page its cards lead to) runs as many queries with
200 entries per ledger as with 10: its aggregates come from rollups, its lists are paged."""

import random
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from enhancelog.models import EnhanceEntry, Review
from experience.models import ExperienceEvent
from experience.tests.conftest import envelope, fields_of
from logchain.models import LogRecord
from releases.models import Release
from runs.models import Output, Run, RunEvent, RunOutcome, RunStatus
from tests.dashboard_pages import DASHBOARD_PAGES
from tests.ledger_testapp.models import Note

pytestmark = pytest.mark.django_db

TENANTS = (None, "acme")
RELEASE_NAMES = [f"rel-{i}" for i in range(7)]


def fill(size, start):
    """`size` more entries in every ledger, spread over tenants and days, reviews and outcomes."""
    rng = random.Random(start)
    enhances = []
    for i in range(start, start + size):
        rejected = rng.random() < 0.4
        enhances.append(
            {
                "issue_id": f"ISS-dash-{i}",
                "blueprint_id": f"bp-{i % 13}",
                "prev_hash": "a" * 64,
                "new_hash": "" if rejected else "b" * 64,
                "status": EnhanceEntry.REJECTED if rejected else EnhanceEntry.APPLIED,
                "reasons": ["denied"] if rejected else [],
                "verdicts": [{"axis": "des", "status": "deny" if rejected else "pass", "detail": ""}],
                "ts_ms": int(timezone.now().timestamp() * 1000) - rng.randint(0, 40) * 86_400_000,
                "tenant_id": TENANTS[i % 2],
            }
        )
    stored = EnhanceEntry.objects.append_many(enhances)
    reviews = [e for e in stored if e.status == EnhanceEntry.REJECTED][::2]
    Review.objects.append_many([{"entry": e, "decision": Review.ACKNOWLEDGED, "comment": ""} for e in reviews])
    ExperienceEvent.objects.append_many([fields_of(envelope(tenant_id=TENANTS[i % 2])) for i in range(size)])
    for i in range(max(1, size // 10)):
        run = Run.objects.append(
            run_id=uuid.uuid4(),
            spec_digest="c" * 64,
            agent_name=f"agent-{i % 3}",
            tags={},
            created_at=timezone.now(),
            tenant_id=TENANTS[i % 2],
        )
        RunEvent.objects.append_events(run, [{"kind": "step"} for _ in range(9)])
        if i % 2:
            RunOutcome.objects.append(run=run, status=RunStatus.FAILED, total_events=9, duration_ms=5, success=False)
        Output.objects.emit(
            f"task-{i % 4}", 1, "agent-0", {"type": "final", "content": {"kind": "inline", "value": "x"}, "ok": True}
        )
    heads = {}
    for first in range(0, size, len(RELEASE_NAMES)):  # one batch per round: each name's next release
        rows = [
            {
                "name": name,
                "spec_digest": "d" * 64,
                "version_label": f"v{start + first + k}",
                "promoted_by": "p",
                "supersedes": heads.get(name) or Release.objects.history(name).first(),
            }
            for k, name in enumerate(RELEASE_NAMES[: size - first])
        ]
        heads.update((release.name, release) for release in Release.objects.append_many(rows))
    LogRecord.objects.append_many(
        [
            {
                "node_seq": start + i + 1,
                "ts_ms": 1_700_000_000_000 + i,
                "level": "Info",
                "daemon_id": 7,
                "node_id": 100,
                "message": "daemon started",
                "chain_pending": False,
            }
            for i in range(size)
        ]
    )
    Note.objects.append_many([{"key": f"note-dash-{start + i}"} for i in range(size)])


def queries_of(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return [query["sql"] for query in captured.captured_queries]


@pytest.mark.parametrize("url", DASHBOARD_PAGES)
def test_it_runs_as_many_queries_with_200_entries_as_with_10(client_for_user, make_user, url):
    """For a principal who sees every tenant and for a tenant-bound one."""
    clients = [
        client_for_user(make_user("dash-all", roles=["auditor", "reviewer"], all_tenants=True)),
        client_for_user(make_user("dash-acme", roles=["auditor", "reviewer"], tenants=["acme"])),
    ]
    fill(10, 0)
    for client in clients:
        queries_of(client, url)  # warm: sessions, content types, caches
    few = [queries_of(client, url) for client in clients]
    fill(190, 10)
    many = [queries_of(client, url) for client in clients]
    for before, after in zip(few, many, strict=True):
        assert len(after) == len(before), "\n".join(after)


@pytest.fixture
def client_for_user():
    from django.test import Client

    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


def test_every_page_a_home_card_leads_to_is_held_to_the_query_count_rule(client, make_user):
    client.force_login(make_user("dash-root", superuser=True))
    html = client.get("/").content.decode()
    cards = html.split('data-testid="dashboard-card"')[1:]
    urls = {card.split('href="', 1)[1].split('"', 1)[0] for card in cards}
    assert urls, "the home page shows no dashboard card"
    # A new card's page joins tests/dashboard_pages.py, so its query count is held to the same rule.
    assert urls | {"/"} <= set(DASHBOARD_PAGES), f"add {sorted(urls - set(DASHBOARD_PAGES))} to DASHBOARD_PAGES"
