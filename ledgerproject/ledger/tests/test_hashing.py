"""Canonical JSON: the fast path writes exactly RFC 8785's bytes, and the hash is what the docs say."""

import hashlib

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from ledgerproject.ledger import hashing

keys = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.floats(
        allow_nan=False,
        allow_infinity=False,
        min_value=-(2.0**53),
        max_value=2.0**53,
        exclude_min=True,
        exclude_max=True,
    ),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5), max_leaves=20
)


@given(values)
def test_canonical_json_is_byte_for_byte_rfc8785(value):
    assert hashing.canonical_json(value) == rfc8785.dumps(value).decode()


def test_keys_outside_the_basic_plane_sort_by_utf16_units_as_rfc8785_says():
    value = {"\U0001f600": 1, "\ufb01": 2, "a": 3}
    assert hashing.canonical_json(value) == rfc8785.dumps(value).decode()
    assert hashing.canonical_json(value).index("\U0001f600") < hashing.canonical_json(value).index("\ufb01")


def test_control_characters_are_escaped_alike():
    value = {"s": '\x00\x01\b\t\n\f\r\x1f"\\\x7f é'}
    assert hashing.canonical_json(value) == rfc8785.dumps(value).decode()


def test_the_entry_hash_is_sha256_of_the_previous_hash_bytes_and_the_canonical_text():
    canonical = hashing.entry_canonical("demo", 1, "2026-01-21T12:00:00.000000Z", "alice", '{"a":1}')
    assert (
        canonical
        == '{"content":{"a":1},"ledger":"demo","recorded_at":"2026-01-21T12:00:00.000000Z","recorded_by":"alice","seq":1}'
    )
    assert (
        hashing.entry_hash(hashing.GENESIS_HASH, canonical)
        == hashlib.sha256(bytes(32) + canonical.encode()).hexdigest()
    )


def test_floats_of_magnitude_2_53_or_more_are_refused():
    import pytest

    for number in (2.0**53, -1e21, 1e300):
        with pytest.raises(hashing.CanonicalizationError, match="2\\*\\*53"):
            hashing.canonical_json({"n": number})


def test_it_writes_a_batchs_canonical_text_as_entry_canonical_does():
    import datetime

    from ledgerproject.ledger.hashing import entry_canonical, entry_canonical_for

    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=datetime.UTC)
    canonical = entry_canonical_for("enhancelog", moment, "alice ☃")
    for seq, content in [(1, '{"a":1}'), (10, "{}"), (2**53 - 1, '{"x":"\\u0000"}')]:
        assert canonical(seq, content) == entry_canonical("enhancelog", seq, moment, "alice ☃", content)


@given(
    st.dictionaries(keys, values, max_size=5),
    st.dictionaries(
        st.sampled_from(["node_seq", "event_seq", "n", "\U0001f600"]), st.integers(-(2**53) + 1, 2**53 - 1)
    ),
)
def test_a_content_cut_around_its_counters_and_filled_is_its_canonical_text(content, counters):
    content = {key: value for key, value in content.items() if key not in counters}
    parts = hashing.canonical_parts(content, counters)
    assert hashing.fill_parts(parts, counters) == rfc8785.dumps({**content, **counters}).decode()


def test_integers_beyond_2_53_are_refused_wherever_they_nest():
    import pytest

    for value in ({"a": [1, {"b": 2**53}]}, [[-(2**53)]], {"x": {"y": {"z": 2**60}}}):
        with pytest.raises(hashing.CanonicalizationError):
            hashing.canonical_json(value)


def test_jsonable_turns_nested_values_into_plain_json_and_keeps_plain_ones():
    import datetime
    import uuid

    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=datetime.UTC)
    value = {1: (b"\x01", uuid.UUID(int=1)), "a": [moment, {"b": None, 2: 1.5}], "s": "x"}
    assert hashing.jsonable(value) == {
        "1": ["01", "00000000-0000-0000-0000-000000000001"],
        "a": ["2026-01-02T03:04:05.000006Z", {"b": None, "2": 1.5}],
        "s": "x",
    }


def test_its_orjson_text_is_rfc8785s_for_every_ascii_character_and_key_order():
    for code in [*range(0x80), 0x85, 0xA0, 0x2028, 0x2029, 0xD7FF, 0xE000, 0xFEFF, 0xFFFF, 0x1D11E]:
        char = chr(code)
        value = {"k" + char: char, "a": [char * 3, {"z": char, "Z": None}], "n": -(2**53) + 1, "t": True}
        if code > 0xD7FF:  # keys above U+D7FF sort otherwise in UTF-16: the keys stay plain
            value = {"k": char, "a": [char * 3, {"z": char}]}
        assert hashing.canonical_json(value) == rfc8785.dumps(value).decode(), hex(code)


def test_it_writes_plain_content_with_orjson(monkeypatch):
    calls = []
    real = hashing.orjson.dumps

    class Spy:
        JSONEncodeError = hashing.orjson.JSONEncodeError
        OPT_SORT_KEYS = hashing.orjson.OPT_SORT_KEYS

        @staticmethod
        def dumps(value, option=None):
            calls.append(value)
            return real(value, option=option)

    monkeypatch.setattr(hashing, "orjson", Spy)
    assert hashing.canonical_json({"b": [1, "x"], "a": None}) == '{"a":null,"b":[1,"x"]}'
    assert calls == [{"b": [1, "x"], "a": None}]


def test_a_lone_surrogate_and_nesting_past_orjsons_limit_answer_as_before():
    import pytest

    with pytest.raises(hashing.CanonicalizationError, match="lone surrogate"):
        hashing.canonical_json({"a": "x\ud800"})
    deep = current = []
    for _ in range(400):  # orjson refuses past 254 levels; the standard encoder writes it
        current.append([])
        current = current[0]
    assert hashing.canonical_json(deep) == "[" * 401 + "]" * 401


def test_its_cut_content_orders_members_once_per_key_set():
    hashing._member_order.cache_clear()
    for seq in range(5):
        content = {"b": seq, "a": "x", "\U0001f600": 1, "\ufb01": 2}
        parts = hashing.canonical_parts(content, ["seq"])
        assert hashing.fill_parts(parts, {"seq": seq}) == rfc8785.dumps({**content, "seq": seq}).decode()
    assert hashing._member_order.cache_info().misses == 1


def test_it_writes_the_two_instants_of_a_wall_time_the_clock_turns_back_over_apart():
    import datetime
    import zoneinfo

    first = datetime.datetime(2026, 10, 25, 2, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    second = first.replace(fold=1)  # equal to `first` by Python's rules (same zone), an hour later
    assert [hashing.format_timestamp(moment) for moment in (first, second, first)] == [
        "2026-10-25T00:30:00.000000Z",
        "2026-10-25T01:30:00.000000Z",
        "2026-10-25T00:30:00.000000Z",
    ]
