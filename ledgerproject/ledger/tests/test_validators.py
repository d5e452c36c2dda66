"""The field rules every ledger shares (validators.py): one JSON-safe integer bound, one digest rule, one URL id rule."""

import hashlib

import pytest
from django.core.exceptions import ValidationError

from ledgerproject.ledger import hashing, params
from ledgerproject.ledger.validators import (
    MAX_JSON_INT,
    is_sha256,
    normalize_sha256,
    url_id_problem,
    validate_sha256,
    validate_url_id,
)

DIGEST = hashlib.sha256(b"x").hexdigest()


def test_the_json_safe_bound_is_the_largest_integer_a_double_holds_exactly():
    assert float(MAX_JSON_INT) == MAX_JSON_INT and float(MAX_JSON_INT + 2) != MAX_JSON_INT + 2
    assert params.parse_int(str(MAX_JSON_INT)) == MAX_JSON_INT
    assert params.parse_int(str(MAX_JSON_INT + 1)) is None
    with pytest.raises(hashing.CanonicalizationError):
        hashing.canonical_json({"n": MAX_JSON_INT + 1})


@pytest.mark.parametrize("value", [DIGEST, DIGEST.upper(), DIGEST[:10].upper() + DIGEST[10:]])
def test_a_digest_in_either_case_is_accepted_and_normalized_to_lowercase(value):
    assert is_sha256(value)
    assert normalize_sha256(value) == DIGEST
    validate_sha256(value)


@pytest.mark.parametrize("value", ["", DIGEST[:-1], DIGEST + "0", DIGEST + "\n", DIGEST[:-1] + "g", None, 7])
def test_anything_else_is_not_a_digest(value):
    assert not is_sha256(value)
    with pytest.raises(ValidationError, match="SHA-256"):
        normalize_sha256(value)


@pytest.mark.parametrize("value", ["", "a/b", "a\\b", ".", ".."])
def test_the_url_id_rule_refuses_what_a_path_segment_cannot_carry(value):
    assert url_id_problem(value)
    with pytest.raises(ValidationError):
        validate_url_id(value)


def test_the_url_id_rule_accepts_an_ordinary_id():
    assert url_id_problem("run-1.2_x") is None
    validate_url_id("run-1.2_x")
