"""Canonical bytes and hashes of ledger entries (RFC 8785 JSON, SHA-256 chain); no Django needed."""

import datetime
import decimal
import hashlib
import uuid

import rfc8785

GENESIS_HASH = "0" * 64


class CanonicalizationError(ValueError):
    """A value cannot be put into canonical JSON (for example an integer beyond 2**53)."""


def jsonable(value):
    """Turn a model field value into the plain JSON value that is hashed."""
    if isinstance(value, datetime.datetime):
        return format_timestamp(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def format_timestamp(moment):
    """UTC ISO 8601 with microseconds and a Z: the one textual form of recorded_at."""
    if moment.tzinfo is None:
        raise CanonicalizationError("timestamps in ledger entries must be timezone-aware")
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value):
    """RFC 8785 canonical JSON text of a JSON value."""
    try:
        return rfc8785.dumps(jsonable(value)).decode("utf-8")
    except rfc8785.IntegerDomainError as exc:
        raise CanonicalizationError(
            f"{exc}: integers must lie within ±(2**53-1); send larger ones as strings"
        ) from None
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise CanonicalizationError(f"value cannot be canonicalized: {exc}") from None


def entry_canonical(ledger, seq, recorded_at, recorded_by, content_json):
    """The canonical text of an entry, from its already canonical content.

    Keys in RFC 8785 order (content, ledger, recorded_at, recorded_by, seq), so splicing the
    pre-computed content keeps the whole canonical while only seq and time are known under the lock.
    """
    return (
        '{"content":'
        + content_json
        + ',"ledger":'
        + canonical_json(ledger)
        + ',"recorded_at":'
        + canonical_json(recorded_at if isinstance(recorded_at, str) else format_timestamp(recorded_at))
        + ',"recorded_by":'
        + canonical_json(recorded_by)
        + ',"seq":'
        + str(int(seq))
        + "}"
    )


def entry_hash(prev_entry_hash, canonical):
    """entry_hash = SHA-256(32 raw bytes of prev_entry_hash || UTF-8 canonical text), lowercase hex."""
    return hashlib.sha256(bytes.fromhex(prev_entry_hash) + canonical.encode("utf-8")).hexdigest()
