"""Experience pages: timeline with filters, chain/correlation views, artifacts, trace links, demo data."""

import re

import pytest
from django.test import Client

from experience import demo, schemas
from experience.models import ExperienceEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser_for(make_user):
    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def demo_data():
    return demo.load(seed=7)


@pytest.fixture
def reader(bob, browser_for):
    return browser_for(bob)


def text(response):
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_demo_data_covers_all_twelve_kinds_across_two_tenants(demo_data):
    assert "12 kinds across 2 tenants" in demo_data
    assert set(ExperienceEvent.objects.values_list("kind", flat=True)) == set(schemas.KINDS)
    assert set(ExperienceEvent.objects.values_list("tenant_id", flat=True)) == {"acme-legal", "globex-support"}
    assert demo.load(seed=7) == "already has entries, left as it is"


def test_pages_need_a_login(client):
    response = client.get("/events/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_timeline_renders_every_kind_readably(reader, demo_data):
    page = text(reader.get("/events/?" + "&".join(f"kind={k}" for k in schemas.KINDS[:6])))
    assert "confidence" in page and "pass" in page  # a proposal: kind, confidence, contract results
    page = text(reader.get("/events/?kind=BudgetExceeded"))
    assert re.search(r"observed <strong>\d+s?</strong> against a limit of <strong>", page)
    assert "ProposalCreated" not in page.split('data-testid="timeline"')[1]
    for kind in schemas.KINDS:
        body = text(reader.get(f"/events/?kind={kind}")).split('data-testid="timeline"')[1]
        assert f'data-kind="{kind}"' in body
        assert "{&quot;" not in body and '{"' not in body  # no raw JSON dumps


def test_the_timeline_filters_by_tenant_correlation_chain_and_time(reader, demo_data):
    body = text(reader.get("/events/?tenant_id=globex-support")).split('data-testid="timeline"')[1]
    assert "acme-legal" not in body and "globex-support" in body
    body = text(reader.get("/events/?chain_id=chain-acme-001")).split('data-testid="timeline"')[1]
    assert set(re.findall(r'title="chain">chain ([\w-]+)', body)) == {"chain-acme-001"}
    body = text(reader.get("/events/?since=2030-01-01T00:00:00Z")).split('data-testid="timeline"')[1]
    assert 'data-testid="no-events"' in body


def test_a_bad_filter_shows_what_is_wrong_with_a_400(reader, demo_data):
    response = reader.get("/events/?since=someday&kind=Nope")
    page = response.content.decode()
    assert response.status_code == 400
    assert 'data-testid="filter-errors"' in page and "since" in page and "kind" in page


def test_the_timeline_pages_back_by_seq(reader, demo_data):
    page = text(reader.get("/events/"))
    older = re.search(r'href="(\?[^"]*cursor=[^"]*)" rel="next"', page)
    assert older
    first_seqs = [int(s) for s in re.findall(r'class="muted xp-seq">#(\d+)<', page)]
    second = text(reader.get("/events/" + older.group(1).replace("&amp;", "&")))
    seqs = [int(s) for s in re.findall(r'class="muted xp-seq">#(\d+)<', second)]
    assert seqs and max(seqs) < min(first_seqs)


def test_the_timeline_query_count_does_not_grow_with_the_data(reader, demo_data, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        text(reader.get("/events/?kind=OutcomeRecorded&kind=ProposalCreated"))


def test_the_chain_page_groups_by_step_with_totals(reader, demo_data, django_assert_max_num_queries):
    outcomes = ExperienceEvent.objects.filter(kind="OutcomeRecorded", chain_id="chain-acme-002")
    tokens = sum(e.data["tokens"] for e in outcomes)
    latency = sum(e.data["latency_ms"] for e in outcomes)
    with django_assert_max_num_queries(8):
        page = text(reader.get("/events/chains/chain-acme-002/"))
    assert [s for s in re.findall(r'data-step="(\w+)"', page)][:3] == ["Planning", "Reasoning", "Evaluation"]
    assert f'data-testid="total-tokens">{tokens}<' in page
    assert f'data-testid="total-latency">{latency}<' in page


def test_the_correlation_page_shows_the_whole_run(reader, demo_data):
    page = text(reader.get("/events/correlations/run-globex-003/"))
    assert "RecallExecuted" in page and "BackendInvoked" in page and "chain-globex-003" in page
    # And leads on to every other ledger's entries about that run.
    assert 'href="/trail/?id=run-globex-003" data-testid="trail-link"' in page


def test_the_artifact_page_shows_the_lifecycle_and_rollbacks(reader, demo_data, django_assert_max_num_queries):
    # Session, user, its permissions (2), its tenants, which tenants use the id, the events: constant.
    with django_assert_max_num_queries(7):
        page = text(reader.get("/artifacts/adapter-contracts-v3/"))
    assert 'data-testid="current-state">RolledBack<' in page
    lifecycle = page.split('data-testid="lifecycle"')[1].split("</ol>")[0]
    assert re.findall(r'→ <span class="badge [\w-]+">(\w+)</span>', lifecycle) == ["Approved", "Active", "RolledBack"]
    assert "Rollback records" in page and "invalidates outputs" in page
    with django_assert_max_num_queries(6):
        rolled_back = text(reader.get("/artifacts/?state=RolledBack"))
    assert set(re.findall(r"href=\"/artifacts/([\w.-]+)/\"", rolled_back)) == {
        "adapter-contracts-v3",
        "adapter-support-v1",
    }


def test_the_trace_link_page_shows_the_trace_and_its_events(reader, demo_data, django_assert_max_num_queries):
    trace_id = ExperienceEvent.objects.filter(kind="ReplayTraceRecorded").values_list("trace_link_id", flat=True)[0]
    with django_assert_max_num_queries(6):
        page = text(reader.get(f"/trace-links/{trace_id}/"))
    assert "BackendInvoked" in page and "Events referencing this trace link" in page
    assert reader.get("/trace-links/nothing-here/").status_code == 404


def test_the_event_page_shows_the_ledger_block(reader, demo_data):
    event = ExperienceEvent.objects.first()
    page = text(reader.get(f"/events/{event.event_id}/"))
    assert event.entry_hash in page and "Envelope JSON" in page


def test_pages_hide_other_tenants(make_user, browser_for, demo_data):
    acme = browser_for(make_user("acme-viewer", roles=["reader"], tenants=["acme-legal"]))
    assert "globex-support" not in text(acme.get("/events/")).split('data-testid="timeline"')[1]
    assert acme.get("/events/chains/chain-globex-001/").status_code == 404
    assert acme.get("/artifacts/adapter-support-v1/").status_code == 404
    globex_trace = ExperienceEvent.objects.filter(kind="ReplayTraceRecorded", tenant_id="globex-support").first()
    assert acme.get(f"/trace-links/{globex_trace.trace_link_id}/").status_code == 404
    globex_event = ExperienceEvent.objects.filter(tenant_id="globex-support").first()
    assert acme.get(f"/events/{globex_event.event_id}/").status_code == 404
    assert "adapter-support-v1" not in text(acme.get("/artifacts/"))
