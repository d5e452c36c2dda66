"""A person pastes ids into the navigation's search box and lands on each entry; then follows a trail (Chromium)."""

import uuid

import pytest

from experience.models import ExperienceEvent
from experience.tests.conftest import VALID
from ledgerproject.ledger.tests.tenant_world import build_world
from runs.models import Run, RunOutcome, RunStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return build_world()


def search_from_nav(page, query):
    box = page.get_by_test_id("nav-search").locator("input[name=q]")
    box.fill(query)
    box.press("Enter")
    page.wait_for_load_state()


def test_pasting_each_kind_of_id_lands_on_its_page(page, login, world):
    _red, mine, _absent, blue = world
    login(blue, password="pw")
    landings = [
        (mine.issue, f"/enhances/entries/{mine.issue}/", mine.issue),
        (mine.blueprint, f"/enhances/blueprints/{mine.blueprint}/", mine.blueprint),
        (mine.event, f"/events/{mine.event}/", mine.event),
        (mine.chain, f"/events/chains/{mine.chain}/", mine.chain),
        (mine.artifact, f"/artifacts/{mine.artifact}/", mine.artifact),
        (mine.trace, f"/trace-links/{mine.trace}/", mine.trace),
        (mine.run_id, f"/runs/{mine.run_id}/", mine.run_id),
        (mine.output_id, f"/runs/tasks/{mine.task}/1/", mine.output_id),
        (mine.release, f"/releases/{mine.release}/", mine.release),
        (str(mine.node_id), f"/logs/?node={mine.node_id}", "log line"),
        (f"runs#{mine.seq['runs']}", f"/runs/{mine.run_id}/", mine.run_id),
    ]
    for query, path, shown in landings:
        search_from_nav(page, query)
        assert page.url.endswith(path) or path + "#" in page.url, (query, page.url)
        assert shown in page.locator("main").inner_text(), (query, page.url)
    # A digest prefix names the blob, the run's spec and the releases: the matches, grouped by ledger.
    search_from_nav(page, mine.digest[:10])
    assert "/search/" in page.url
    for ledger in ("blobs", "runs", "releases"):
        assert page.locator(f"section.search-group[data-ledger={ledger}]").count() == 1
    page.locator("section.search-group[data-ledger=blobs] a").first.click()
    page.wait_for_url(f"**/runs/blobs/{mine.digest}/")
    # Too short: a message saying what to type, no results.
    search_from_nav(page, "ab")
    assert "too short" in page.get_by_test_id("search-problem").inner_text()


def test_from_a_failed_run_the_trail_leads_to_every_related_entry(page, login, world):
    _red, _mine, _absent, blue = world
    run = Run.objects.append(
        recorded_by=blue,
        run_id=uuid.uuid4(),
        spec_digest="a" * 64,
        agent_name="trail-agent",
        tags={},
        created_at="2026-01-22T12:00:00Z",
        tenant_id="tnt-blu",
    )
    RunOutcome.objects.append(
        recorded_by=blue, run=run, status=RunStatus.FAILED, total_events=0, duration_ms=7, success=False
    )
    # The agent system correlated its experience events with the run id.
    for index, kind in enumerate(("ReplayTraceRecorded", "ProposalCreated")):
        ExperienceEvent.objects.append(
            recorded_by=blue,
            event_id=f"trail-ev-{index}",
            occurred_at="2026-01-22T12:00:01Z",
            tenant_id="tnt-blu",
            correlation_id=str(run.run_id),
            kind=kind,
            data=VALID[kind],
        )
    login(blue, password="pw")
    # The run id is also the events' correlation id: two matches, listed by ledger.
    search_from_nav(page, str(run.run_id))
    assert page.locator("section.search-group[data-ledger=experience]").count() == 1
    page.locator("section.search-group[data-ledger=runs] a").first.click()
    page.wait_for_url(f"**/runs/{run.run_id}/")
    assert "failed" in page.get_by_test_id("outcome").inner_text().lower()
    page.locator("main [data-testid=trail-link]").first.click()
    page.wait_for_url(f"**/trail/?id={run.run_id}")
    rows = page.get_by_test_id("trail-row")
    assert [rows.nth(i).get_attribute("data-ledger") for i in range(rows.count())] == [
        "runs",
        "run_outcomes",
        "experience",
        "experience",
    ]
    targets = [rows.nth(i).get_by_test_id("trail-entry").get_attribute("href") for i in range(rows.count())]
    for href, expected in zip(
        targets,
        [f"/runs/{run.run_id}/", f"/runs/{run.run_id}/", "/events/trail-ev-0/", "/events/trail-ev-1/"],
        strict=True,
    ):
        assert href == expected
        page.goto(f"/trail/?id={run.run_id}")
        page.locator(f'[data-testid=trail-entry][href="{href}"]').first.click()
        page.wait_for_url(f"**{href}")
        assert page.locator("main").inner_text()


def test_from_a_rejected_enhance_the_trail_leads_to_its_events_and_review(page, login, world):
    _red, mine, _absent, blue = world
    # The agent system correlated an experience event with the rejected issue.
    ExperienceEvent.objects.append(
        recorded_by=blue,
        event_id="issue-ev-1",
        occurred_at="2026-01-22T12:00:01Z",
        tenant_id="tnt-blu",
        correlation_id=mine.issue,
        kind="ProposalCreated",
        data=VALID["ProposalCreated"],
    )
    login(blue, password="pw")
    page.goto(f"/enhances/entries/{mine.issue}/")
    page.locator(f'main [data-testid=trail-link][href="/trail/?id={mine.issue}"]').click()
    page.wait_for_url(f"**/trail/?id={mine.issue}")
    rows = page.get_by_test_id("trail-row")
    ledgers = [rows.nth(i).get_attribute("data-ledger") for i in range(rows.count())]
    assert ledgers == ["enhancelog", "enhancelog-reviews", "experience"]
    page.locator('[data-testid=trail-entry][href="/events/issue-ev-1/"]').click()
    page.wait_for_url("**/events/issue-ev-1/")
    assert "ProposalCreated" in page.locator("main").inner_text()
