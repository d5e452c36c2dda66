"""The array fast path against the framework's path, for every ledger whose list route takes arrays: same rows, same answers."""

import copy
import datetime
import itertools
import uuid

import pytest
from django.db import transaction
from django.urls import get_resolver
from django.utils import timezone
from rest_framework import serializers

from ledgerproject.ledger import clock, compiled_checks, fast_batch
from ledgerproject.ledger.access import iter_routes
from ledgerproject.ledger.api import AppendMixin
from ledgerproject.ledger.registry import ledger_models


def batch_views():
    """Every API view whose list route takes arrays: a `…/batch/` route, or an AppendMixin view that is not a
    viewset (its POST is the append path's), found from the URL map."""
    for _route, pattern, _admin in iter_routes(get_resolver().url_patterns):
        cls = getattr(pattern.callback, "cls", None)
        if cls is None or not issubclass(cls, AppendMixin):
            continue
        actions = getattr(pattern.callback, "actions", None)
        if actions is None or actions.get("post") == "batch":
            yield cls


def model_serializer(model):
    """An item serializer of the array route that appends `model` (as the view builds it, without a request)."""
    for cls in batch_views():
        if cls.serializer_class.Meta.model is model:
            return cls.serializer_class(many=True, context={}).child
    raise LookupError(model)


def batch_ledgers():
    """{ledger name: model} of every registered ledger whose API takes arrays (batch_views)."""
    found = {}
    for cls in batch_views():
        model = cls.serializer_class.Meta.model
        found[model.ledger_name] = model
    assert set(found.values()) <= set(ledger_models())
    return found


D1, D2 = "ab" * 32, "CD" * 32
FINAL = {"type": "final", "content": {"kind": "inline", "value": "answer"}, "ok": True}
MOMENTS = ("2026-01-21T12:00:00Z", "2026-01-21T12:00:00+02:00", "2026-01-21T12:00:00.123456Z")


def enhance(i, **overrides):
    entry = {
        "issue_id": f"e-{i}",
        "blueprint_id": f"bp-{i % 3}",
        "prev_hash": D1,
        "new_hash": D1,
        "intent": "naïve ✓ 𝄞",
        "rationale": "why",
        "verdicts": [{"axis": "des", "status": "pass", "detail": "ok"}],
        "status": "applied",
        "reasons": [],
        "ts_ms": 100 + i,
    }
    entry.update(overrides)
    return entry


def rejected(i, **overrides):
    fields = {
        "status": "rejected",
        "new_hash": "",
        "verdicts": [
            {"axis": "des", "status": "deny", "detail": "no"},
            {"axis": "noop", "status": "pass", "detail": ""},
        ],
        "reasons": ["des: missing"],
    }
    return enhance(i, **{**fields, **overrides})


def enhance_arrays(world):
    minimal = {k: v for k, v in enhance(90).items() if k not in ("intent", "rationale", "verdicts", "reasons")}
    return "/api/v1/enhances/", [
        [enhance(1), rejected(2), enhance(3, tenant_id="acme")],
        [enhance(4, prev_hash=D2, new_hash=D2.lower()), minimal, enhance(5, tenant_id=None)],
        [enhance(6, issue_id="  spaced  ", blueprint_id=" bp "), enhance(7, ts_ms="77")],
        [enhance(8, ts_ms=1.0), enhance(9, ts_ms=True)],
        [enhance(10), enhance(11, sneaky=1)],
        [enhance(12), enhance(12)],
        [enhance(13), enhance(14, status="maybe")],
        [enhance(15), enhance(16, blueprint_id="b" * 257)],
        [enhance(17), enhance(18, intent="nul\x00")],
        [enhance(19), enhance(20, ts_ms=-1)],
        [enhance(21), rejected(22, reasons=[], verdicts=[])],
        [enhance(23), enhance(24, issue_id="a/b")],
        [enhance(25), enhance(26, verdicts=[{"axis": "des", "status": "pass"}])],
        [enhance(27), enhance(28, verdicts=[{"axis": "des", "status": "pass", "detail": "x", "more": 1}])],
        [enhance(29), enhance(30, tenant_id="")],
        [enhance(31), enhance(32, ts_ms=2**63)],
        [enhance(33), "not an object"],
        [enhance(34), enhance(35, reasons=["  "])],
        [enhance(36), world["stored_enhance"]],
        [enhance(37), {**world["stored_enhance"], "intent": "changed"}],
        [enhance(38), enhance(39, new_hash="")],
        [enhance(40), enhance(41, verdicts=None)],
        [enhance(i) for i in range(100, 160)],
    ]


def experience_arrays(world):
    from experience.tests.conftest import VALID

    def event(i, kind="OutcomeRecorded", **overrides):
        body = {
            "event_id": f"ev-{i}",
            "occurred_at": MOMENTS[i % 3],
            "tenant_id": "acme",
            "correlation_id": f"run-{i % 2}",
            "event": {"type": kind, "data": copy.deepcopy(VALID[kind])},
        }
        body.update(overrides)
        return body

    kinds = sorted(VALID)
    return "/api/v1/events/", [
        [event(i, kind) for i, kind in enumerate(kinds)],
        [event(50, tenant_id=None, correlation_id=None), event(51)],
        [event(52), event(53, occurred_at="2026-01-21T12:00:00")],
        [event(54), event(55, event={"type": "Nope", "data": {}})],
        [event(56), event(56)],
        [event(57), event(58, event_id="a/b")],
        [event(59), {**event(60), "extra": 1}],
        [event(61), event(62, occurred_at=5)],
        [event(63), event(64, event={"type": "OutcomeRecorded", "data": {**VALID["OutcomeRecorded"], "tokens": "1"}})],
    ]


def run_event_arrays(world):
    def event(i, **overrides):
        body = {"kind": "tool_called", "payload": {"step": i, "args": ["x", i]}, "timestamp": MOMENTS[i % 3]}
        body.update(overrides)
        return body

    return f"/api/v1/runs/{world['run_id']}/events/", [
        [event(1), event(2), event(3)],
        [event(4, seq=10), event(5), event(6, seq=11)],
        [event(7, timestamp=None), {"kind": "bare"}, event(8, payload={"blob": D1})],
        [event(9, timestamp="2026-01-21 12:00"), event(10, timestamp="not a time")],
        [event(11, seq=3), event(12, seq=3)],
        [event(13), event(14, seq=0)],
        [event(15), event(16, kind="   ")],
        [event(17), event(18, seq="5")],
        [event(19), event(20, payload="text")],
        [event(21), event(22, kind="k" * 257)],
        [event(23), event(24, seq=1)],
        [event(i) for i in range(100, 150)],
    ]


def log_arrays(world):
    def record(i, **overrides):
        body = {
            "seq": i,
            "ts_ms": 1_760_000_000_000 + i,
            "level": ("Info", "Warn", "Error", "Debug", "Trace")[i % 5],
            "daemon_id": 7,
            "node_id": 42,
            "message": f"step {i} ✓",
            "chain_pending": False,
        }
        body.update(overrides)
        return body

    return "/api/v1/logs/", [
        [record(1), record(2), record(3, tenant_id="acme")],
        [record(4, daemon_id=None), record(5, chain_pending="true"), record(6, message="")],
        [record(7), record(7)],
        [record(8), record(9, level="Loud")],
        [record(10), record(11, node_id=-1)],
        [record(12), record(13, message="x" * 100_000)],
        [record(14), record(15, seq=0)],
        [record(16), record(17, ts_ms="18")],
        [record(19), world["stored_log"]],
        [record(i, node_id=43) for i in range(1, 60)],
    ]


def output_arrays(world):
    def output(i, **overrides):
        body = {
            "task_id": f"task-{i % 2}",
            "attempt": 1,
            "producer_agent": "agent",
            "event": {**FINAL, "content": {"kind": "inline", "value": f"answer {i}"}},
            "parent_refs": [],
        }
        body.update(overrides)
        return body

    return "/api/v1/outputs/", [
        [output(1), output(2, tenant_id="acme"), output(3, parent_refs=[world["stored_output"]])],
        [output(4), output(5, attempt=2**32)],
        [output(6), output(7, event={"type": "final"})],
        [output(8), output(9, parent_refs=["out-missing"])],
        [output(10), output(11, parent_refs=[world["stored_output"], world["stored_output"]])],
        [output(12), output(13, attempt=-1)],
        [output(i) for i in range(100, 140)],
    ]


def run_arrays(world):
    def run(i, **overrides):
        body = {
            "spec_digest": D1,
            "metadata": {"agent_name": f"agent-{i}", "git_sha": "abc", "tags": {"k": i}},
            "created_at": "2026-01-21T12:00:00Z",
        }
        body.update(overrides)
        return body

    return "/api/v1/runs/", [
        [run(1), run(2, tenant_id="acme"), run(3, spec_digest=D2)],
        [run(4), run(5, metadata={"agent_name": "x"})],
        [run(6), run(7, metadata={})],
        [run(8), run(9, spec_digest="zz")],
        [run(10), run(11, created_at="yesterday")],
    ]


def review_arrays(world):
    url = f"/api/v1/enhances/{world['rejected_issue']}/reviews/"
    return url, [
        [{"decision": "acknowledged", "comment": "seen"}, {"decision": "wont_fix"}],
        [{"decision": "acknowledged"}, {"decision": "shrug"}],
        [{"decision": "acknowledged"}, {"decision": "acknowledged", "reviewer": "me"}],
    ]


def note_arrays(world):
    def note(i, **overrides):
        return {"key": f"n-{i}", "topic": "t", "body": {"i": i, "x": [1, "two", None]}, "count": i, **overrides}

    return "/api/v1/notes/", [
        [note(1), note(2, tenant_id="acme"), {"key": "n-3"}],
        [note(4), note(5, count=-1)],
        [note(6), note(7, count="8")],
        [note(9), note(9)],
        [note(10), note(11, key="k" * 65)],
        [note(12), note(13, body=[1, 2])],
    ]


ARRAYS = {
    "testnotes": note_arrays,
    "enhancelog": enhance_arrays,
    "experience": experience_arrays,
    "run_events": run_event_arrays,
    "logchain": log_arrays,
    "outputs": output_arrays,
    "runs": run_arrays,
    "enhancelog-reviews": review_arrays,
}


def test_every_ledger_that_takes_arrays_is_compared():
    # A new ledger whose route takes arrays fails here until its awkward arrays are added above.
    assert set(batch_ledgers()) == set(ARRAYS)


@pytest.fixture
def world(root_api):
    return stored_world(root_api)


def stored_world(root_api):
    """Stored entries the arrays refer to (a run, a rejected entry, an output, a log record)."""
    response = root_api.post("/api/v1/runs/", {"spec_digest": D1, "metadata": {"agent_name": "a"}}, format="json")
    assert response.status_code == 201, response.content
    stored_enhance = enhance(999)
    stored_log = {"seq": 1000, "ts_ms": 5, "level": "Info", "node_id": 42, "message": "stored"}
    for url, body in (
        ("/api/v1/enhances/", [stored_enhance, rejected(998)]),
        ("/api/v1/logs/", stored_log),
        ("/api/v1/outputs/", {"task_id": "t", "attempt": 1, "producer_agent": "p", "event": FINAL}),
    ):
        stored = root_api.post(url, body, format="json")
        assert stored.status_code == 201, stored.content
    return {
        "run_id": response.json()["run_id"],
        "stored_enhance": stored_enhance,
        "rejected_issue": "e-998",
        "stored_log": stored_log,
        "stored_output": stored.json()["id"],
    }


def _outcome(api, url, array, model, moment, monkeypatch, fast):
    """(status, body, stored rows) of POSTing `array`, rolled back afterwards; minted ids numbered from 1."""
    numbers = itertools.count(1)
    monkeypatch.setattr("runs.models.mint_output_id", lambda: f"out-{next(numbers):020x}")
    monkeypatch.setattr(
        "runs.serializers.uuid", type("U", (), {"uuid4": staticmethod(lambda: uuid.UUID(int=next(numbers)))})
    )
    used, compiled = [], []
    if fast:
        real = fast_batch.validate_items

        def spy(child, items, parsed=False):
            result = real(child, items, parsed=parsed)
            used.append(result is not None)
            return result

        monkeypatch.setattr(fast_batch, "validate_items", spy)
        real_compiled = compiled_checks.validated

        def compiled_spy(validator, items):
            result = real_compiled(validator, items)
            compiled.append(result is not None)
            return result

        monkeypatch.setattr(compiled_checks, "validated", compiled_spy)
    else:
        monkeypatch.setattr(fast_batch, "validate_items", lambda child, items, parsed=False: None)
        monkeypatch.setattr(fast_batch, "row_plan", lambda model: None)
        monkeypatch.setattr(
            fast_batch, "representer", lambda s: lambda instance: serializers.Serializer.to_representation(s, instance)
        )
    try:
        with transaction.atomic(), clock.backdated(moment):
            before = model._base_manager.order_by("-seq").values_list("seq", flat=True).first() or 0
            response = api.post(url, array, format="json")
            rows = list(model._base_manager.filter(seq__gt=before).order_by("seq").values())
            transaction.set_rollback(True)
    finally:
        monkeypatch.undo()
    return (response.status_code, response.json(), rows), (used, compiled)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_its_fast_path_stores_the_same_rows_as_drfs_or_both_refuse(name, root_api, world, monkeypatch):
    model = batch_ledgers()[name]
    url, arrays = ARRAYS[name](world)
    moment = timezone.now()
    took_fast = took_compiled = 0
    for array in arrays:
        fast, (used, compiled) = _outcome(root_api, url, array, model, moment, monkeypatch, fast=True)
        slow, _ = _outcome(root_api, url, array, model, moment, monkeypatch, fast=False)
        assert fast == slow, array
        if fast[0] == 201:
            assert fast[2] and len(fast[2]) == len(array)
            took_fast += all(used) and bool(used)
            took_compiled += all(compiled) and bool(compiled)
    # The comparison is not vacuous: the valid arrays were validated by the fast path, and by the compiled field
    # checks wherever the ledger's serializer has fields they describe.
    assert took_fast >= 1
    if compiled_checks.object_spec(model_serializer(model), top=True) is not None:
        assert took_compiled >= 1


VALUES = [
    *("", " ", "  x  ", "x", "a" * 64, "a" * 65, "a" * 257, "7", "-3", "\x00", "ok\x00", "naïve ✓ 𝄞"),
    *("applied", "rejected", "Info", "Loud", "2026-01-21T12:00:00Z", "2026-01-21 12:00", "not a time", D1),
    *(0, -1, 1, 2**31, 2**32, 2**53 - 1, 2**53, 2**63, -(2**63) - 1, 1.0, 1.5, True, False, None),
    *([], {}, ["x"], {"a": 1}, [1, "two", None], timezone.now(), uuid.UUID(int=7)),
    *(float("nan"), {1: "x"}, {"a": {"b": [1, 2**70]}}, [{"axis": "des", "status": "pass", "detail": ""}]),
    *(datetime.datetime(2026, 1, 21, 12), ("x",), {"x"}),
]


def _one_stored(name, root_api, world):
    """(model, its newest entry) after the ledger's first valid array went through the API: real values of
    every content field to vary one at a time."""
    model = batch_ledgers()[name]
    url, arrays = ARRAYS[name](world)
    assert root_api.post(url, arrays[0], format="json").status_code == 201
    return model, model._base_manager.order_by("-seq").first()


def _cleaned(entry, clean):
    try:
        clean(entry)
    except Exception as exc:  # noqa: BLE001 - the outcome compared: class and message
        return ("refused", type(exc).__name__, getattr(exc, "message_dict", str(exc)))
    return ("ok", {name: repr(value) for name, value in entry.__dict__.items() if name != "_state"})


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_its_model_checks_answer_as_full_clean_for_every_content_field(name, root_api, world):
    from ledgerproject.ledger.models.entries import KERNEL_FIELDS

    model, stored = _one_stored(name, root_api, world)
    base = {field.attname: getattr(stored, field.attname) for field in model.content_fields()}
    plan = fast_batch.row_plan(model)
    exclude = set(KERNEL_FIELDS)
    compared = 0
    for field in model.content_fields():
        for value in VALUES:
            fields = {**base, field.attname: value}
            django = _cleaned(
                model(**fields),
                lambda e: e.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False),
            )
            fast = _cleaned(plan.build(fields), lambda e: plan.clean(e, exclude))
            assert fast == django, (field.name, value)
            compared += django[0] == "ok"
    assert compared  # some values pass, so the accepted path itself is compared


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_its_cheap_construction_builds_what_model_init_builds(name, root_api, world):
    model, stored = _one_stored(name, root_api, world)
    fields = {field.name: getattr(stored, field.name) for field in model.content_fields()}
    plan = fast_batch.row_plan(model)
    for subset in (fields, dict(list(fields.items())[:2]), {}):
        built, django = plan.build(subset), model(**subset)
        # Defaults a field mints per call (ULIDs, UUIDs) differ between two calls: compare the rest.
        minted = {f.attname for f in model._meta.concrete_fields if callable(f.default) and f.name not in subset}
        assert {k: v for k, v in vars(built).items() if k not in ("_state", *minted)} == {
            k: v for k, v in vars(django).items() if k not in ("_state", *minted)
        }
        assert (built._state.adding, built._state.db) == (django._state.adding, django._state.db)
        assert set(vars(built)) == set(vars(django))


def test_its_json_and_datetime_columns_are_checked_without_calling_their_clean():
    # Checked inline (then compared with full_clean above), not through JSONField.clean's json.dumps.
    from enhancelog.models import EnhanceEntry
    from runs.models import RunEvent

    for model, names in ((EnhanceEntry, {"verdicts", "reasons"}), (RunEvent, {"payload", "timestamp"})):
        checks = {name: check for name, _attname, _field, check in fast_batch.row_plan(model).checks}
        assert all(checks[name] is not None for name in names), model


@pytest.mark.django_db
def test_its_construction_reads_a_constant_default_once_and_calls_a_minting_one_per_entry():
    from enhancelog.models import EnhanceEntry
    from experience.models import ExperienceEvent
    from logchain.models import LogRecord

    field = LogRecord._meta.get_field
    assert fast_batch._constant_default(field("chain_pending")) is False
    assert fast_batch._constant_default(field("daemon_id")) is None  # no default: None, the same each call
    assert fast_batch._constant_default(EnhanceEntry._meta.get_field("verdicts")) is fast_batch._PER_CALL
    # A foreign key without a default (every ledger's recorded_by) gives None on every call: read once too.
    recorded_by = EnhanceEntry._meta.get_field("recorded_by")
    assert fast_batch._constant_default(recorded_by) is None
    assert "recorded_by_id" in fast_batch.row_plan(EnhanceEntry).constant_defaults
    first, second = fast_batch.row_plan(EnhanceEntry).build({}), fast_batch.row_plan(EnhanceEntry).build({})
    assert first.verdicts == [] and first.verdicts is not second.verdicts  # default=list: one list per entry
    plan = fast_batch.row_plan(ExperienceEvent)
    assert plan.build({}).event_id != plan.build({}).event_id  # minted per entry
