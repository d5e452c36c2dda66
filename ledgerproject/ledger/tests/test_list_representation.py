"""Every ledger list answers the same bytes from plain rows as DRF's serializers answer from model instances."""

import datetime
import time

import pytest
from django.db import connection
from django.db.models import Count
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin

from ledgerproject.ledger import api, clock
from ledgerproject.ledger.access import iter_routes
from ledgerproject.ledger.management.commands.load_demo import demo_modules
from ledgerproject.ledger.serializers import LedgerSerializer

DIGEST_A, DIGEST_B = "a" * 64, "B" * 64


def list_routes():
    """(route, view class) of every list the API serves: a viewset's `list` or a generic list view."""
    found = []
    for route, pattern, _admin in iter_routes():
        cls = getattr(pattern.callback, "cls", None)
        actions = getattr(pattern.callback, "actions", None)
        if cls is None or not route.startswith("api/"):
            continue
        if (actions is not None and actions.get("get") == "list") or (
            actions is None and issubclass(cls, ListModelMixin)
        ):
            found.append((route, cls))
    return found


def _run_id():
    from runs.models import RunEvent

    return str(RunEvent.objects.order_by("-seq").values_list("run_id", flat=True).first())


def _reviewed_issue():
    from enhancelog.models import Review

    return Review.objects.order_by("-seq").values_list("entry__issue_id", flat=True).first()


# The value of each route parameter, read from the stored rows: a list route with another parameter fails
# the test until it is given one here (and so is compared too).
PARAMETERS = {"run_id": _run_id, "issue_id": _reviewed_issue}


def list_urls():
    import re

    urls = []
    for route, _cls in list_routes():
        text = route.replace("^", "").replace("$", "")
        for name in re.findall(r"\(\?P<(\w+)>[^)]*\)|<(?:\w+:)?(\w+)>", text):
            name = next(part for part in name if part)
            value = PARAMETERS[name]()
            assert value, f"no stored row gives {name} for {route}"
            text = re.sub(rf"\(\?P<{name}>[^)]*\)|<(?:\w+:)?{name}>", str(value), text, count=1)
        urls.append("/" + text)
    return urls


@pytest.fixture
def awkward(db, tmp_path, writer_api, make_user):
    """The demo data of every app, and entries with awkward values appended through the API: nulls, unicode,
    nested JSON, claimed times with offsets and with and without microseconds, a finished and a running run,
    a rollback."""
    with override_settings(MEDIA_ROOT=str(tmp_path)):
        for _app, module in demo_modules():
            module.load(seed=20261121)
        runs = []
        for created_at, git_sha in (
            ("2026-01-02T03:04:05.123456+05:30", None),
            ("2026-01-02T03:04:05-08:00", "abc"),
            (None, "déf"),
        ):
            body = {
                "spec_digest": DIGEST_B,
                "metadata": {"agent_name": "agént 🙂", "git_sha": git_sha, "tags": {"n": {"l": [1, 2.5, None, "ß"]}}},
            }
            if created_at:
                body["created_at"] = created_at
            response = writer_api.post("/api/v1/runs/", body, format="json")
            assert response.status_code == 201, response.content
            runs.append(response.json()["run_id"])
        for timestamp in ("2026-03-04T05:06:07+02:00", None):
            event = {"kind": "tool_call ✓", "payload": {"args": {"q": "ü", "n": None, "x": [{"y": 1e-7}]}}}
            if timestamp:
                event["timestamp"] = timestamp
            # Without a claimed time the answer shows recorded_at: a whole second is written without microseconds.
            with clock.backdated(whole_second()):
                response = writer_api.post(f"/api/v1/runs/{runs[0]}/events/", event, format="json")
            assert response.status_code == 201, response.content
        finish = {"total_events": 2, "duration_ms": 0, "final_state_digest": None, "success": None}
        assert writer_api.post(f"/api/v1/runs/{runs[0]}/fail/", finish, format="json").status_code == 200
        for seq, daemon in ((1, None), (2, 0)):
            record = {
                "seq": seq,
                "node_id": 77,
                "daemon_id": daemon,
                "ts_ms": 0,
                "level": "Warn",
                "message": ' "q"\n🙂 ',
            }
            assert writer_api.post("/api/v1/logs/", record, format="json").status_code == 201
        for digest, notes in ((DIGEST_A, None), (DIGEST_B, "zoë\n")):
            promote = {"spec_digest": digest, "promoted_by": "zoë", "notes": notes, "version_label": ""}
            assert writer_api.post("/api/v1/releases/agent-odd/promote/", promote, format="json").status_code == 201
        assert writer_api.post("/api/v1/releases/agent-odd/rollback/", {}, format="json").status_code == 201
        yield


def whole_second():
    """The next whole second, once it has come (a recorded_at may not lie in the future)."""
    now = timezone.now()
    moment = (now + datetime.timedelta(seconds=1)).replace(microsecond=0)
    time.sleep((moment - now).total_seconds())
    return moment


def _as_drf_answers_from_instances(monkeypatch):
    """The lists as before plain rows: model instances, each represented by DRF's own Serializer code."""
    monkeypatch.setattr(api.StreamingListMixin, "paginate_queryset", GenericAPIView.paginate_queryset)
    monkeypatch.setattr(api, "plain_row_queryset", lambda queryset, serializer=None, also=(): queryset)
    monkeypatch.setattr(api, "plain_rows", lambda queryset, serializer: queryset.iterator(chunk_size=2000))
    monkeypatch.setattr(LedgerSerializer, "to_representation", serializers.ModelSerializer.to_representation)
    # A release's stored spec blob: asked for the page's digests in a query of their own.
    from releases import api as releases_api
    from releases.serializers import blob_digests

    monkeypatch.setattr(
        releases_api, "page_blob_digests", lambda items, user: blob_digests((i.spec_digest for i in items), user)
    )


def _body(response):
    assert response.status_code == 200, (response.status_code, response.content[:300])
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.django_db
def test_it_answers_a_tenant_bound_reader_with_the_bytes_drf_writes_from_model_instances(
    awkward, make_user, client_for, monkeypatch
):
    reader = client_for(make_user("tina", roles=["reader"], tenants=["acme-legal"]))
    urls = [url + query for url in list_urls() for query in ("?page_size=1000", "?format=jsonl")]

    def answers():
        answered = {}
        for url in urls:
            response = reader.get(url)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            answered[url] = (response.status_code, body)
        return answered

    fast = answers()
    _as_drf_answers_from_instances(monkeypatch)
    assert fast == answers()
    assert b"acme-legal" in fast["/api/v1/events/?page_size=1000"][1]


@pytest.mark.django_db
def test_it_answers_every_list_with_the_bytes_drf_writes_from_model_instances(awkward, auditor_api, monkeypatch):
    queries = ["", "?page_size=1000", "?format=jsonl", "?format=csv"]
    # A release name's current entry and history (a list, not paged): the awkward name's and the demo's busiest.
    from releases.models import Release

    busiest = Release.objects.values("name").annotate(n=Count("seq")).order_by("-n", "name")[0]["name"]
    urls = list_urls() + [
        f"/api/v1/releases/{name}/{part}" for name in ("agent-odd", busiest) for part in ("", "history/")
    ]
    assert {"/api/v1/runs/", "/api/v1/events/", "/api/v1/releases/", "/api/v1/logs/", "/api/v1/outputs/"} <= set(urls)
    fast = {url + query: _body(auditor_api.get(url + query)) for url in urls for query in queries}
    _as_drf_answers_from_instances(monkeypatch)
    for url_query, body in fast.items():
        assert body == _body(auditor_api.get(url_query)), url_query
    # The lists are not empty, and the awkward rows are among what was compared.
    assert fast["/api/v1/runs/?page_size=1000"].count(b'"run_id"') >= 3 and "agént".encode() in fast["/api/v1/runs/"]
    assert b"+05:30" not in fast["/api/v1/runs/"] and b'"completed_at":null' in fast["/api/v1/runs/"]
    assert (
        b'"spec_blob":"/api/v1/blobs/' in fast["/api/v1/releases/"] and b'"spec_blob":null' in fast["/api/v1/releases/"]
    )
    assert b"rollback" in fast["/api/v1/releases/"] and b'\\"q\\"' in fast["/api/v1/logs/?format=jsonl"]


@pytest.mark.django_db
def test_it_reads_a_list_page_as_plain_rows_of_the_columns_it_shows(awkward, auditor_api):
    from runs.models import Run

    with CaptureQueriesContext(connection) as captured:
        auditor_api.get("/api/v1/runs/")
    page = [q["sql"] for q in captured.captured_queries if '"runs_run"' in q["sql"] and "ORDER BY" in q["sql"]]
    assert len(page) == 1
    # The outcome's columns come in the same query; no column the answer does not show is read.
    assert '"runs_runoutcome"."status"' in page[0] and '"runs_run"."canonical"' not in page[0]
    assert Run.objects.count() > 3
    # A release's stored spec blob is read in the page's own query: no second round trip for the digests.
    with CaptureQueriesContext(connection) as captured:
        assert b'"spec_blob":"/api/v1/blobs/' in auditor_api.get("/api/v1/releases/").content
    reads = [q["sql"] for q in captured.captured_queries if '"runs_blob"' in q["sql"] or "runs_blob " in q["sql"]]
    assert len(reads) == 1 and '"releases_release"' in reads[0]


@pytest.mark.django_db
def test_it_reads_a_page_of_runs_with_their_outcomes_in_queries_independent_of_its_size(writer_api, auditor_api):
    def queries_for(count):
        for _ in range(count):
            body = {"spec_digest": DIGEST_A, "metadata": {"agent_name": f"agent-{count}"}}
            run = writer_api.post("/api/v1/runs/", body, format="json").json()["run_id"]
            finish = {"total_events": 1, "duration_ms": 1}
            assert writer_api.post(f"/api/v1/runs/{run}/complete/", finish, format="json").status_code == 200
        with CaptureQueriesContext(connection) as captured:
            response = auditor_api.get(f"/api/v1/runs/?agent_name=agent-{count}")
        assert [run["status"] for run in response.json()["results"]] == ["COMPLETED"] * count
        return len(captured.captured_queries)

    assert queries_for(2) == queries_for(12)


@pytest.mark.django_db
def test_it_reads_a_lists_ordering_columns_for_its_cursor_when_no_field_shows_them(awkward, auditor_api, monkeypatch):
    from enhancelog.api import EnhanceEntryViewSet

    # reasons_text is derived, stored and never shown: the cursor still needs the page's last position in it.
    monkeypatch.setattr(EnhanceEntryViewSet, "cursor_ordering", ("reasons_text", "seq"))
    first = auditor_api.get("/api/v1/enhances/?page_size=2")
    assert first.status_code == 200 and first.json()["next"]
    following = auditor_api.get(first.json()["next"])
    assert following.status_code == 200 and following.json()["results"]
    _as_drf_answers_from_instances(monkeypatch)
    assert auditor_api.get("/api/v1/enhances/?page_size=2").content == first.content
