"""orjson in the API's parser and renderer: the same values, bytes and errors as DRF's json path."""

import datetime
import decimal
import io
import json
import uuid

import pytest
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

from ledgerproject.ledger import fastjson
from ledgerproject.ledger.parsers import MAX_DEPTH, LedgerJSONParser

BODIES = [
    b'{"issue_id": "a", "n": 1, "f": 0.1, "big": 9007199254740993, "neg": -5, "t": true, "z": null}',
    b'[{"verdicts": [{"axis": "des", "status": "pass"}], "ts_ms": 1760000000000}]',
    '{"text": "caf\u00e9 \u2603 \U0001f600", "esc": "a\\"b\\\\c\\n"}'.encode(),
    b'{"pair": "\\ud83d\\ude00", "e": 1e300, "small": 5e-324, "i64": 18446744073709551615}',
    b'{"a": 1, "a": 2}',
    b"[1e400, -1e400]",
    b"[]",
    b"{}",
]


def parse(raw, encoding="utf-8"):
    return LedgerJSONParser().parse(io.BytesIO(raw), "application/json", {"encoding": encoding})


@pytest.mark.parametrize("raw", BODIES)
def test_it_parses_exactly_what_the_standard_library_parses(raw):
    parsed = parse(raw)
    expected = json.loads(raw)
    assert parsed == expected
    # Same types too: an integer stays an int, a float a float.
    assert json.dumps(parsed) == json.dumps(expected)


def test_it_keeps_integers_beyond_64_bits_exact():
    assert fastjson.loads(b"[123456789012345678901234567890]")[1][0] != 123456789012345678901234567890
    assert parse(b"[123456789012345678901234567890, -123456789012345678901234567890]") == [
        123456789012345678901234567890,
        -123456789012345678901234567890,
    ]


def test_it_names_the_field_that_holds_nul():
    with pytest.raises(ValidationError) as caught:
        parse(b'{"a": {"b": "x\\u0000y"}}')
    assert "a.b" in caught.value.detail


def test_it_names_the_field_that_holds_a_lone_surrogate():
    with pytest.raises(ValidationError) as caught:
        parse(b'{"a": ["ok", "\\ud800"]}')
    assert "a.1" in caught.value.detail


def test_it_refuses_json_nested_deeper_than_the_limit():
    assert parse(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    with pytest.raises(ParseError, match="nested deeper"):
        parse(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    with pytest.raises(ParseError, match="nested deeper"):
        parse(b"[" * 5000 + b"]" * 5000)


@pytest.mark.parametrize("raw", [b"", b"{", b"NaN", b'{"a": Infinity}', b"\xff"])
def test_it_refuses_what_drf_refuses_with_drfs_message(raw):
    with pytest.raises(ParseError) as fast:
        parse(raw)
    with pytest.raises(ParseError) as drf:
        JSONParser().parse(io.BytesIO(raw), "application/json", {"encoding": "utf-8"})
    assert str(fast.value.detail) == str(drf.value.detail)


def test_a_body_in_another_charset_is_read_in_that_charset():
    assert parse('{"a": "caf\u00e9"}'.encode("latin-1"), encoding="latin-1") == {"a": "caf\u00e9"}


RENDERED = [
    {"seq": 1, "hash": "ab" * 32, "ok": True, "none": None, "f": 0.1, "big": 1e16, "tiny": 5e-324},
    [{"nested": [{"deep": ["é", "☃", "\U0001f600", "\u2028", "a\u2029b"]}]}],
    {
        "at": datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC),
        "naive": datetime.datetime(2026, 1, 2, 3, 4, 5),
        "day": datetime.date(2026, 1, 2),
        "time": datetime.time(3, 4, 5, 600000),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "amount": decimal.Decimal("1.50"),
        "bytes": b"abc",
        "int": 2**53 - 1,
        "huge": 2**70,
    },
    {"tuple": (1, 2), "non-str": {1: "a"}},
]


@pytest.mark.parametrize("data", RENDERED)
def test_it_renders_the_bytes_drf_renders(data):
    assert fastjson.FastJSONRenderer().render(data) == JSONRenderer().render(data)


def test_it_renders_indented_output_as_drf_does():
    data = {"a": [1, 2]}
    media = "application/json; indent=2"
    assert fastjson.FastJSONRenderer().render(data, media) == JSONRenderer().render(data, media)
    assert b"\n" in fastjson.FastJSONRenderer().render(data, media)


def test_the_api_answers_through_orjson(writer_api, monkeypatch):
    calls = []
    real = fastjson.dumps
    monkeypatch.setattr(fastjson, "dumps", lambda data: calls.append(data) or real(data))
    response = writer_api.post("/api/v1/notes/", {"key": "k", "count": 1}, format="json")
    assert response.status_code == 201 and calls and response.json()["key"] == "k"


@pytest.mark.parametrize(
    "raw",
    [
        b"5",
        b'"x"',
        b"[]",
        b"{}",
        b'[{"a": [1, {"b": []}]}, 2]',
        b'{"a": {"b": {"c": [[[]]]}}, "d": 1.5}',
        b"[[], [[]]]",
    ],
)
def test_its_fast_depth_is_the_nesting_depth(raw):
    from ledgerproject.ledger.parsers import _fast_checks, nesting_depth

    data = json.loads(raw)
    assert _fast_checks(data, raw)[0] == nesting_depth(data)


def test_it_names_a_key_that_holds_nul_and_keeps_an_escaped_backslash_u0000_as_text():
    with pytest.raises(ValidationError) as caught:
        parse(b'[{"ok": 1}, {"k\\u0000": 1}]')
    assert "1" in caught.value.detail
    # "\\u0000" in JSON is a backslash followed by u0000: six characters of ordinary text.
    assert parse(b'{"a": "\\\\u0000"}') == {"a": "\\u0000"}
