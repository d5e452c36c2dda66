"""The API's JSON parser: DRF's, plus a clear 400 for JSON nested too deeply to be a ledger entry."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Far deeper than any entry needs, far shallower than the interpreter's recursion limit.
MAX_DEPTH = 64


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
        return data
