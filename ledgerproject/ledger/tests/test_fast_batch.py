"""The fast per-item path of arrays: cheaper checks with the same answers (issue #12, batches)."""

import collections
import datetime
import decimal
import uuid

import pytest
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.fields import SkipField, empty
from rest_framework.serializers import BaseSerializer
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from enhancelog.models import EnhanceEntry
from enhancelog.serializers import EnhanceEntrySerializer
from enhancelog.tests.conftest import entry_json
from experience.serializers import ExperienceEventSerializer
from ledgerproject.ledger.api import item_errors
from ledgerproject.ledger.serializers import FastSurrogateValidator, StrictSerializer
from logchain.serializers import LogRecordSerializer
from runs.serializers import OutputSerializer, RunEventSerializer

URL = "/api/v1/enhances/"


def _string_checks(serializer):
    """Every validator of every field (nested serializers and list children included)."""
    found = []
    for field in serializer.fields.values():
        if field.read_only:  # never validated
            continue
        child = getattr(field, "child", None)
        for one in (field, child):
            if one is None:
                continue
            if isinstance(one, BaseSerializer):
                if one is child or not hasattr(one, "child"):
                    found.extend(_string_checks(one))
                continue
            found.extend(one.validators)
    return found


BATCH_SERIALIZERS = [
    EnhanceEntrySerializer,
    ExperienceEventSerializer,
    RunEventSerializer,
    LogRecordSerializer,
    OutputSerializer,
]
SIMPLE = (serializers.CharField, serializers.IntegerField, serializers.ChoiceField)
SAMPLES = [
    *("", " ", "  x  ", "x", "a" * 64, "a" * 65, "7", "-3", "x" * 5000, "\x00", "ok\x00", "\ud800", "ok\udfff"),
    *("pass", "deny", "applied", "rejected", "info", "error", "started", "naïve ✓ 𝄞"),
    *(0, -1, 1, 64, 2**53 - 1, 2**53, 2**63, 2**70, -(2**70)),
    *(1.0, 1.5, True, False, None, empty, [], {}, ["x"], {"a": 1}),
]


def _simple_fields(serializer):
    """The writable string, integer and choice fields of a serializer, nested ones included."""
    found = []
    for field in serializer.fields.values():
        if field.read_only:
            continue
        for one in (field, getattr(field, "child", None)):
            if isinstance(one, BaseSerializer):
                if not hasattr(one, "child"):
                    found.extend(_simple_fields(one))
            elif type(one) in SIMPLE:
                found.append(one)
    return found


def _outcome(run, value):
    try:
        return ("ok", run(value))
    except SkipField:
        return ("skip",)
    except ValidationError as exc:
        return ("error", exc.detail)


# Experience's fields are its own CharField subclasses and a pydantic payload: DRF validates them.
@pytest.mark.parametrize("serializer_class", [s for s in BATCH_SERIALIZERS if s is not ExperienceEventSerializer])
def test_its_one_call_field_validation_answers_exactly_as_drf(serializer_class):
    fields = _simple_fields(serializer_class())
    assert fields
    for field in fields:
        # Installed on the instance: what the serializer calls for each item.
        assert "run_validation" in vars(field), field.field_name
        drf = type(field).run_validation.__get__(field)
        for sample in SAMPLES:
            assert _outcome(field.run_validation, sample) == _outcome(drf, sample), (field.field_name, sample)


@pytest.mark.parametrize("serializer_class", BATCH_SERIALIZERS)
def test_it_checks_strings_for_surrogates_without_walking_each_character(serializer_class):
    checks = _string_checks(serializer_class())
    assert any(isinstance(check, ProhibitSurrogateCharactersValidator) for check in checks)
    # DRF's own walks every character in Python: a fifth of a batch's validation.
    assert not [check for check in checks if type(check) is ProhibitSurrogateCharactersValidator]


def test_its_surrogate_check_gives_drfs_message_and_passes_other_text():
    for text in ("plain", "naïve café ✓ 𝄞", "", 42):
        FastSurrogateValidator()(text)
    for text, point in (("a\ud800b", "D800"), ("\udfff", "DFFF"), ("ok \udc00 \ud800", "DC00")):
        with pytest.raises(ValidationError) as refused:
            FastSurrogateValidator()(text)
        # DRF's words and code, naming the first surrogate (what clients of form bodies see).
        assert refused.value.detail == [f"Surrogate characters are not allowed: U+{point}."]
        assert refused.value.get_codes() == ["surrogate_characters_not_allowed"]


@pytest.mark.django_db
def test_it_refuses_a_batch_with_a_lone_surrogate_naming_the_item_and_storing_nothing(writer_api):
    import json

    items = [entry_json("s0"), entry_json("s1", intent="\ud800")]
    body = json.dumps(items)  # \ud800 escapes: refused by the parser, before any field is validated
    response = writer_api.generic("POST", URL, body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert "1.intent" in response.json()["detail"]
    assert not EnhanceEntry.objects.exists()


@pytest.mark.django_db
def test_it_still_appends_a_batch_of_ordinary_text_with_the_fast_checks(writer_api):
    items = [entry_json(f"t{i}", intent="naïve café ✓ 𝄞") for i in range(3)]
    response = writer_api.post(URL, items, format="json")
    assert response.status_code == 201, response.content[:300]
    assert [e.intent for e in EnhanceEntry.objects.order_by("seq")] == ["naïve café ✓ 𝄞"] * 3


def test_it_reads_the_accepted_body_keys_once_per_array_not_per_item(monkeypatch):
    calls = []
    original = EnhanceEntrySerializer.accepted_fields

    def counting(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(EnhanceEntrySerializer, "accepted_fields", counting)
    items = [{**entry_json(f"k{i}"), "sneaky": i} for i in range(50)]
    serializer = EnhanceEntrySerializer(data=items, many=True)
    assert not serializer.is_valid()
    # Still named per item, with the same message listing what the body takes.
    refused = item_errors(serializer.errors)
    assert [index for index, _ in refused] == list(range(50))
    assert all(errors["sneaky"][0].startswith("Unknown field; this body takes issue_id") for _, errors in refused)
    assert len(calls) == 1


def test_it_lists_the_writable_fields_once_per_serializer_not_per_item():
    serializer = EnhanceEntrySerializer()
    first = serializer._writable_fields
    assert first is serializer._writable_fields
    assert [field.field_name for field in first] == [
        name for name, field in serializer.fields.items() if not field.read_only
    ]
    assert "ledger" not in [field.field_name for field in first]


class _Timed(StrictSerializer):
    at = serializers.DateTimeField(required=False, allow_null=True)


def _calls_of(monkeypatch, method):
    """The values DRF's DateTimeField.`method` is called with from now on (it still answers as it does)."""
    calls = []
    real = getattr(serializers.DateTimeField, method)

    def counting(self, value):
        calls.append(value)
        return real(self, value)

    monkeypatch.setattr(serializers.DateTimeField, method, counting)
    return calls


def test_an_arrays_timestamps_are_parsed_once_per_distinct_text_with_drfs_answers(monkeypatch):
    from django.utils import timezone

    from ledgerproject.ledger import fast_batch

    parsed = _calls_of(monkeypatch, "to_internal_value")
    texts = ["2026-01-21T12:00:00Z", "2026-01-21T12:00:00+02:00", "2026-01-21T12:00:00.123456Z", None]
    items = [{"at": texts[i % 4]} for i in range(40)]
    drf = [serializers.DateTimeField(allow_null=True).run_validation(item["at"]) for item in items]
    parsed.clear()
    with timezone.override("Europe/Paris"):  # the active zone of the array's request
        got = fast_batch.validate_items(_Timed(), items)
        expected = [{"at": serializers.DateTimeField(allow_null=True).run_validation(text)} for text in texts[:3]]
    assert [item["at"] for item in got] == [value for value in drf]
    assert (
        [str(item["at"].tzinfo) for item in got[:3]]
        == ["Europe/Paris"] * 3
        == [str(one["at"].tzinfo) for one in expected]
    )
    assert sorted(parsed[:3]) == sorted(texts[:3]) and len(parsed) == 3 + 3  # 3 for the array, 3 for `expected`
    # A text DRF refuses is refused every time (never remembered): the array goes to DRF's path.
    assert fast_batch.validate_items(_Timed(), [{"at": "not a time"}, {"at": "not a time"}]) is None


def test_an_answers_timestamps_are_written_without_drfs_per_value_path_as_drf_writes_them(monkeypatch):
    import datetime

    from django.utils import timezone

    from ledgerproject.ledger import fast_batch

    written = _calls_of(monkeypatch, "to_representation")

    class Row:
        def __init__(self, at):
            self.at = at

    moments = [
        datetime.datetime(2026, 1, 21, 12, tzinfo=datetime.UTC),
        datetime.datetime(2026, 1, 21, 14, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),  # same instant
        datetime.datetime(2026, 1, 21, 12, 0, 0, 5, tzinfo=datetime.UTC),
    ]
    rows = [Row(moments[i % 3]) for i in range(30)] + [Row(None)]
    with timezone.override("Europe/Paris"):
        represent = fast_batch.representer(_Timed())
        got = [represent(row) for row in rows]
        drf = [serializers.Serializer.to_representation(_Timed(), row) for row in rows]
    assert got == drf
    assert got[0] == {"at": "2026-01-21T13:00:00+01:00"}
    # The representer writes an aware datetime itself (the active zone read once); DRF's own path: every row.
    assert len(written) == 30


def test_an_answer_writes_the_two_instants_of_a_wall_time_the_clock_turns_back_over_apart():
    import datetime
    import zoneinfo

    from django.utils import timezone

    from ledgerproject.ledger import fast_batch

    class Row:
        def __init__(self, at):
            self.at = at

    first = datetime.datetime(2026, 10, 25, 2, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    rows = [Row(first), Row(first.replace(fold=1)), Row(first)]
    with timezone.override("UTC"):
        represent = fast_batch.representer(_Timed())
        got = [represent(row)["at"] for row in rows]
    assert got == ["2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-25T00:30:00Z"]


def nested(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ({"a": [1, "x", None, True, 1.5, {"b": []}]}, True),
        ({1: "a non-text key"}, False),
        ([float("nan")], False),
        ({"a": float("inf")}, False),
        ([2**64 + 1], False),
        ((1, 2), False),  # a tuple is not what a JSON parser gives
        (nested(50), True),
        (nested(150), False),  # deeper than _JSON_DEPTH: left to the framework
    ],
)
def test_plain_json_vouches_only_for_values_json_dumps_surely_takes(value, plain):
    from ledgerproject.ledger import fast_batch

    assert fast_batch.plain_json(value) is plain


def _hashed(content):
    from ledgerproject.ledger import hashing

    try:
        return hashing.canonical_json(content)
    except hashing.CanonicalizationError as exc:
        return ("refused", str(exc))


@pytest.mark.parametrize(
    "verdicts",
    [
        [{"axis": "des", "status": "pass", "detail": "plain JSON, as a body gives it"}],
        [],
        # What a Python caller of append_many() may hand over, which jsonable() converts before hashing:
        [{"axis": "des", "status": "pass", "detail": ("a", "tuple")}],
        [{"axis": "des", "status": "pass", "detail": uuid.UUID(int=7)}],
        [{"axis": "des", "status": "pass", "detail": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)}],
        [{"axis": "des", "status": "pass", "detail": {7: "a key that is not text"}}],
        [{"axis": "des", "status": "pass", "detail": decimal.Decimal("1.50")}],
        [{"axis": "des", "status": "pass", "detail": "\U0001d11e \ue000", "\ue000": 1, "\U0001d11e": 2}],
        [{"axis": "des", "status": "pass", "detail": 0.5}],
        # A lone surrogate beside values jsonable() converts: the same refusal, word for word.
        [{"axis": "des", "status": "pass", "detail": ("x\ud800",)}],
        [{"axis": "des", "status": "pass", "detail": {7: "\ud800"}}],
        [collections.OrderedDict(axis="des", status="pass", detail="x\ud800")],
        [{"axis": "des", "status": "pass", "detail": 2**60}],  # refused: beyond ±(2**53-1)
        [{"axis": "des", "status": "pass", "detail": float(2**60)}],  # refused: an inexact float
    ],
)
def test_an_arrays_content_hashes_as_ledger_content_whatever_its_json_columns_hold(verdicts):
    """The fast path hands a JSON column's list or object to canonical_json() as it is, without jsonable()'s
    copy: the canonical text (or the refusal) must be ledger_content()'s for every value jsonable() converts."""
    from ledgerproject.ledger import fast_batch

    plan = fast_batch.row_plan(EnhanceEntry)
    fields = {
        "issue_id": "i-1",
        "blueprint_id": "bp",
        "prev_hash": "a" * 64,
        "new_hash": "b" * 64,
        "verdicts": verdicts,
        "status": "applied",
        "reasons": ["r", ("tuple", "reason")],
        "ts_ms": 1,
    }
    fast, slow = plan.build(dict(fields)), EnhanceEntry(**fields)
    assert fast.__dict__.keys() - {"_state"} == slow.__dict__.keys() - {"_state"}
    assert {k: v for k, v in fast.__dict__.items() if k != "_state"} == {
        k: v for k, v in slow.__dict__.items() if k != "_state"
    }
    assert _hashed(plan.content(fast)) == _hashed(slow.ledger_content())
