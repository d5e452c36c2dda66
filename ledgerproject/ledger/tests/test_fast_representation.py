"""The kernel's row representation against DRF's, field by field, for every ledger serializer on stored rows."""

import pytest
from django.test import override_settings
from rest_framework import serializers

from ledgerproject.ledger import fast_batch
from ledgerproject.ledger.api import plain_rows
from ledgerproject.ledger.management.commands.load_demo import demo_modules
from ledgerproject.ledger.registry import ledger_models
from ledgerproject.ledger.serializers import LedgerSerializer


def ledger_serializers():
    """Every concrete LedgerSerializer subclass the project defines (a new one is compared when it is added)."""
    from django.urls import get_resolver

    assert get_resolver().url_patterns  # imports every app's API, hence its serializers
    found, stack = [], list(LedgerSerializer.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        meta = getattr(cls, "Meta", None)
        if meta is not None and getattr(meta, "model", None) in ledger_models():
            found.append(cls)
    return sorted(set(found), key=lambda cls: cls.__qualname__)


def _outcome(represent, *args):
    try:
        return ("ok", represent(*args))
    except Exception as exc:  # noqa: BLE001 - a serializer whose fields are not columns (it overrides this)
        return ("raises", type(exc).__name__)


@pytest.fixture
def demo(db, tmp_path):
    with override_settings(MEDIA_ROOT=str(tmp_path)):
        for _app, module in demo_modules():
            module.load(seed=20261121)
        yield


@pytest.mark.django_db
def test_it_represents_every_stored_row_as_drf_does(demo, rf, alice):
    request = rf.get("/")
    request.user = alice
    compared = {}
    for cls in ledger_serializers():
        model = cls.Meta.model
        serializer = cls(context={"request": request})
        fast = fast_batch.representer(serializer)
        rows = list(model._base_manager.order_by("seq")[:200])
        if not rows:
            continue
        # Model instances, and the plain rows exports hand a serializer that reads only columns.
        sources = [rows]
        if getattr(serializer, "reads_plain_rows", False):
            sources.append(list(plain_rows(model._base_manager.order_by("seq")[:200], serializer)))
        for source in sources:
            for row in source:
                drf = _outcome(serializers.Serializer.to_representation, serializer, row)
                assert _outcome(fast, row) == drf, (cls, row.seq)
        compared[cls.__name__] = len(rows)
    assert {"LogRecordSerializer", "OutputSerializer", "RunEventSerializer"} <= set(compared)


def test_it_reads_a_plain_field_directly_and_hands_other_values_to_the_field():
    class Row:
        name, count, flag, data = "x", 3, True, {"a": [1]}
        ledger_block = {"seq": 1, "recorded_at": "t", "recorded_by": "", "prev_entry_hash": "0", "entry_hash": "1"}

    class Odd(Row):
        name, count, flag, data = 5, "7", 1, None

    class RowSerializer(serializers.Serializer):
        name = serializers.CharField()
        count = serializers.IntegerField()
        flag = serializers.BooleanField()
        data = serializers.JSONField()
        ledger = LedgerSerializer._declared_fields["ledger"].__class__(source="ledger_block")

    serializer = RowSerializer()
    represent = fast_batch.representer(serializer)
    for row in (Row(), Odd()):
        assert represent(row) == serializers.Serializer.to_representation(serializer, row)
    assert represent(Odd())["name"] == "5" and represent(Odd())["count"] == 7 and represent(Odd())["flag"] is True


def test_it_writes_method_fields_nested_rows_datetimes_and_uuids_as_drf_does():
    import datetime
    import uuid
    import zoneinfo

    from django.utils import timezone

    class Restored:
        def __init__(self, seq):
            self.seq, self.label = seq, f"v{seq}"

    class Row:
        def __init__(self, at, restored, ident):
            self.at, self.restored, self.ident, self.name = at, restored, ident, "ü"
            self.ledger_block = {
                "seq": 1,
                "recorded_at": "t",
                "recorded_by": "",
                "prev_entry_hash": "0",
                "entry_hash": "1",
            }

    class RestoredSerializer(serializers.Serializer):
        seq = serializers.IntegerField()
        label = serializers.SerializerMethodField()

        def get_label(self, obj):
            return obj.label.upper()

    class SameSerializer(serializers.Serializer):
        name = serializers.CharField()
        at = serializers.DateTimeField()

    class RowSerializer(serializers.Serializer):
        at = serializers.DateTimeField()
        ident = serializers.UUIDField()
        restored = RestoredSerializer(allow_null=True)
        same = SameSerializer(source="*")
        shout = serializers.SerializerMethodField()
        kind = serializers.ChoiceField(choices=[(1, "one"), ("a", "A"), ("", "none")])
        ledger = LedgerSerializer._declared_fields["ledger"].__class__(source="ledger_block")

        def get_shout(self, obj):
            return obj.name * 2

    kolkata = zoneinfo.ZoneInfo("Asia/Kolkata")
    moments = [
        datetime.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.UTC),
        datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=-8))),
        datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=kolkata),
        datetime.datetime(2026, 1, 2, 3, 4, 5),  # naive: DRF makes it aware in the active zone
        "2026-01-02T03:04:05Z",  # text: DRF writes it as it is
        None,
    ]
    rows = [Row(at, Restored(i) if i % 2 else None, uuid.UUID(int=i)) for i, at in enumerate(moments)]
    for row, kind in zip(rows, ["1", "a", "", "unknown", 1, None], strict=True):
        row.kind = kind  # a choice's text, a choice, "", no choice, a non-text value, null
    for zone in (datetime.UTC, kolkata):
        with timezone.override(zone):
            serializer = RowSerializer()
            represent = fast_batch.representer(serializer)
            for row in rows:
                assert represent(row) == serializers.Serializer.to_representation(serializer, row), (zone, row.at)
    with timezone.override(kolkata):
        assert fast_batch.representer(RowSerializer())(rows[0])["at"] == "2026-01-02T08:34:05.123456+05:30"


@pytest.mark.parametrize(
    "rest_framework",
    [{"DATETIME_FORMAT": "%Y-%m-%d %H:%M"}, {"DATETIME_FORMAT": None}],
    ids=["another format", "datetime objects"],
)
def test_a_method_fields_time_follows_a_datetime_format_other_than_iso_8601(rest_framework):
    import datetime

    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    with override_settings(REST_FRAMEWORK=rest_framework):
        assert LedgerSerializer().datetime_text(moment) == serializers.DateTimeField().to_representation(moment)


@pytest.mark.parametrize(
    "text",
    [
        "123456789012345678901234567890",
        "-9223372036854775809",
        '{"n": [18446744073709551616]}',
        '{"id": 1.5}',
        '{"a": {"b": [1, {"c": [2.5, -18446744073709551617]}]}, "d": "x"}',
        "[[[[99999999999999999999]]]]",
        '{"edge": [-9223372036854775808, 18446744073709551615, 1e19, -1e19, 9.3e18]}',
        '"12345678901234567890123 inside a string"',
        "1e19",
        '{"é": 12345678901234567890, "ü": "ß"}',
    ],
)
def test_json_columns_read_long_integers_exactly_as_the_fields_decoder_does(text):
    # orjson reads an integer beyond 64 bits as a float; pages, exports and COPY reads must not.
    import json

    from django.db.models import JSONField

    from ledgerproject.ledger.chain import _json_loader

    load = _json_loader(JSONField())
    assert load(text, None, None) == json.loads(text)
    assert load.parse_text(text) == json.loads(text)
    assert repr(load.parse_text(text)) == repr(json.loads(text))


def test_it_writes_a_nested_mapping_through_its_fields_as_drf_does():
    """A nested serializer's dict value (the ledger block is one) is read key by key, each value written by its field."""

    class InnerSerializer(serializers.Serializer):
        count = serializers.IntegerField()
        name = serializers.CharField()
        note = serializers.CharField(required=False)  # absent from the dict: left out, as DRF leaves it
        data = serializers.JSONField()

    class RowSerializer(serializers.Serializer):
        inner = InnerSerializer()
        same = InnerSerializer(source="*")

    class Row:
        inner = {"count": "7", "name": 5, "data": {"a": [1]}}
        count, name, data = 3, "x", None

    serializer = RowSerializer()
    represent = fast_batch.representer(serializer)
    expected = serializers.Serializer.to_representation(serializer, Row())
    assert represent(Row()) == expected
    assert expected["inner"] == {"count": 7, "name": "5", "data": {"a": [1]}}
    assert expected["same"] == {"count": 3, "name": "x", "data": None}


def test_rows_sharing_a_time_or_an_id_are_written_as_drf_writes_each_of_them():
    """The representer remembers the text of the last datetime and UUID object it wrote (a batch's rows share
    one): a repeated object, an equal but distinct one, and the wall time a clock turns back over twice (equal by
    Python's rules, an hour apart) are each written as DRF writes them."""
    import datetime
    import uuid
    import zoneinfo

    paris = zoneinfo.ZoneInfo("Europe/Paris")
    first = datetime.datetime(2026, 10, 25, 2, 30, tzinfo=paris)
    second = first.replace(fold=1)
    assert first == second
    shared_id = uuid.UUID(int=5)

    class Row:
        def __init__(self, at, ident):
            self.at, self.ident = at, ident

    class RowSerializer(serializers.Serializer):
        at = serializers.DateTimeField()
        ident = serializers.UUIDField()

    moments = [first, first, second, second, first, datetime.datetime(2026, 10, 25, 2, 30, tzinfo=paris), None, first]
    idents = [shared_id, shared_id, uuid.UUID(int=5), uuid.UUID(int=6), shared_id, shared_id, None, uuid.UUID(int=6)]
    rows = [Row(at, ident) for at, ident in zip(moments, idents, strict=True)]
    serializer = RowSerializer()
    represent = fast_batch.representer(serializer)
    written = [represent(row) for row in rows]
    assert written == [serializers.Serializer.to_representation(serializer, row) for row in rows]
    assert written[0]["at"] != written[2]["at"]  # the two instants of one wall time stay apart
