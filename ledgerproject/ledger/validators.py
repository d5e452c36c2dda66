"""Field rules every ledger shares, defined once: the JSON-safe integer, the SHA-256 digest and the URL id."""

import re
from typing import Annotated

from django.core.exceptions import ValidationError
from pydantic import AfterValidator
from pydantic.json_schema import WithJsonSchema

# The largest integer RFC 8785 JSON (IEEE doubles) and every engine's BIGINT hold exactly: the
# ledger hashes canonical JSON, so a larger number would not hash back to what the client sent.
MAX_JSON_INT = 2**53 - 1

# A SHA-256 digest is 64 hex characters in either case (the seeds' ContentDigest::try_from accepts
# both); the ledger stores, compares and links it in lowercase.
SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"
_SHA256 = re.compile(SHA256_PATTERN)
SHA256_PROBLEM = "is not a SHA-256 digest (64 hexadecimal characters)"

# What one `<str:…>` path segment cannot carry: a "/" ends the segment, and a browser rewrites
# "\" to "/" and resolves "." and ".." segments before the request is ever sent.
URL_ID_RULE = "an id used in URLs must not be empty, contain '/' or '\\', or be '.' or '..'"


def is_sha256(value):
    """True for a string of 64 hex characters (either case)."""
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def sha256_problem(value):
    """Why `value` is not a SHA-256 digest, or None when it is one."""
    return None if is_sha256(value) else f"{value!r} {SHA256_PROBLEM}"


def normalize_sha256(value):
    """The digest in lowercase; a Django ValidationError for anything that is not one."""
    problem = sha256_problem(value)
    if problem:
        raise ValidationError(problem, code="sha256")
    return value.lower()


def validate_sha256(value):
    """Django field validator: a SHA-256 digest in either case (the append path stores it lowercase)."""
    normalize_sha256(value)


def url_id_problem(value):
    """Why `value` cannot be one URL path segment, or None when it can."""
    if value is None:
        return None
    text = str(value)
    if not text:
        return "must not be empty"
    if "/" in text or "\\" in text:
        return "must not contain '/' or '\\': the id is one segment of this entry's URLs"
    if text in (".", ".."):
        return "must not be '.' or '..': browsers resolve those segments away"
    return None


def validate_url_id(value):
    """Django field validator: refuse what a URL path segment cannot carry."""
    problem = url_id_problem(value)
    if problem:
        raise ValidationError(f"{problem}.", code="url_id")


# --- the same rules as pydantic types (request bodies validated by pydantic models) ------------


def _sha256_lowered(value):
    if not is_sha256(value):
        raise ValueError(SHA256_PROBLEM)
    return value.lower()


# The pattern is what the OpenAPI schema shows; the validator enforces it with the message above
# (and gives the digest its lowercase).
Sha256 = Annotated[str, AfterValidator(_sha256_lowered), WithJsonSchema({"type": "string", "pattern": SHA256_PATTERN})]
