"""Canonical bytes and hashes of ledger entries (RFC 8785 JSON, SHA-256 chain); no Django needed."""

import datetime
import decimal
import functools
import hashlib
import json
import uuid

import orjson
import rfc8785

from ledgerproject.ledger.validators import MAX_JSON_INT

GENESIS_HASH = "0" * 64


class CanonicalizationError(ValueError):
    """A value cannot be put into canonical JSON (for example an integer beyond 2**53)."""


def jsonable(value):
    """Turn a model field value into the plain JSON value that is hashed."""
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool or kind is float:
        return value  # already plain JSON (most values): no isinstance chain
    if isinstance(value, datetime.datetime):
        return format_timestamp(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {
            (k if type(k) is str else str(k)): (v if type(v) in _PLAIN_SCALARS else jsonable(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _PLAIN_SCALARS else jsonable(v) for v in value]
    return value


# Values jsonable() returns as they are (checked by exact type, as its first line does).
_PLAIN_SCALARS = frozenset((str, int, bool, float, type(None)))


def format_timestamp(moment):
    """UTC ISO 8601 with microseconds and a Z: the one textual form of recorded_at. Cached: the
    entries of a batch share one recorded_at, and exports and verification format it per row."""
    if moment.tzinfo is None:
        raise CanonicalizationError("timestamps in ledger entries must be timezone-aware")
    # Keyed with the offset: two times of one zone compare (and hash) equal by their wall clock alone, and
    # in the hour a clock turns back one wall time is two instants (fold).
    return _format_utc(moment, moment.utcoffset())


@functools.lru_cache(maxsize=1024)
def _format_utc(moment, offset):
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_dumps_is_canonical(value):
    """True when json.dumps with sorted keys writes exactly the RFC 8785 bytes of `value`.

    That holds for plain JSON without floats (whose spelling differs), without integers beyond
    2**53, and whose keys sort alike by code point and by UTF-16 unit (RFC 8785's order): keys
    with no character above U+D7FF. String escaping is the same in both. Scalars inside objects
    and arrays are judged where they are met, without a trip through the stack (an entry is
    mostly strings and integers).
    """
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for key in item:
                if type(key) is not str or not (key.isascii() or max(key) <= "\ud7ff"):
                    return False
            members = item.values()
        elif kind is list:
            members = item
        else:
            members = (item,)
        for member in members:
            kind = type(member)
            if kind is str or member is None or kind is bool:
                continue
            if kind is int:
                if -MAX_JSON_INT <= member <= MAX_JSON_INT:
                    continue
                return False
            if kind is dict or kind is list:
                stack.append(member)
                continue
            return False
    return True


# json.dumps builds an encoder per call from its keyword arguments: build the canonical one once.
_CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# orjson with sorted keys writes the same text as that encoder for every value _json_dumps_is_canonical
# passes (sorted by code point, compact, UTF-8 unescaped, control characters as \b \t \n \f \r or a
# lowercase \u00XX; ledger/tests/test_hashing.py compares both), several times faster.
_ORJSON_SORTED = orjson.OPT_SORT_KEYS


def _has_inexact_float(value):
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and abs(item) > MAX_JSON_INT:
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def canonical_json(value):
    """RFC 8785 canonical JSON text of a JSON value.

    The C JSON encoder writes the same bytes for most values (see _json_dumps_is_canonical) and is
    many times faster than the pure-Python RFC 8785 encoder, which handles the rest. A value that is not
    plain JSON (a tuple, a UUID, a key that is not text, …) is first made plain by jsonable(), then
    judged again: its text, or its refusal, is that of jsonable(value) whichever form a caller passes.
    """
    if not _json_dumps_is_canonical(value):
        value = jsonable(value)
        if not _json_dumps_is_canonical(value):
            return _rfc8785_text(value)
    try:
        return orjson.dumps(value, option=_ORJSON_SORTED).decode()
    except orjson.JSONEncodeError:
        pass  # a lone surrogate or nesting past orjson's limit: the standard encoder answers
    text = _CANONICAL_ENCODER.encode(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalizationError("text holds a lone surrogate, which is not valid Unicode") from None
    return text


def _rfc8785_text(value):
    """The pure-Python RFC 8785 encoder's text of a plain JSON value (floats, large integers, keys past U+D7FF)."""
    if _has_inexact_float(value):
        raise CanonicalizationError(
            "numbers of magnitude 2**53 or more must be integers within ±(2**53-1) or strings: "
            "databases do not give such floats back as they were sent"
        )
    try:
        return rfc8785.dumps(value).decode("utf-8")
    except rfc8785.IntegerDomainError as exc:
        raise CanonicalizationError(
            f"{exc}: integers must lie within ±(2**53-1); send larger ones as strings"
        ) from None
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise CanonicalizationError(f"value cannot be canonicalized: {exc}") from None


def _utf16(key):
    # RFC 8785 orders an object's members by the UTF-16 code units of their keys.
    return key.encode("utf-16-be")


@functools.lru_cache(maxsize=256)
def _member_order(keys):
    """The keys of an object in RFC 8785 order (an entry's keys are its model's columns: a few sets per ledger)."""
    return tuple(sorted(keys, key=_utf16))


def canonical_parts(content, holes):
    """The canonical text of the object `content` without the members `holes`, cut where they go:
    len(holes) + 1 runs of canonical members (fill_parts() puts the holes' integers in later).

    RFC 8785 writes each member on its own and in key order, so the runs are exactly the text the
    whole object would have around those members; only the holes' values are left to compute.
    """
    holes = set(holes)
    runs, run = [], {}
    for key in _member_order(frozenset(content.keys() | holes)):
        if key in holes:
            runs.append(run)
            run = {}
        else:
            run[key] = content[key]
    runs.append(run)
    return [canonical_json(run)[1:-1] for run in runs]


@functools.lru_cache(maxsize=256)
def _key_text(key):
    return canonical_json(key)


def fill_parts(parts, values):
    """canonical_json(content) from canonical_parts(content, values.keys()) and the holes' integers."""
    members = []
    for part, key in zip(parts, sorted(values, key=_utf16), strict=False):
        if part:
            members.append(part)
        number = values[key]
        # An integer within ±(2**53-1) is written as its decimal digits (canonical_json's own answer).
        digits = str(number) if type(number) is int and -MAX_JSON_INT <= number <= MAX_JSON_INT else None
        members.append(_key_text(key) + ":" + (digits or canonical_json(int(number))))
    if parts[-1]:
        members.append(parts[-1])
    return "{" + ",".join(members) + "}"


def fields_with_nul(content):
    """Names of the fields whose text holds a NUL character, which PostgreSQL cannot store."""

    def has_nul(value):
        if isinstance(value, str):
            return "\x00" in value
        if isinstance(value, dict):
            return any(has_nul(k) or has_nul(v) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return any(has_nul(v) for v in value)
        return False

    return [name for name, value in content.items() if has_nul(value)]


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


def entry_canonical_for(ledger, recorded_at, recorded_by):
    """entry_canonical() of entries sharing ledger, time and principal (a batch): a function of (seq,
    content_json) that writes the shared part's canonical text once, not once per entry."""
    shared = entry_canonical(ledger, 0, recorded_at, recorded_by, "")
    head, tail = '{"content":', shared[len('{"content":') : -len("0}")]

    def canonical(seq, content_json):
        return head + content_json + tail + str(int(seq)) + "}"

    return canonical


def entry_hash(prev_entry_hash, canonical):
    """entry_hash = SHA-256(32 raw bytes of prev_entry_hash || UTF-8 canonical text), lowercase hex."""
    return hashlib.sha256(bytes.fromhex(prev_entry_hash) + canonical.encode("utf-8")).hexdigest()
