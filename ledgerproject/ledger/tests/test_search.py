"""Search (page and API): every kind of id lands on its entry, scoped to the principal's tenants."""

import pytest
from django.db import transaction
from django.test import Client, RequestFactory, override_settings

from ledgerproject.ledger.search import MIN_PREFIX, search
from ledgerproject.ledger.tests.tenant_world import build_world
from ledgerproject.ledger.trail import trail
from runs.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def built_world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Built once for the module, inside a transaction rolled back after (each test rolls back its own
    writes to a savepoint inside it)."""
    media = tmp_path_factory.mktemp("media")
    with override_settings(MEDIA_ROOT=str(media)), django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


@pytest.fixture
def world(built_world, db):
    red, mine, absent, blue = built_world
    client = Client()
    client.force_login(blue)
    return red, mine, absent, blue, client


def kinds_of(ids):
    """(query, ledger, kind, where the page for it is) for each kind of id the tenant stored."""
    return [
        (ids.issue, "enhancelog", "issue id", f"/enhances/entries/{ids.issue}/"),
        (ids.blueprint, "enhancelog", "blueprint id", f"/enhances/blueprints/{ids.blueprint}/"),
        (ids.event, "experience", "event id", f"/events/{ids.event}/"),
        (ids.corr, "experience", "correlation id", f"/events/correlations/{ids.corr}/"),
        (ids.chain, "experience", "chain id", f"/events/chains/{ids.chain}/"),
        (ids.artifact, "experience", "artifact id", f"/artifacts/{ids.artifact}/"),
        (ids.trace, "experience", "trace link id", f"/trace-links/{ids.trace}/"),
        (ids.run_id, "runs", "run id", f"/runs/{ids.run_id}/"),
        (ids.run_id.replace("-", ""), "runs", "run id", f"/runs/{ids.run_id}/"),
        (ids.output_id, "outputs", "output id", f"/runs/tasks/{ids.task}/1/#{ids.output_id}"),
        (ids.task, "outputs", "task id", f"/runs/tasks/?task_id={ids.task}"),
        (ids.release, "releases", "release name", f"/releases/{ids.release}/"),
        (f"{ids.prefix}-v2", "releases", "version label", "/releases/"),
        (ids.digest, "blobs", "blob digest", f"/runs/blobs/{ids.digest}/"),
        (ids.digest[:MIN_PREFIX].upper(), "blobs", "blob digest", f"/runs/blobs/{ids.digest}/"),
        (str(ids.node_id), "logchain", "node id", f"/logs/?node={ids.node_id}"),
        (f"runs#{ids.seq['runs']}", "runs", "seq", f"/runs/{ids.run_id}/"),
        (f"enhancelog-reviews#{ids.seq['enhancelog-reviews']}", "enhancelog-reviews", "seq", "/enhances/entries/"),
    ]


def test_it_finds_each_kind_of_id_through_the_api_with_its_page(world, client_for):
    _red, mine, _absent, blue, _client = world
    api = client_for(blue)
    for query, ledger, kind, page in kinds_of(mine):
        response = api.get("/api/v1/search/", {"q": query})
        assert response.status_code == 200, (query, response.content)
        body = response.json()
        assert body["query"] == query
        hits = [r for r in body["results"] if r["ledger"] == ledger and r["kind"] == kind]
        assert hits, f"{query!r} did not find its {kind} in {ledger}: {body['results']}"
        assert any(hit["url"].startswith(page) for hit in hits), (query, hits)
        for hit in hits:
            if hit["api_url"]:
                assert api.get(hit["api_url"]).status_code == 200, hit


def test_the_page_lands_on_the_entry_when_one_thing_matches(world):
    _red, mine, _absent, _blue, client = world
    response = client.get("/search/", {"q": mine.issue})
    assert response.status_code == 302
    assert response["Location"] == f"/enhances/entries/{mine.issue}/"
    response = client.get("/search/", {"q": f"  {mine.run_id}  "})
    assert response.status_code == 302 and response["Location"] == f"/runs/{mine.run_id}/"
    assert client.get(response["Location"]).status_code == 200


def test_the_page_lists_several_matches_grouped_by_ledger(world):
    _red, mine, _absent, _blue, client = world
    # The blob's digest is also the run's and the releases' spec digest: one id, three ledgers.
    response = client.get("/search/", {"q": mine.digest[:12]})
    assert response.status_code == 200
    html = response.content.decode()
    for ledger in ("blobs", "runs", "releases"):
        assert f'data-ledger="{ledger}"' in html
    assert f"/runs/blobs/{mine.digest}/" in html
    assert f"/trail/?id={mine.digest[:12]}" in html


def test_another_tenants_ids_find_nothing(world, client_for):
    red, _mine, _absent, blue, client = world
    api = client_for(blue)
    for query, _ledger, _kind, _page in kinds_of(red):
        assert api.get("/api/v1/search/", {"q": query}).json()["results"] == [], query
        page = client.get("/search/", {"q": query})
        assert page.status_code == 200 and b'data-testid="search-empty"' in page.content, query
    # The red tenant's own writer does find them: the scoping, not the query, hides them.
    from django.contrib.auth import get_user_model

    red_writer = get_user_model().objects.get(username="rdx-writer")
    assert search(red_writer, red.issue)


def test_a_blank_or_short_query_gets_a_message_saying_what_to_type(world, client_for):
    _red, _mine, _absent, blue, client = world
    api = client_for(blue)
    blank = client.get("/search/", {"q": "  "})
    assert blank.status_code == 200 and b"Type an id to search" in blank.content
    short = client.get("/search/", {"q": "ab"})
    assert short.status_code == 400 and b"too short" in short.content
    for query in ("", "ab", "x" * 300):
        response = api.get("/api/v1/search/", {"q": query})
        assert response.status_code == 400
        assert response.json()["detail"].startswith("Invalid input: q:")


def test_a_digest_prefix_shorter_than_eight_finds_no_digest(world, client_for):
    _red, mine, _absent, blue, _client = world
    api = client_for(blue)
    results = api.get("/api/v1/search/", {"q": mine.digest[: MIN_PREFIX - 1]}).json()["results"]
    assert not [r for r in results if "digest" in r["kind"]]


def test_ledger_seq_names_one_entry_and_refuses_other_tenants(world, client_for):
    red, mine, _absent, blue, _client = world
    api = client_for(blue)
    mine_hit = api.get("/api/v1/search/", {"q": f"experience#{mine.seq['experience']}"}).json()["results"]
    assert [(r["ledger"], r["id"]) for r in mine_hit] == [("experience", mine.event)]
    assert api.get("/api/v1/search/", {"q": f"experience#{red.seq['experience']}"}).json()["results"] == []
    assert api.get("/api/v1/search/", {"q": "nosuchledger#1"}).json()["results"] == []


def test_a_principal_with_no_role_cannot_search(make_user, client_for):
    nobody = make_user("nobody-search")
    assert client_for(nobody).get("/api/v1/search/", {"q": "anything"}).status_code == 403
    client = Client()
    client.force_login(nobody)
    assert client.get("/search/", {"q": "anything"}).status_code == 403


def _trail(user, value, query=None):
    """(entries, next query or None) of the trail page a query string names, read as `user`."""
    request = RequestFactory().get("/trail/" + (query or f"?id={value}"))
    request.user = user
    page = trail(request, value)
    return page.rows, page.next_query


def test_the_trail_of_a_run_gathers_its_entries_in_every_ledger_in_time_order(world):
    red, mine, _absent, blue, client = world
    entries, more = _trail(blue, mine.run_id)
    assert more is None
    assert [e.ledger_name for e in entries] == ["runs", "run_events", "run_outcomes"]
    run = Run.objects.get(run_id=mine.run_id)
    assert entries[0] == run
    # Another tenant's run: nothing, the same as an id nobody used.
    assert _trail(blue, red.run_id) == ([], None)
    page = client.get("/trail/", {"id": mine.run_id})
    assert page.status_code == 200
    assert page.content.decode().count('data-testid="trail-row"') == 3


def test_the_trail_is_paged_by_a_cursor_that_never_repeats_a_row(world):
    _red, mine, _absent, blue, client = world
    seen, query = [], f"?id={mine.corr}&page_size=1"
    while query:
        entries, query = _trail(blue, mine.corr, query)
        seen += [(e.ledger_name, e.seq) for e in entries]
    assert len(seen) == len(set(seen)) == 3
    # And back: the previous links walk the same rows in reverse.
    last_page = client.get("/trail/", {"id": mine.corr, "page_size": 1, "cursor": "x"})
    assert last_page.status_code == 400
    first = client.get("/trail/", {"id": mine.corr})
    assert first.status_code == 200 and first.content.decode().count('data-testid="trail-row"') == 3
    assert client.get("/trail/", {"id": "ab"}).status_code == 400
    assert b"Name an id" in client.get("/trail/").content


def test_each_ledger_entry_page_links_back_to_its_domain_page(world):
    _red, mine, _absent, _blue, client = world
    expected = {
        "enhancelog": f"/enhances/entries/{mine.issue}/",
        "enhancelog-reviews": f"/enhances/entries/{mine.issue}/",
        "experience": f"/events/{mine.event}/",
        "runs": f"/runs/{mine.run_id}/",
        "run_events": f"/runs/{mine.run_id}/#event-1",
        "run_outcomes": f"/runs/{mine.run_id}/",
        "outputs": f"/runs/tasks/{mine.task}/1/#{mine.output_id}",
        "releases": f"/releases/{mine.release}/#entry-",
        "blobs": f"/runs/blobs/{mine.digest}/",
        "logchain": f"/logs/?node={mine.node_id}",
    }
    for ledger, href in expected.items():
        page = client.get(f"/ledgers/{ledger}/entries/{mine.seq[ledger]}/")
        assert page.status_code == 200, ledger
        html = page.content.decode()
        assert 'data-testid="domain-page"' in html, ledger
        assert f'href="{href}'.replace("&", "&amp;") in html, (ledger, href)


def test_a_run_page_links_its_release_live_at_start_its_spec_releases_and_its_trail(world):
    _red, mine, _absent, _blue, client = world
    html = client.get(f"/runs/{mine.run_id}/").content.decode()
    # The releases of the run's spec digest (the tenant world promotes it twice under one name).
    assert f'href="/releases/{mine.release}/#entry-' in html
    assert f'href="/trail/?id={mine.run_id}"' in html
    assert f'href="/runs/?agent_name={mine.prefix}-agent"' in html
    blob = client.get(f"/runs/blobs/{mine.digest}/").content.decode()
    assert 'data-testid="blob-release"' in blob and f'href="/releases/{mine.release}/#entry-' in blob


def test_a_run_page_names_the_release_of_its_agent_that_was_live_when_it_started(world):
    import uuid

    from django.utils import timezone

    from releases.models import Release

    _red, mine, _absent, blue, client = world
    first = Release.objects.promote(
        "live-agent",
        spec_digest=mine.digest,
        promoted_by="p",
        version_label="v1",
        recorded_by=blue,
        tenant_id="tnt-blu",
    )
    run = Run.objects.append(
        recorded_by=blue,
        run_id=uuid.uuid4(),
        spec_digest=mine.digest,
        agent_name="live-agent",
        tags={},
        created_at=timezone.now(),
        tenant_id="tnt-blu",
    )
    Release.objects.promote(
        "live-agent",
        spec_digest=mine.digest,
        promoted_by="p",
        version_label="v2",
        recorded_by=blue,
        tenant_id="tnt-blu",
    )
    html = client.get(f"/runs/{run.run_id}/").content.decode()
    live = html.split('data-testid="release-at-start"')[1].split("</dd>")[0]
    assert f'href="/releases/live-agent/#entry-{first.seq}"' in live and "v2" not in live


def test_ids_in_json_payloads_link_to_their_pages_and_nothing_else_is_unescaped():
    from ledgerproject.ledger.templatetags.ledger_links import json_links

    run_id = "3f2e8a1c-0000-4000-8000-000000000001"
    rendered = str(json_links({"run_id": run_id, "artifact_id": "art-1", "note": "<b>x</b>", "chain_id": 'a"<script>'}))
    assert f'<a href="/runs/{run_id}/">{run_id}</a>' in rendered
    assert '<a href="/artifacts/art-1/">art-1</a>' in rendered
    assert "<b>" not in rendered and "<script>" not in rendered
    assert "&lt;b&gt;x&lt;/b&gt;" in rendered


def test_an_event_page_links_its_artifact_trace_link_chain_and_correlation_trail(world):
    _red, mine, _absent, _blue, client = world
    html = client.get(f"/events/{mine.event}-2/").content.decode()
    assert f'href="/artifacts/{mine.artifact}/"' in html
    assert f'href="/trail/?id={mine.corr}"' in html
    assert 'data-testid="envelope"' in html and f'<a href="/artifacts/{mine.artifact}/">{mine.artifact}</a>' in html
    trace = client.get(f"/events/{mine.event}/").content.decode()
    assert f'href="/trace-links/{mine.trace}/"' in trace
    enhance = client.get(f"/enhances/entries/{mine.issue}/").content.decode()
    assert f'href="/trail/?id={mine.issue}"' in enhance and f'href="/trail/?id={mine.blueprint}"' in enhance


def test_the_admin_links_each_entry_to_its_page_its_ids_and_its_trail(world, client_for):
    from django.contrib.auth import get_user_model

    _red, mine, _absent, _blue, _client = world
    client = Client()
    client.force_login(get_user_model().objects.get(username="blu-user"))  # staff, bound to its tenant
    listing = client.get("/admin/runs/run/").content.decode()
    assert f'href="/runs/{mine.run_id}/" data-testid="admin-page-link"' in listing
    change = client.get(f"/admin/runs/run/{mine.seq['runs']}/change/").content.decode()
    assert f'<a href="/runs/{mine.run_id}/">' in change
    assert f'href="/runs/?spec_digest={mine.digest}"' in change
    assert f'href="/trail/?id={mine.run_id}"' in change
    event = client.get(f"/admin/experience/experienceevent/{mine.seq['experience']}/change/").content.decode()
    assert f'href="/events/correlations/{mine.corr}/"' in event and f'href="/trail/?id={mine.corr}"' in event


@pytest.mark.postgres
def test_every_search_query_can_be_served_by_an_index_on_postgresql(world):
    """With sequential scans priced out, a query no index can serve still plans a Seq Scan."""
    from django.db import connection

    from ledgerproject.ledger.search import field_queries

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL plans only")
    _red, mine, _absent, blue, _client = world
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
    try:
        for query in (mine.issue, mine.run_id, mine.digest, mine.digest[:8], str(mine.node_id), mine.corr):
            for model, declared, queryset in field_queries(blue, query):
                plan = queryset.explain()
                assert f"Seq Scan on {model._meta.db_table}" not in plan, (query, declared.field, plan)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = on")


def test_runs_and_task_outputs_link_through_their_agent(world):
    _red, mine, _absent, _blue, client = world
    html = client.get(f"/runs/{mine.run_id}/").content.decode()
    assert f'href="/runs/tasks/?producer_agent={mine.prefix}-agent" data-testid="agent-outputs"' in html
    attempt = client.get(f"/runs/tasks/{mine.task}/1/").content.decode()
    assert f'href="/runs/?agent_name={mine.prefix}-producer"' in attempt
    assert f'href="/ledgers/outputs/entries/{mine.seq["outputs"]}/"' in attempt
