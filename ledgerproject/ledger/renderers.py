"""JSON Lines and CSV renderers; lists stream through them (see api.LedgerViewSet.list).

CSV columns are fixed per list, derived once from its serializer's fields (`csv_columns`): a nested
serializer becomes dotted columns (`ledger.seq`), any other object or array one JSON cell. Every row
then has the same columns, whatever fields the first row happens to hold, and the header is written
even when no row matches.
"""

import csv
import io
import json

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.utils.encoders import JSONEncoder

from ledgerproject.ledger import fastjson

# DRF's encoder: datetimes, decimals and UUIDs come out as they do in JSON responses.
_drf_encoder = JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_encode = _drf_encoder.encode


def encode_line(row):
    """One JSON Lines row as UTF-8 bytes, by orjson (fastjson: C, several times json's speed on exports;
    datetimes, decimals and UUIDs spelled by DRF's encoder), so a streamed row reads as the same row of a
    JSON response; a row orjson cannot write at all goes through DRF's encoder whole."""
    line = fastjson.dumps(row, escape_line_separators=False)
    return line if line is not None else _encode(row).encode()


def as_rows(data):
    """What an export renderer writes: a list response row by row, an object (one entry, an error) as one row."""
    return data if isinstance(data, list) else [data]


class JSONLinesRenderer(BaseRenderer):
    media_type = "application/x-ndjson"
    format = "jsonl"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        rows = as_rows(data)
        return "".join(_encode(row) + "\n" for row in rows).encode()


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _json_cell(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), cls=JSONEncoder)


def _cell(value):
    if isinstance(value, dict | list):
        return _json_cell(value)
    if isinstance(value, str) and value[:1] in FORMULA_PREFIXES:
        # A spreadsheet would run "=…" as a formula: keep client text as text.
        return "'" + value
    return "" if value is None else value


def flatten(row, prefix="", nested=None):
    """One CSV row out of a nested entry.

    With `nested` (the dotted prefixes that csv_columns() made columns of), only those objects become
    dotted columns and every other object or array is one JSON cell. Without it (a list with no
    serializer), every object becomes dotted columns and arrays JSON text.
    """
    flat = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and (nested is None or name in nested):
            flat.update(flatten(value, f"{name}.", nested))
        elif value is None and nested is not None and name in nested:
            continue  # a null object: its dotted columns stay empty
        else:
            flat[name] = _cell(value)
    return flat


def csv_columns(serializer, prefix=""):
    """The CSV columns of a serializer's rows: its fields in order, a nested serializer's as dotted columns."""
    from rest_framework import serializers

    columns = []
    for name, field in serializer.fields.items():
        if field.write_only:
            continue
        if isinstance(field, serializers.Serializer):
            columns += csv_columns(field, f"{prefix}{name}.")
        else:
            columns.append(f"{prefix}{name}")
    return columns


def nested_prefixes(columns):
    """The objects that csv_columns() spelled as dotted columns: "ledger" for "ledger.seq"."""
    return {".".join(column.split(".")[:i]) for column in columns for i in range(1, column.count(".") + 1)}


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        rows = as_rows(data)
        view = (renderer_context or {}).get("view")
        declared = getattr(view, "get_csv_columns", None)
        response = (renderer_context or {}).get("response")
        if declared is not None and (response is None or response.status_code < 400):
            # The view knows its columns: the same whatever the rows hold, and a header when there are none.
            columns = declared()
            nested = nested_prefixes(columns)
            rows = [flatten(row, nested=nested) for row in rows if isinstance(row, dict)]
        else:
            rows = [flatten(row) for row in rows if isinstance(row, dict)]
            # No declared columns: every column any row has, in order of appearance, so a field the
            # first row lacks (a null object, say) is not dropped from the others.
            columns = list(dict.fromkeys(column for row in rows for column in row))
        buffer = io.StringIO()
        if columns:
            writer = csv.DictWriter(buffer, fieldnames=columns, restval="", extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        return buffer.getvalue().encode()


def stream_jsonl(rows, rows_per_chunk=500):
    """JSON Lines in chunks of a few hundred rows (bytes): one chunk per row would cost more than the rows."""
    lines = []
    for row in rows:
        lines.append(encode_line(row))
        if len(lines) >= rows_per_chunk:
            yield b"\n".join(lines) + b"\n"
            lines.clear()
    if lines:
        yield b"\n".join(lines) + b"\n"


def stream_csv(rows, columns):
    """CSV with a fixed header (`columns`, see csv_columns), written even when there are no rows."""
    buffer = io.StringIO()
    nested = nested_prefixes(columns)
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(flatten(row, nested=nested))
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


class ExplicitFormatNegotiation(DefaultContentNegotiation):
    """`?format=` names the representation outright, so it wins over the Accept header.

    DRF intersects the two and answers 406 to `?format=jsonl` sent with `Accept: application/json`
    (which generated clients send on every call); a format the route does not render stays a 404.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        fmt = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        if fmt:
            named = [renderer for renderer in renderers if renderer.format == fmt]
            if named:
                return named[0], named[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
