"""JSON Lines and CSV renderers; lists stream through them (see api.LedgerViewSet.list)."""

import csv
import io
import json

from rest_framework.renderers import BaseRenderer
from rest_framework.utils.encoders import JSONEncoder

# DRF's encoder: datetimes, decimals and UUIDs come out as they do in JSON responses.
_encode = JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class JSONLinesRenderer(BaseRenderer):
    media_type = "application/x-ndjson"
    format = "jsonl"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        rows = data if isinstance(data, list) else [data]
        return "".join(_encode(row) + "\n" for row in rows).encode()


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def flatten(row, prefix=""):
    """One CSV row out of a nested entry: nested objects become dotted columns, lists JSON text."""
    flat = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        elif isinstance(value, str) and value[:1] in FORMULA_PREFIXES:
            # A spreadsheet would run "=…" as a formula: keep client text as text.
            flat[name] = "'" + value
        else:
            flat[name] = "" if value is None else value
    return flat


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        rows = data if isinstance(data, list) else [data]
        rows = [flatten(row) for row in rows if isinstance(row, dict)]
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        return buffer.getvalue().encode()


def stream_jsonl(rows, rows_per_chunk=500):
    """JSON Lines in chunks of a few hundred rows: one chunk per row would cost more than the rows."""
    lines = []
    for row in rows:
        lines.append(_encode(row))
        if len(lines) >= rows_per_chunk:
            yield "\n".join(lines) + "\n"
            lines.clear()
    if lines:
        yield "\n".join(lines) + "\n"


def stream_csv(rows):
    """CSV with the header taken from the first row; later rows keep those columns."""
    buffer = io.StringIO()
    writer = None
    for row in rows:
        flat = flatten(row)
        if writer is None:
            writer = csv.DictWriter(buffer, fieldnames=list(flat), extrasaction="ignore")
            writer.writeheader()
        writer.writerow(flat)
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
