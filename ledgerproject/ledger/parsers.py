"""The API's JSON parser: DRF's, plus a clear 400 for JSON too deep or holding text no database stores."""

import io

from django.conf import settings
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

from ledgerproject.ledger import fastjson

# Far deeper than any entry needs, far shallower than the interpreter's recursion limit.
MAX_DEPTH = 64


def unstorable_text(value):
    """Where the first string (key or value) holding NUL or a lone surrogate is ("a.b.0"), else None.

    JSON's \\u escapes can spell both; PostgreSQL refuses NUL in text and jsonb, UTF-8 cannot encode a
    lone surrogate, and an error message that quoted one back could not be rendered (a 500).
    """
    stack = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            stack.extend((key, path) for key in item)
            stack.extend((member, f"{path}{_printable(key)}.") for key, member in item.items())
        elif isinstance(item, list):
            stack.extend((member, f"{path}{index}.") for index, member in enumerate(item))
        elif isinstance(item, str) and not _storable(item):
            return path.rstrip(".") or "the body"
    return None


def _storable(text):
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(key):
    return key if _storable(key) else key.encode("utf-8", "backslashreplace").decode("ascii", "replace")


def nesting_depth(value):
    """How deeply arrays and objects nest in a parsed JSON value (a scalar is 0)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            deepest = max(deepest, depth)
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((member, depth + 1) for member in item)
    return deepest


def _fast_checks(value, raw):
    """(depth, suspect) of orjson's result of `raw`: suspect when a float may be an integer orjson could not
    hold or some string may hold NUL. The slow path (the standard library, then the walks above) runs when
    either is true, so its answers and messages are unchanged; a lone surrogate never gets here (orjson
    refuses it).

    A parsed string can hold NUL only where the body spells it \\u0000 (JSON forbids a raw control
    character, and orjson refuses one), so that is one search of the bytes; the walk then visits only
    containers and floats, one level at a time (an array of a thousand entries has some ten thousand scalars).
    """
    suspect = b"\\u0000" in raw
    big = fastjson.BIG_FLOAT
    depth, level = 0, [value] if type(value) in (dict, list) else []
    while level:
        depth += 1
        deeper = []
        for item in level:
            for member in item.values() if type(item) is dict else item:
                kind = type(member)
                if kind is dict or kind is list:
                    deeper.append(member)
                elif kind is float and not -big < member < big:
                    suspect = True
        level = deeper
    return depth, suspect


class LedgerJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        if encoding.lower().replace("-", "") == "utf8":
            # orjson first (a body is read whole anyway: the request size limit bounds it); any doubt → json.
            raw = stream.read()
            parsed, data = fastjson.loads(raw)
            if parsed:
                depth, suspect = _fast_checks(data, raw)
                if depth > MAX_DEPTH:
                    raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels")
                if not suspect:
                    return data
            stream = io.BytesIO(raw)
        return self._parse_slowly(stream, media_type, parser_context)

    def _parse_slowly(self, stream, media_type, parser_context):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels") from None
        if nesting_depth(data) > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels")
        where = unstorable_text(data)
        if where is not None:
            # Named like a field error ({"a.b": [...], "detail": ...}) so a client can point at it.
            raise ValidationError(
                {where: ["holds NUL or a lone surrogate (\\u0000, \\ud800…), which no ledger stores"]}
            )
        return data
