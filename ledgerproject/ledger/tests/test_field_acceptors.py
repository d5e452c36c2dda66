"""Field acceptors (ledger/serializers.py) against DRF's run_validation of the same field: same value, or both refuse."""

import datetime
import math
import sys
import uuid

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.fields import SkipField, empty
from rest_framework.serializers import BaseSerializer

from ledgerproject.ledger import serializers as ledger_serializers
from ledgerproject.ledger.serializers import acceptor_kind
from ledgerproject.ledger.tests.test_fast_batch_equivalence import batch_ledgers, batch_views


def _batch_serializer_classes():
    """The serializer of every view whose list route takes arrays, by class name."""
    return {cls.serializer_class.__name__: cls.serializer_class for cls in batch_views()}


NESTED = {"a": [1, "two", None, {"b": [True, 1.5]}], "c": {}}
DEEP = nested = []
for _ in range(150):
    nested.append([])
    nested = nested[0]

VALUES = [
    # strings: blank, whitespace, unicode, NUL, surrogates, lengths, numbers and booleans as text
    *("", " ", "\t\n", "  x  ", "x ", " x", "x", "naïve ✓ 𝄞", "\u00a0x\u00a0", "\u2028", "a" * 64, "a" * 65),
    *("a" * 150, "a" * 257, "x" * 5000, "\x00", "ok\x00", "\ud800", "ok\udfff", "7", " 7 ", "-3", "1.0", "1e3"),
    *("true", "false", "True", "yes", "no", "on", "off", "1", "0", "null", "None", "[]", "{}"),
    # choices of the batch ledgers
    *("pass", "deny", "applied", "rejected", "Info", "Warn", "Loud", "acknowledged", "wont_fix", "final"),
    *(" pass", "applied ", "info", "PASS"),
    # integers: bounds, 53/63/64 bits, bool-as-int
    *(0, -1, 1, 64, 2**31, 2**32, 2**53 - 1, 2**53, 2**63 - 1, 2**63, 2**64, 2**64 + 1, 2**70, -(2**70)),
    *(10**5000, True, False, 1.0, 1.5, -0.0, math.inf, math.nan),
    # missing, null, containers, nested, non-JSON values
    *(empty, None, [], {}, ["x"], ["x", "y"], [" x "], ["\x00"], [""], [1], [None], [["x"]], {"a": 1}),
    *(NESTED, {1: "x"}, {"a": {2: 1}}, ("x",), {"x"}, b"x", DEEP, [10**5000], {"k": 2**65}),
    *(datetime.datetime(2026, 1, 21, tzinfo=datetime.UTC), uuid.UUID(int=7), object()),
]


def _outcome(run, value):
    try:
        result = run(value)
    except SkipField:
        return ("skip",)
    except (ValidationError, DjangoValidationError) as exc:
        return ("error", getattr(exc, "detail", None) or getattr(exc, "messages", None))
    except Exception as exc:  # noqa: BLE001 - DRF lets some through (str() of a 5000-digit int): compared too
        return ("raised", type(exc).__name__, str(exc))
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # an int past 4300 digits has a repr here
    try:
        return ("ok", type(result).__name__, repr(result))
    finally:
        sys.set_int_max_str_digits(limit)


def _acceptor_fields(serializer):
    """(path, field) of every field (nested serializers and list children included) that has an acceptor."""
    found = []
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        for one in (field, getattr(field, "child", None)):
            if one is None:
                continue
            if isinstance(one, BaseSerializer):
                if not hasattr(one, "child"):
                    found.extend((f"{name}.{path}", inner) for path, inner in _acceptor_fields(one))
            elif "run_validation" in vars(one):
                found.append((name if one is field else f"{name}[]", one))
    return found


def mismatches(serializer_class):
    """(field, value, acceptor's outcome, DRF's) wherever the acceptors answer otherwise than DRF."""
    differ = []
    for path, field in _acceptor_fields(serializer_class(context={})):
        drf = type(field).run_validation.__get__(field)
        for value in VALUES:
            fast, slow = _outcome(field.run_validation, value), _outcome(drf, value)
            if fast != slow:
                differ.append((path, value, fast, slow))
    return differ


SERIALIZERS = sorted(_batch_serializer_classes().items())


def test_every_batch_ledger_serializer_is_compared():
    models = {cls.Meta.model for _name, cls in SERIALIZERS}
    assert set(batch_ledgers().values()) <= models


@pytest.mark.parametrize("name,serializer_class", SERIALIZERS)
def test_its_acceptors_answer_every_value_exactly_as_drfs_run_validation(name, serializer_class):
    fields = _acceptor_fields(serializer_class(context={}))
    assert mismatches(serializer_class) == []
    # Not vacuous: the serializer's fields have acceptors.
    assert fields, name


def test_every_stock_field_kind_of_the_batch_serializers_has_an_acceptor():
    kinds = {acceptor_kind(field) for _name, cls in SERIALIZERS for _path, field in _acceptor_fields(cls(context={}))}
    assert {
        serializers.CharField,
        serializers.IntegerField,
        serializers.ChoiceField,
        serializers.BooleanField,
        serializers.ListField,
        serializers.JSONField,
    } <= kinds


def test_a_subclass_that_changes_how_a_value_validates_keeps_drfs_validation():
    class Shouting(serializers.CharField):
        def to_internal_value(self, data):
            return super().to_internal_value(data).upper()

    class Documented(serializers.CharField):
        """Only documentation: validates as CharField."""

    assert acceptor_kind(Shouting()) is None
    assert acceptor_kind(serializers.EmailField()) is serializers.CharField  # its validator runs: below
    assert acceptor_kind(Documented()) is serializers.CharField
    assert acceptor_kind(serializers.MultipleChoiceField(choices=["a"])) is None
    assert acceptor_kind(serializers.DateTimeField()) is None

    class Body(ledger_serializers.StrictSerializer):
        loud = Shouting()
        email = serializers.EmailField(required=False)

    body = Body()
    assert "run_validation" not in vars(body.fields["loud"])
    assert body.fields["email"].run_validation("a@example.com") == "a@example.com"
    with pytest.raises(ValidationError):
        body.fields["email"].run_validation("not an address")


def _sloppy_char(field, slow):
    # Takes any string as it is: no trimming, length, NUL, surrogate or blank check.
    return lambda data=empty: data if type(data) is str else slow(data)


def _sloppy_integer(field, slow):
    # Takes booleans as integers (isinstance instead of the exact type).
    return lambda data=empty: data if isinstance(data, int) else slow(data)


def _sloppy_boolean(field, slow):
    # Takes 1 and 0 as they are.
    return lambda data=empty: data if type(data) in (bool, int) else slow(data)


def _sloppy_list(field, slow):
    # Takes a list without running its child's validation.
    return lambda data=empty: list(data) if type(data) is list else slow(data)


def _sloppy_json(field, slow):
    # Takes any value without checking that it is JSON.
    return lambda data=empty: slow(data) if data is empty or data is None else data


def _sloppy_missing(field, slow):
    # A missing value taken as None instead of the field's default (or left out).
    real = ledger_serializers._fast_char(field, slow)
    return lambda data=empty: None if data is empty else real(data)


def _sloppy_choice(field, slow):
    # Takes the stripped text as a choice.
    return lambda data=empty: data.strip() if type(data) is str and data.strip() in field.choices else slow(data)


@pytest.mark.parametrize(
    "kind,sloppy",
    [
        (serializers.CharField, _sloppy_char),
        (serializers.CharField, _sloppy_missing),
        (serializers.IntegerField, _sloppy_integer),
        (serializers.BooleanField, _sloppy_boolean),
        (serializers.ListField, _sloppy_list),
        (serializers.JSONField, _sloppy_json),
        (serializers.ChoiceField, _sloppy_choice),
    ],
)
def test_the_comparison_catches_an_acceptor_that_accepts_too_much(kind, sloppy, monkeypatch):
    monkeypatch.setitem(ledger_serializers._FAST, kind, sloppy)
    found = [difference for _name, cls in SERIALIZERS for difference in mismatches(cls)]
    assert found, kind
