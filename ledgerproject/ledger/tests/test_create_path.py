"""Every ledger's create routes behave alike: an object or an array (atomic), the strict body, per-item errors, 409.

The table below names each ledger's JSON create routes; a ledger (or an append route) added without a row
here fails `test_every_ledger_and_every_append_route_is_covered`.
"""

import hashlib
import itertools
from dataclasses import dataclass, field

import pytest
from django.urls import resolve

from ledgerproject.ledger.api import AppendMixin
from ledgerproject.ledger.registry import ledger_models
from ledgerproject.ledger.tests.routes import all_routes, sample_path

pytestmark = pytest.mark.django_db

SPEC = hashlib.sha256(b"create-path spec").hexdigest()
_n = itertools.count(1)


def _note(key=None):
    return {"key": key or f"note-{next(_n)}", "body": {"a": 1}}


def _enhance(key=None):
    return {
        "issue_id": key or f"issue-{next(_n)}",
        "blueprint_id": "bp-1",
        "prev_hash": "00" * 32,
        "new_hash": "ff" * 32,
        "verdicts": [{"axis": "des", "status": "pass", "detail": "ok"}],
        "status": "applied",
        "ts_ms": 100,
    }


def _event(key=None):
    data = {
        "chain_id": "chain-1",
        "step": "Planning",
        "passed": True,
        "stop_reason": None,
        "latency_ms": 12,
        "tokens": 42,
        "cost_microdollars": 1500,
        "backend": "local",
    }
    return {
        "event_id": key or f"evt-{next(_n)}",
        "occurred_at": "2026-01-21T12:00:00Z",
        "event": {"type": "OutcomeRecorded", "data": data},
    }


def _log(key=None):
    return {"seq": key or next(_n), "ts_ms": 1, "level": "Info", "node_id": 100, "message": "m"}


def _run(key=None):
    return {"spec_digest": SPEC, "metadata": {"agent_name": "coder"}}


def _run_event(key=None):
    return {"seq": key or next(_n), "kind": "step", "payload": {"i": 1}}


def _output(key=None):
    return {
        "task_id": "t",
        "attempt": 1,
        "producer_agent": "p",
        "event": {"type": "final", "content": {"kind": "inline", "value": "x"}, "ok": True},
    }


def _review(key=None):
    return {"decision": "acknowledged", "comment": "seen"}


def _promote(key=None):
    return {"spec_digest": SPEC, "promoted_by": "ci"}


def _summary(key=None):
    return {"total_events": 0, "duration_ms": 5}


def _transition(key=None):
    lifecycle = {
        "from_state": "Draft",
        "to_state": "Approved",
        "timestamp": "2026-01-21T12:00:00Z",
        "actor": "ci",
        "reason": "reviewed",
    }
    return {"artifact_kind": "Adapter", "event": lifecycle}


def _a_run():
    from runs.models import Run

    return Run.objects.create_run(spec_digest=SPEC, agent_name="coder")


def _a_rejected_entry():
    from enhancelog.models import EnhanceEntry

    return EnhanceEntry.objects.append(
        recorded_by="test",
        **{
            **_enhance(),
            "status": "rejected",
            "new_hash": "",
            "reasons": ["no"],
            "verdicts": [{"axis": "des", "status": "deny", "detail": "no"}],
        },
    )


@dataclass
class Case:
    """One JSON create route of one ledger."""

    label: str  # the ledger model the route appends to
    path: object  # the URL path, or a callable building the world it needs and returning it
    item: object  # item(key=None) -> a valid body; `key` replays a natural key
    bad: dict  # fields that make an otherwise valid item invalid
    server_owned: tuple = ("ledger",)
    many: bool = True  # the route takes an array too
    keyed: bool = False  # a natural key the client sends (a replay is 409 identical)
    batch_alias: bool = True  # `…/batch/` is the same path for arrays
    id: str = field(default="")

    def url(self):
        return self.path() if callable(self.path) else self.path


CASES = [
    Case("ledger_testapp.Note", "/api/v1/notes/", _note, {"count": -3}, keyed=True, id="notes"),
    Case("enhancelog.EnhanceEntry", "/api/v1/enhances/", _enhance, {"ts_ms": "soon"}, keyed=True, id="enhances"),
    Case(
        "enhancelog.Review",
        lambda: f"/api/v1/enhances/{_a_rejected_entry().issue_id}/reviews/",
        _review,
        {"decision": "maybe"},
        server_owned=("ledger", "reviewer", "issue_id"),
        batch_alias=False,
        id="reviews",
    ),
    Case("experience.ExperienceEvent", "/api/v1/events/", _event, {"occurred_at": 5}, keyed=True, id="events"),
    Case(
        "experience.ExperienceEvent",
        "/api/v1/artifacts/art-1/transitions/",
        _transition,
        {"artifact_kind": 5},
        server_owned=(),
        many=False,
        id="artifact-transitions",
    ),
    Case("logchain.LogRecord", "/api/v1/logs/", _log, {"level": "Loud"}, keyed=True, id="logs"),
    Case("runs.Run", "/api/v1/runs/", _run, {"spec_digest": "nothex"}, server_owned=("ledger", "run_id"), id="runs"),
    Case(
        "runs.RunEvent",
        lambda: f"/api/v1/runs/{_a_run().run_id}/events/",
        _run_event,
        {"seq": 0},
        server_owned=("ledger", "run_id"),
        keyed=True,
        id="run-events",
    ),
    Case("runs.Output", "/api/v1/outputs/", _output, {"attempt": -1}, server_owned=("ledger", "id"), id="outputs"),
    Case(
        "runs.RunOutcome",
        lambda: f"/api/v1/runs/{_a_run().run_id}/complete/",
        _summary,
        {"duration_ms": -1},
        server_owned=("ledger",),
        many=False,
        id="run-complete",
    ),
    Case(
        "releases.Release",
        "/api/v1/releases/planner/promote/",
        _promote,
        {"spec_digest": "nothex"},
        server_owned=("ledger", "created_at"),
        many=False,
        id="releases-promote",
    ),
]
# Ledgers with no JSON create route, and how they are appended.
NOT_JSON = {
    "runs.Blob": "POST /blobs/ stores the raw request body",
    "runs.BlobChange": "appended by DELETE /blobs/{digest}/",
}
ARRAYS = [case for case in CASES if case.many]
KEYED = [case for case in CASES if case.keyed]


def _ids(cases):
    return [case.id for case in cases]


def _model(case):
    from django.apps import apps

    return apps.get_model(case.label)


def _count(case):
    return _model(case)._base_manager.count()


@pytest.fixture
def root_api(make_user, client_for):
    return client_for(make_user("root", roles=["writer", "reviewer"]))


def test_every_ledger_and_every_append_route_is_covered():
    labels = {model._meta.label for model in ledger_models()}
    assert labels == {case.label for case in CASES} | set(NOT_JSON), "a ledger without a create-path case"
    covered = {resolve(sample_path(_template(case))).func.cls for case in CASES}
    for route, pattern in all_routes():
        cls = getattr(pattern.callback, "cls", None)
        actions = getattr(pattern.callback, "actions", None) or {}
        if cls is not None and issubclass(cls, AppendMixin) and actions.get("post", "create") == "create":
            assert cls in covered, f"{route}: an append route no case covers"


def _template(case):
    # The route of a case whose path needs a world: a sample with the same shape.
    if not callable(case.path):
        return case.path.removeprefix("/")
    return {
        "reviews": "api/v1/enhances/x/reviews/",
        "run-events": "api/v1/runs/00000000-0000-0000-0000-000000000001/events/",
        "run-complete": "api/v1/runs/00000000-0000-0000-0000-000000000001/complete/",
    }[case.id]


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_it_appends_one_object_and_answers_the_entry(root_api, case):
    url = case.url()
    before = _count(case)
    response = root_api.post(url, case.item(), format="json")
    assert response.status_code in (200, 201), response.json()
    assert isinstance(response.json(), dict) and "ledger" in response.json()
    assert _count(case) == before + 1


@pytest.mark.parametrize("case", ARRAYS, ids=_ids(ARRAYS))
def test_it_appends_an_array_and_answers_the_entries_in_order(root_api, case):
    url = case.url()
    before = _count(case)
    response = root_api.post(url, [case.item(), case.item()], format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert isinstance(body, list) and len(body) == 2
    assert body[0]["ledger"]["seq"] < body[1]["ledger"]["seq"]
    assert _count(case) == before + 2
    if case.batch_alias:
        response = root_api.post(url + "batch/", [case.item()], format="json")
        assert response.status_code == 201 and len(response.json()) == 1
        assert root_api.post(url + "batch/", case.item(), format="json").status_code == 400


@pytest.mark.parametrize("case", [c for c in CASES if not c.many], ids=_ids([c for c in CASES if not c.many]))
def test_a_route_without_arrays_refuses_one_with_a_400(root_api, case):
    url = case.url()
    before = _count(case)
    response = root_api.post(url, [case.item()], format="json")
    assert response.status_code == 400 and response.json()["detail"]
    assert _count(case) == before


@pytest.mark.parametrize("many", [False, True], ids=["object", "array"])
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_an_unknown_field_is_refused_by_name(root_api, case, many):
    if many and not case.many:
        pytest.skip("this route takes one object")
    url = case.url()
    before = _count(case)
    item = {**case.item(), "colour": "blue"}
    response = root_api.post(url, [case.item(), item] if many else item, format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    errors = body["items"][0]["errors"] if many else body
    if many:
        assert body["items"][0]["index"] == 1
    assert "Unknown field" in errors["colour"][0]
    assert "colour" in body["detail"]
    assert _count(case) == before


@pytest.mark.parametrize("case", [c for c in CASES if c.server_owned], ids=_ids([c for c in CASES if c.server_owned]))
def test_a_server_owned_field_is_refused_by_name_and_told_apart_from_an_unknown_one(root_api, case):
    url = case.url()
    before = _count(case)
    body = {**case.item(), **dict.fromkeys(case.server_owned, "x"), "colour": "blue"}
    response = root_api.post(url, body, format="json")
    assert response.status_code == 400, response.json()
    errors = response.json()
    for name in case.server_owned:
        assert "server" in errors[name][0] or "authenticated principal" in errors[name][0], errors
        assert "Unknown" not in errors[name][0]
    assert "Unknown field" in errors["colour"][0]
    assert _count(case) == before


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_an_invalid_object_is_a_400_naming_the_field(root_api, case):
    url = case.url()
    before = _count(case)
    response = root_api.post(url, {**case.item(), **case.bad}, format="json")
    assert response.status_code == 400, response.json()
    assert set(case.bad) <= set(response.json()), response.json()
    assert _count(case) == before


@pytest.mark.parametrize("case", ARRAYS, ids=_ids(ARRAYS))
def test_an_array_with_one_invalid_item_names_it_and_stores_nothing(root_api, case):
    url = case.url()
    before = _count(case)
    response = root_api.post(url, [case.item(), {**case.item(), **case.bad}, case.item()], format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["detail"].startswith("Batch rejected, nothing was stored")
    assert [item["index"] for item in body["items"]] == [1]
    assert set(case.bad) <= set(body["items"][0]["errors"])
    assert _count(case) == before


@pytest.mark.parametrize("case", KEYED, ids=_ids(KEYED))
def test_a_replayed_key_is_409_identical_and_an_array_holding_it_stores_nothing(root_api, case):
    url = case.url()
    key = f"k-{next(_n)}" if case.id not in ("logs", "run-events") else 10_000 + next(_n)
    first = case.item(key)
    assert root_api.post(url, first, format="json").status_code == 201
    before = _count(case)
    replay = root_api.post(url, first, format="json")
    assert replay.status_code == 409 and replay.json()["identical"] is True
    response = root_api.post(url, [case.item(), first], format="json")
    assert response.status_code == 409, response.json()
    assert response.json()["identical"] is True and response.json()["index"] == 1
    assert _count(case) == before
