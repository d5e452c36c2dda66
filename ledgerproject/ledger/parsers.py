"""The API's JSON parser: DRF's, plus a clear 400 for JSON too deep or holding text no database stores."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Far deeper than any entry needs, far shallower than the interpreter's recursion limit.
MAX_DEPTH = 64


def unstorable_text(value):
    """The first string (key or value) holding NUL or a lone surrogate, else None.

    JSON's \\u escapes can spell both; PostgreSQL refuses NUL in text and jsonb, UTF-8 cannot encode a
    lone surrogate, and an error message that quoted one back could not be rendered (a 500).
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return item
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item
    return None


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


class LedgerJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels") from None
        if nesting_depth(data) > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels")
        if unstorable_text(data) is not None:
            raise ParseError("JSON parse error - a string holds NUL or a lone surrogate (\\u0000, \\ud800…)")
        return data
