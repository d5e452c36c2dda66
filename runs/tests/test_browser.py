"""The run pages in a real browser: list → run detail timeline → blob page, and the lineage graph."""

import pytest

from runs.models import RunStatus
from runs.tests.conftest import final

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_person_follows_a_run_from_the_list_to_its_timeline_and_final_state(
    page, login, bob, make_run, add_events, finish_run, put_blob
):
    state = put_blob(b'{"files_changed": 2}', "application/json")
    run = make_run(agent_name="coder", tags={"env": "ci"})
    add_events(
        run,
        {"seq": 3, "kind": "tool_result", "payload": {"tool": "run_tests", "ok": True}},
        {"seq": 1, "kind": "graph_started", "payload": {"task": "fix flaky test"}},
        {"seq": 2, "kind": "tool_called", "payload": {"tool": "run_tests", "args": {"path": "tests/"}}},
    )
    finish_run(run, RunStatus.COMPLETED, total_events=3, duration_ms=4200, final_state_digest=state.digest)
    make_run(agent_name="planner")

    login(bob)
    page.goto("/runs/?status=COMPLETED")
    rows = page.locator("[data-testid=run-table] tbody tr")
    assert rows.count() == 1
    assert rows.first.locator("[data-testid=status]").inner_text() == "COMPLETED"
    rows.first.locator("a.hash").first.click()

    page.wait_for_url(f"**/runs/{run.run_id}/")
    assert page.locator("[data-testid=run-id]").inner_text() == str(run.run_id)
    events = page.locator("[data-testid=timeline] li.event")
    assert events.count() == 3
    assert [events.nth(i).get_attribute("data-seq") for i in range(3)] == ["1", "2", "3"]
    assert "fix flaky test" in events.nth(0).locator("pre.payload").inner_text()
    outcome = page.locator("[data-testid=outcome]")
    assert "4200 ms" in outcome.inner_text()

    outcome.locator("a.hash").click()
    page.wait_for_url(f"**/runs/blobs/{state.digest}/")
    assert page.locator("[data-testid=digest]").inner_text() == state.digest
    assert "files_changed" in page.locator("[data-testid=preview]").inner_text()
    assert page.locator("[data-testid=download]").is_visible()


def test_the_lineage_graph_is_drawn_and_links_to_outputs(page, login, bob, emit):
    root = emit("task", 1, "planner", {"type": "progress", "stage": "plan", "note": None})
    left = emit("task", 1, "coder", {"type": "partial", "chunk": {"kind": "inline", "value": "a"}}, [root.output_id])
    right = emit("task", 1, "coder", {"type": "partial", "chunk": {"kind": "inline", "value": "b"}}, [root.output_id])
    merged = emit("task", 1, "coder", final("merged"), [left.output_id, right.output_id])

    login(bob)
    page.goto("/runs/tasks/task/1/")
    svg = page.locator("[data-testid=lineage] svg")
    assert svg.locator("g.node").count() == 4
    assert svg.locator("path.edge").count() == 4
    root_box = svg.locator(f'g[data-output="{root.output_id}"] rect').bounding_box()
    merged_box = svg.locator(f'g[data-output="{merged.output_id}"] rect').bounding_box()
    assert root_box["y"] < merged_box["y"]
    svg.locator(f'g[data-output="{merged.output_id}"]').click()
    page.wait_for_url(f"**#{merged.output_id}")
    assert page.locator(f'tr[id="{merged.output_id}"]').is_visible()
