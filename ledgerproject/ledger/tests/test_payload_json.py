"""A payload's free-form JSON (payloads.Json): the walk without paths answers as the walk with them."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerproject.ledger import payloads
from ledgerproject.ledger.validators import MAX_JSON_INT

texts = st.text(alphabet=st.sampled_from(["a", "é", "\x00", "\t", "😀"]), max_size=4)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    texts,
    st.integers(min_value=-MAX_JSON_INT - 2, max_value=MAX_JSON_INT + 2),
    st.sampled_from([0.5, -1e300, 1e300, float(MAX_JSON_INT), float(MAX_JSON_INT + 1)]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4))


def answer(check, value):
    """What `check` gives `value`: the value itself, or the path and message of its refusal."""
    try:
        return ("kept", check(value))
    except payloads._ProblemAt as problem:
        return ("refused", problem.parts, str(problem))


@given(values)
def test_it_keeps_or_refuses_each_value_as_the_walk_with_paths_does(value):
    assert answer(payloads._check_json, value) == answer(payloads._check_json_at, value)


@pytest.mark.parametrize(
    "value, path, message",
    [
        ({"a": [1, {"b\x00": 2}]}, ("a", 1), f"keys {payloads.NUL_PROBLEM}"),
        ({"a": ["ok", "b\x00"]}, ("a", 1), payloads.NUL_PROBLEM),
        ([{"n": MAX_JSON_INT + 1}], (0, "n"), payloads.NUMBER_PROBLEM),
        ({"f": -1e300}, ("f",), payloads.NUMBER_PROBLEM),
    ],
)
def test_a_refusal_names_where_the_problem_is(value, path, message):
    assert answer(payloads._check_json, value) == ("refused", path, message)


def test_plain_json_is_kept_as_it_came():
    value = {"claims": [{"text": "total matches", "evidence": ["po-17"], "score": MAX_JSON_INT, "ok": True}]}
    assert payloads._check_json(value) is value
