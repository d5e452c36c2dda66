"""orjson for the API's JSON in and out, falling back to the standard library wherever the two could differ.

Parsing and rendering a batch of a thousand entries with the json module cost more than inserting it.
orjson is several times faster and agrees with json on everything a ledger stores; where it does not —
integers beyond 64 bits (orjson reads them as floats), lone surrogates and other input orjson refuses
(json names the field), indented or non-string-keyed output — the standard library's path runs instead,
so answers and error messages stay what they were.
"""

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

# orjson turns integers it cannot hold in 64 bits into floats; any float this large may have been one.
BIG_FLOAT = float(2**63)
_ENCODER = JSONEncoder()
# Datetimes, dates and times go through DRF's encoder (its ISO format, milliseconds, "Z").
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def loads(raw):
    """(True, the parsed JSON of `raw`), or (False, None) when orjson refuses it and the standard library must
    parse it (its error messages). Callers look for floats of magnitude >= BIG_FLOAT: orjson reads integers
    beyond 64 bits as floats, which the standard library would keep as exact integers."""
    try:
        return True, orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False, None


# Digits 0-8 as 9: a run of 19 nines in the result is a run of 19 digits in the text.
_DIGITS_AS_NINES = bytes.maketrans(b"012345678", b"999999999")
_LONG_DIGIT_RUN = b"9" * 19


def may_hold_long_integer(text):
    """Whether the JSON text `text` has a run of 19 or more digits: an integer beyond 64 bits, which orjson
    reads as a float, needs one (so does some string: the caller then only takes the slow path). Mapped and
    searched as bytes, a fraction of both a regular expression's search and a walk of the parsed value."""
    return _LONG_DIGIT_RUN in text.encode("utf-8", "surrogatepass").translate(_DIGITS_AS_NINES)


def dumps(data, escape_line_separators=True):
    """Compact UTF-8 JSON of `data` as DRF's JSONRenderer writes it, or None when only DRF's encoder may.

    Without `escape_line_separators`, U+2028/U+2029 stay as they are, as DRF's JSONEncoder (not its
    renderer) writes them: the JSON Lines exports' spelling."""
    try:
        rendered = orjson.dumps(data, default=_ENCODER.default, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        return None
    # DRF escapes the two line separators JavaScript source cannot hold (UTF-8 E2 80 A8/A9 are only ever they).
    if escape_line_separators and (b"\xe2\x80\xa8" in rendered or b"\xe2\x80\xa9" in rendered):
        rendered = rendered.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
    return rendered


class FastJSONRenderer(JSONRenderer):
    """DRF's JSONRenderer, through orjson when the output is compact (it always is, unless ?indent is asked).

    One difference: NaN and infinities, which DRF refuses (a 500), orjson writes as null; no stored entry can
    hold one (canonical JSON refuses them), so no answer of the API carries one either."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is None:
            rendered = dumps(data)
            if rendered is not None:
                return rendered
        return super().render(data, accepted_media_type, renderer_context)
