"""Dashboard pages: run list (filters, badges, counts), run detail, task lineage graph, blob page."""

import hashlib
import re

import pytest
from django.test import Client

from runs import demo
from runs.models import Output, RunStatus
from runs.tests.conftest import final

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser_client(bob):
    client = Client()
    client.force_login(bob)
    return client


def test_pages_need_a_login(make_run):
    run = make_run()
    response = Client().get(f"/runs/{run.run_id}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_run_list_shows_status_agent_duration_and_event_count(
    browser_client, make_run, add_events, finish_run, django_assert_max_num_queries
):
    done = make_run(agent_name="reviewer")
    add_events(done, {"kind": "a"}, {"kind": "b"}, {"kind": "c"})
    finish_run(done, RunStatus.COMPLETED, total_events=3, duration_ms=2500)
    failed = make_run(agent_name="coder")
    finish_run(failed, RunStatus.FAILED)
    for _ in range(5):
        add_events(make_run(agent_name="planner"), {"kind": "x"})
    # One more than before tenancy covered every ledger: the principal's tenant scope.
    with django_assert_max_num_queries(6):
        response = browser_client.get("/runs/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "badge-completed" in html and "badge-failed" in html and "badge-running" in html
    assert "2.5 s" in html
    row = re.search(rf"{str(done.run_id)[:8]}.*?</tr>", html, re.S).group(0)
    assert ">3</td>" in row


def test_the_run_list_filters_by_status_agent_and_spec(browser_client, make_run, finish_run):
    other = hashlib.sha256(b"other spec").hexdigest()
    running = make_run(agent_name="planner")
    done = make_run(agent_name="coder", spec_digest=other)
    finish_run(done)

    def listed(query):
        html = browser_client.get(f"/runs/?{query}").content.decode()
        return {str(run.run_id)[:8] for run in (running, done) if str(run.run_id)[:8] in html}

    assert listed("status=COMPLETED") == {str(done.run_id)[:8]}
    assert listed("status=RUNNING") == {str(running.run_id)[:8]}
    assert listed("agent_name=planner") == {str(running.run_id)[:8]}
    assert listed(f"spec_digest={other}") == {str(done.run_id)[:8]}
    assert listed("spec_digest=not-a-digest") == set()


def test_it_refuses_a_status_the_api_refuses_with_a_400_naming_it(browser_client, make_run):
    make_run(agent_name="planner")
    response = browser_client.get("/runs/?status=running")
    assert response.status_code == 400
    assert 'data-testid="filter-errors"' in response.content.decode() and "<code>status</code>" in (
        response.content.decode()
    )
    assert response.context["runs"] == []


def test_the_run_list_pages_older_runs_by_cursor(browser_client, make_run, settings):
    from runs import views

    runs = [make_run() for _ in range(views.PAGE_SIZE + 2)]
    first = browser_client.get("/runs/").content.decode()
    cursor = re.search(r'cursor=([^"&]+)" rel="next"', first).group(1)
    second = browser_client.get(f"/runs/?cursor={cursor}").content.decode()
    assert str(runs[0].run_id)[:8] in second and str(runs[0].run_id)[:8] not in first
    assert str(runs[-1].run_id)[:8] in first


def test_the_run_detail_shows_the_timeline_summary_and_blob_links(
    browser_client, make_run, add_events, finish_run, put_blob, django_assert_max_num_queries
):
    state = put_blob(b'{"done": true}', "application/json")
    run = make_run(tags={"env": "ci"})
    add_events(
        run,
        {"seq": 2, "kind": "tool_called", "payload": {"tool": "grep", "args": {"pattern": "<script>"}}},
        {"seq": 1, "kind": "graph_started", "payload": {}},
        {"seq": 3, "kind": "checkpoint", "payload": {"state": state.digest}},
    )
    finish_run(run, total_events=3, final_state_digest=state.digest, duration_ms=900)
    # session, user, two permission lookups, then the run (with its outcome) and its events
    # One more than before tenancy covered every ledger: the principal's tenant scope. Two more
    # for the releases: the one of the run's agent live at its start, and those of its spec digest.
    with django_assert_max_num_queries(9):
        response = browser_client.get(f"/runs/{run.run_id}/")
    html = response.content.decode()
    assert response.status_code == 200
    timeline = html[html.index('data-testid="timeline"') :]
    assert timeline.index("graph_started") < timeline.index("tool_called") < timeline.index("checkpoint")
    assert "&lt;script&gt;" in html and "<script>" not in html.split("<main")[1].split("</main>")[0]
    assert f"/runs/blobs/{state.digest}/" in html
    assert "badge-completed" in html and "900 ms" in html


def test_an_unknown_run_is_a_404_page(browser_client):
    assert browser_client.get("/runs/00000000-0000-4000-8000-000000000000/").status_code == 404


def test_the_task_page_draws_the_lineage_graph(browser_client, emit, django_assert_max_num_queries):
    root = emit("task", 2, "planner", {"type": "progress", "stage": "plan", "note": None})
    left = emit("task", 2, "coder", {"type": "partial", "chunk": {"kind": "inline", "value": "L"}}, [root.output_id])
    right = emit("task", 2, "coder", {"type": "partial", "chunk": {"kind": "inline", "value": "R"}}, [root.output_id])
    merged = emit("task", 2, "coder", final("done"), [left.output_id, right.output_id])
    earlier = emit("task", 1, "planner", final("old"))
    extra = emit("task", 2, "reviewer", final("uses attempt 1"), [earlier.output_id])
    # session, user, two permission lookups, then outputs, outside parents, other attempts
    # One more than before tenancy covered every ledger: the principal's tenant scope.
    with django_assert_max_num_queries(8):
        response = browser_client.get("/runs/tasks/task/2/")
    html = response.content.decode()
    assert response.status_code == 200
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count('class="edge"') == 5
    for node in (root, left, right, merged, extra):
        assert f'data-output="{node.output_id}"' in svg
    assert "node-external" in svg and earlier.output_id in svg
    assert f'data-source="{root.output_id}" data-target="{left.output_id}"' in svg
    # A child sits in a layer below its parents; siblings share a layer.
    y = {
        m[0]: int(m[1])
        for m in re.findall(r'data-output="([^"]+)">\s*<title>.*?</title>\s*<rect x="\d+" y="(\d+)"', svg, re.S)
    }
    assert y[root.output_id] < y[left.output_id] == y[right.output_id] < y[merged.output_id]


def test_the_task_list_groups_outputs_by_attempt(browser_client, emit):
    emit("alpha", 1)
    emit("alpha", 2)
    emit("beta", 1, event={"type": "progress", "stage": "s", "note": None})
    html = browser_client.get("/runs/tasks/").content.decode()
    assert "/runs/tasks/alpha/1/" in html and "/runs/tasks/alpha/2/" in html and "/runs/tasks/beta/1/" in html
    assert browser_client.get("/runs/tasks/nothing/1/").status_code == 404


def test_the_blob_page_shows_size_type_references_and_download(browser_client, put_blob, make_run):
    blob = put_blob(b'{"agent": "coder"}', "application/json")
    run = make_run(spec_digest=blob.digest, agent_name="coder")
    html = browser_client.get(f"/runs/blobs/{blob.digest}/").content.decode()
    assert "application/json" in html and re.search(r"18\sbytes", html)
    assert f"/runs/{run.run_id}/" in html
    assert f"/api/v1/blobs/{blob.digest}/" in html
    assert "&quot;agent&quot;: &quot;coder&quot;" in html
    assert browser_client.get("/runs/blobs/nope/").status_code == 404
    assert browser_client.get(f"/runs/blobs/{hashlib.sha256(b'z').hexdigest()}/").status_code == 404


def test_the_demo_data_loads_once_and_every_page_renders(browser_client):
    summary = demo.load(seed=7)
    assert "runs" in summary and "task outputs" in summary
    assert demo.load(seed=7) == "already has entries, left as it is"
    assert browser_client.get("/runs/").status_code == 200
    for status in RunStatus.values:
        assert f"badge-{status.lower()}" in browser_client.get(f"/runs/?status={status}").content.decode()
    from runs.models import Blob, Run

    for run in Run.objects.all()[:5]:
        assert browser_client.get(f"/runs/{run.run_id}/").status_code == 200
    assert any(len(o.parent_refs) > 1 for o in Output.objects.all())
    output = Output.objects.last()
    assert browser_client.get(f"/runs/tasks/{output.task_id}/{output.attempt}/").status_code == 200
    assert browser_client.get(f"/runs/blobs/{Blob.objects.first().digest}/").status_code == 200


def test_the_run_detail_tells_the_claimed_start_from_the_server_time(browser_client, make_run):
    import datetime

    claimed = datetime.datetime(2020, 5, 4, 3, 2, 1, tzinfo=datetime.UTC)
    run = make_run(created_at=claimed)
    html = browser_client.get(f"/runs/{run.run_id}/").content.decode()
    started = html[html.index("<dt>Started</dt>") : html.index("<dt>Recorded</dt>")]
    recorded = html[html.index("<dt>Recorded</dt>") : html.index("<dt>Recorded by</dt>")]
    assert "2020-05-04 03:02:01" in started and "claimed by the client" in started
    assert run.recorded_at.strftime("%Y-%m-%d %H:%M:%S") in recorded and "server time" in recorded
    assert "2020-05-04" not in recorded
