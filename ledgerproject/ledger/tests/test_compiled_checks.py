"""The compiled field checks of arrays against the Python acceptors, value by value, for every batch ledger's fields."""

import sys

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from enhancelog.serializers import EnhanceEntrySerializer
from ledgerproject.ledger import compiled_checks, fast_batch
from ledgerproject.ledger.parsers import LedgerJSONParser
from ledgerproject.ledger.serializers import StrictBodyMixin
from ledgerproject.ledger.tests.test_fast_batch_equivalence import (
    ARRAYS,
    VALUES,
    batch_ledgers,
    enhance,
    model_serializer,
    world,  # noqa: F401 - the fixture the arrays refer to
)

MISSING = object()
REFUSED = object()

# Beyond the equivalence test's values: what str.strip() removes and pydantic-core's own stripping would not
# (\x1c–\x1f, \x85), what neither removes (U+200B), lone surrogates, and the integer acceptor's bounds.
MORE_VALUES = [
    *("\x1cx", "x\x1f", "\x85x", "x\u3000", "\u3000", "\u200bx", "x\u200b", "\t", "a\nb", " a b ", "\ud800", "x\udfff"),
    *("a" * 256, "a" * 4096, "pass", "deny", "Pass", "applied ", "true"),
    *(2**64, 2**64 + 1, -(2**64), -(2**64) - 1, 9007199254740991, 9007199254740992, 4294967295, 4294967296),
    *([""], ["  "], [" x"], ["x", 1], [None], ["a" * 65], ["a" * 64], [["x"]], ("x", "y")),
    *([{"axis": "des", "status": "deny", "detail": " why "}], [{"axis": " des", "status": "pass", "detail": ""}]),
    *([{"axis": "des", "status": "pass", "detail": None}], [{"axis": "des", "status": "pass"}], [None], [[]]),
]


def same(a, b):
    """Equal, of the same exact types, in the same key order, all the way down."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(same(a[key], b[key]) for key in a)
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def python_fields(child, item):
    """The fields' validated data as the Python acceptors (and DRF, for what they hand on) give it, or REFUSED."""
    try:
        return fast_batch._run_fields(fast_batch._field_plan(child), item, {}, child.set_value)
    except Exception:  # noqa: BLE001 - any refusal
        return REFUSED


def changed(mapping, key, value):
    """A copy of `mapping` with `key` set to `value`, or left out (MISSING)."""
    copy = dict(mapping)
    if value is MISSING:
        copy.pop(key, None)
    else:
        copy[key] = value
    return copy


def variations(base, spec):
    """(item, what was varied) with one field (or one member of a nested object) changed or left out: a field the
    checks compile, or one they leave to Python (its value passes through them, and must land in its place)."""
    for _key, name, field in spec:
        for value in (MISSING, *VALUES, *MORE_VALUES):
            yield changed(base, name, value), (name, value)
        if field is not None and field[0][0] == "objects" and base.get(name):
            member = base[name][0]
            for _sub_key, sub_name, _sub in field[0][1]:
                for value in (MISSING, *VALUES, *MORE_VALUES):
                    yield {**base, name: [changed(member, sub_name, value), *base[name][1:]]}, (sub_name, value)
            yield {**base, name: [{**member, "more": 1}]}, (name, "an unknown member key")


def test_the_whitespace_a_trimmed_field_refuses_is_what_str_strip_removes():
    spaces = {chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace()}
    assert set(compiled_checks.PYTHON_WHITESPACE) == spaces


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_what_the_compiled_checks_take_the_python_acceptors_take_alike(name, world):  # noqa: F811
    model = batch_ledgers()[name]
    child = model_serializer(model)
    spec = compiled_checks.object_spec(child, top=True)
    if spec is None:
        # Left wholly to Python: a serializer that reads its body by hand, or one with a field whose source sets
        # keys of its own ("*" or dotted).
        assert type(child).to_internal_value is not StrictBodyMixin.to_internal_value or any(
            len(field.source_attrs) != 1 for field in child._writable_fields
        )
        return
    # The fast path's own steps, without the serializer's validate (the tenant rule, which needs a request).
    steps = fast_batch.item_validator(child)
    steps.finish = lambda value: value
    _url, arrays = ARRAYS[name](world)
    base = arrays[0][0]
    assert fast_batch._compiled_items(child, [base], steps) is not None, "the ledger's first valid item is taken"
    taken = refused = 0
    for item, varied in variations(base, spec):
        try:
            compiled = fast_batch._compiled_items(child, [item], steps)
        except Exception:  # noqa: BLE001 - a field left to Python refused it (so does the Python path: same call)
            compiled = None
        if compiled is None:
            refused += 1
            continue
        python = python_fields(child, item)
        assert python is not REFUSED, varied
        # The whole validated data: compiled fields and those left to Python, their values, types and key order.
        assert same(compiled[0], python), varied
        taken += 1
    # Neither side is vacuous: many variations are taken as they are, many refused.
    assert taken >= 10 and refused >= 10


@pytest.mark.django_db
def test_the_compiled_checks_take_only_a_requests_own_parsed_body(make_user):
    """A Python caller's array may hold a str subclass, which DRF makes a plain string with str(): the compiled
    checks (which keep its characters) are for the request's parsed JSON only."""

    class Renamed(str):
        def __str__(self):
            return "renamed"

    calls = []
    real = compiled_checks.validated

    def spy(validator, items):
        calls.append(len(items))
        return real(validator, items)

    body = [enhance(1), enhance(2)]
    request = Request(APIRequestFactory().post("/", body, format="json"), parsers=[LedgerJSONParser()])
    request.user = make_user("root", superuser=True)
    try:
        compiled_checks.validated = spy
        from_request = EnhanceEntrySerializer(data=request.data, many=True, context={"request": request})
        assert from_request.is_valid(), from_request.errors
        assert calls == [2]
        python_items = [enhance(1, blueprint_id=Renamed("bp-1")), enhance(2)]
        from_python = EnhanceEntrySerializer(data=python_items, many=True, context={"request": request})
        assert from_python.is_valid(), from_python.errors
        assert calls == [2]
    finally:
        compiled_checks.validated = real
    assert [item["blueprint_id"] for item in from_request.validated_data] == ["bp-1", "bp-2"]
    assert from_python.validated_data[0]["blueprint_id"] == "renamed"
    assert type(from_python.validated_data[0]["blueprint_id"]) is str


def test_a_field_the_schema_cannot_say_is_left_to_python():
    from rest_framework import serializers

    from ledgerproject.ledger.serializers import StrictSerializer

    class Item(StrictSerializer):
        name = serializers.CharField(max_length=8)
        when = serializers.DateTimeField()
        code = serializers.CharField(min_length=2, allow_blank=True)  # "" taken, "x" refused: no one bound says it
        size = serializers.IntegerField(validators=[lambda value: None])
        tags = serializers.ListField(child=serializers.CharField(), max_length=3)
        kind = serializers.ChoiceField(choices=[(1, "one")])  # DRF gives 1 for "1": not the text sent

        def validate_name(self, value):
            return value

    child = serializers.ListSerializer(child=Item()).child
    assert compiled_checks.object_spec(child, top=True) is None  # every field is left to Python: nothing to compile

    class Partly(StrictSerializer):
        name = serializers.CharField(max_length=8)
        when = serializers.DateTimeField()
        choice = serializers.ChoiceField(choices=[(1, "one"), ("two", "Two")])

    class Inner(StrictSerializer):
        note = serializers.CharField()

    class Merged(StrictSerializer):
        extra = Inner(source="*")  # sets keys of its own: a later field of the same key would be overwritten
        note = serializers.CharField()

    assert compiled_checks.object_spec(serializers.ListSerializer(child=Merged()).child, top=True) is None

    spec = compiled_checks.object_spec(serializers.ListSerializer(child=Partly()).child, top=True)
    assert [name for _key, name, field in spec if field is None] == ["when"]
    assert dict((key, field[0]) for key, _name, field in spec if field) == {
        "name": ("text", None, 8, False, True),
        "choice": ("choice", ("two",)),  # 1 is given for "1": not the text itself, so left to Python
    }


@pytest.mark.django_db
def test_a_views_serializer_derives_its_compiled_checks_once_and_keeps_them_with_its_field_set(root_api, monkeypatch):
    derived = []
    real = compiled_checks.object_spec

    def spy(child, top=False):
        if top:
            derived.append(type(child).__name__)
        return real(child, top=top)

    monkeypatch.setattr(compiled_checks, "object_spec", spy)
    for first in (1, 3, 5):
        response = root_api.post("/api/v1/enhances/", [enhance(first), enhance(first + 1)], format="json")
        assert response.status_code == 201, response.content
    # At most the first array derived them (none if this thread's field set already had them, from an earlier
    # request): the next requests' serializers were handed the same field set, and the checks with it.
    assert derived in ([], ["EnhanceEntrySerializer"])


def test_equal_defaults_of_different_types_get_validators_of_their_own():
    from rest_framework import serializers

    from ledgerproject.ledger.serializers import StrictSerializer

    class One(StrictSerializer):
        name = serializers.CharField()
        flag = serializers.IntegerField(required=False, default=1)

    class Yes(StrictSerializer):
        name = serializers.CharField()
        flag = serializers.IntegerField(required=False, default=True)  # DRF hands a default out as it is

    for cls, default in ((One, 1), (Yes, True)):
        child = serializers.ListSerializer(child=cls()).child
        spec, validator = compiled_checks.array_check(child)
        (value,) = compiled_checks.validated(validator, [{"name": "x"}])
        assert same(value, {"name": "x", "flag": default})
        assert same(value, python_fields(child, {"name": "x"}))


def test_a_field_sets_compiled_checks_follow_the_keys_each_serializer_takes():
    """accepted_fields() may depend on the context; a field set handed to the next request's serializer keeps
    checks derived for another one's keys only where they are the same."""
    from rest_framework import serializers

    from ledgerproject.ledger.serializers import StrictSerializer

    class Body(StrictSerializer):
        name = serializers.CharField()
        secret = serializers.CharField(required=False)

        def accepted_fields(self):
            return ["name", "secret"] if self.context.get("admin") else ["name"]

    admin = serializers.ListSerializer(child=Body(), context={"admin": True}).child
    assert compiled_checks.array_check(admin) is not None
    other = serializers.ListSerializer(child=Body(), context={}).child
    other.__dict__["fields"] = admin.fields  # as LedgerSerializer.fields hands a set to the next request
    assert compiled_checks.array_check(other) is None  # its keys are not its writable fields: left to Python
    assert fast_batch.validate_items(other, [{"name": "x", "secret": "s"}] * 2, parsed=True) is None
    assert compiled_checks.array_check(admin) is not None
