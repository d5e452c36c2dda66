"""Writes a batch of ledger entries in one statement: COPY on PostgreSQL, Django's bulk INSERT elsewhere.

Django's bulk_create compiles an INSERT with one placeholder per value and adapts every value through the
field's full get_db_prep_save chain: for a batch of a thousand entries that cost several times what the
database spends storing them. On PostgreSQL the entries go in with COPY instead, the values converted
once per column kind. COPY fires the same row triggers as INSERT (the append-only guards, the chain
checks) and stores the same values: a column whose conversion is not one of the plain kinds below goes
through its field's own get_db_prep_save. insert_entries() writes all rows or none; a copy_writer() block
that stops early stores the rows it sent, for the caller to roll back (a savepoint).
"""

import contextlib
import datetime
import itertools
import operator
import uuid

import orjson
from django.db import connections, models

from ledgerproject.ledger import fast_batch

# Columns stored as their Python value (after the field's own to-db conversion, which for these is
# the identity or int()/str() on what full_clean already produced).
_PLAIN = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BigIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveIntegerField,
    models.SmallIntegerField,
    models.BooleanField,
)


def _overrides_pre_save(field):
    # auto_now / auto_now_add and file fields fill their value at save time; the rest return it as is.
    return type(field).pre_save is not models.Field.pre_save


def _keeps_aware_datetimes(field, connection):
    """Whether `field` stores an aware datetime as the object itself on `connection`: Django's own DateTimeField
    conversion (to_python and get_prep_value return an aware datetime unchanged) and a backend whose adapter
    hands datetimes to the driver as they are (PostgreSQL's; SQLite's writes text)."""
    if not isinstance(field, models.DateTimeField):
        return False
    # No class of the field's own (a subclass, a mixin anywhere in its MRO) converts values otherwise.
    for cls in type(field).__mro__:
        if cls not in _STOCK_TIME_CLASSES and any(name in cls.__dict__ for name in _TIME_CONVERSIONS):
            return False
    probes = (
        datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC),
        datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=-7))),
    )
    return all(connection.ops.adapt_datetimefield_value(probe) is probe for probe in probes)


_STOCK_TIME_CLASSES = (models.DateTimeField, models.DateField, models.Field)
_TIME_CONVERSIONS = ("to_python", "get_prep_value", "get_db_prep_value", "get_db_prep_save")


def _column_value(field, connection):
    """entry → the value COPY writes for `field`'s column."""
    attname = field.attname
    if (
        type(field).pre_save is models.DateTimeField.pre_save
        and not field.auto_now
        and not field.auto_now_add
        and type(field).get_db_prep_save is models.Field.get_db_prep_save
    ):
        # pre_save is then a read of the attribute; the entries of a batch share one recorded_at,
        # so its conversion is made once for each distinct datetime object in a row.
        as_is = _keeps_aware_datetimes(field, connection)

        def converted(value):
            if as_is and type(value) is datetime.datetime and value.utcoffset() is not None:
                return value  # what the conversion below returns for it, without its 4 µs
            return field.get_db_prep_save(value, connection)

        remembered = fast_batch.remember_last(converted, (datetime.datetime, type(None)))
        return lambda entry: remembered(getattr(entry, attname))
    if _overrides_pre_save(field):
        return lambda entry: field.get_db_prep_save(field.pre_save(entry, True), connection)
    if isinstance(field, models.JSONField) and field.encoder is None:

        def json_text(entry):
            value = getattr(entry, attname)
            if value is None:  # SQL NULL, as Django stores None
                return None
            try:
                return orjson.dumps(value).decode()
            except (TypeError, orjson.JSONEncodeError):  # beyond what orjson writes: Django's own adapter
                return field.get_db_prep_save(value, connection)

        return json_text
    if isinstance(field, _PLAIN) or isinstance(field, models.ForeignKey):
        if isinstance(field, models.ForeignKey) and not isinstance(field.target_field, _PLAIN):
            return lambda entry: field.get_db_prep_save(getattr(entry, attname), connection)
        return lambda entry: getattr(entry, attname)
    return lambda entry: field.get_db_prep_save(getattr(entry, attname), connection)


def _is_plain(field):
    if _overrides_pre_save(field):
        return False
    if isinstance(field, models.ForeignKey):
        return isinstance(field.target_field, _PLAIN)
    return isinstance(field, _PLAIN)


def copy_rows(model, entries, connection):
    """(columns, rows) COPY writes for `entries`: every concrete column, in the model's field order."""
    fields = [field for field in model._meta.concrete_fields if not getattr(field, "generated", False)]
    columns = [field.column for field in fields]
    # The plain columns of a row in one C call; only the others are converted one by one.
    read = fast_batch.attribute_getter([field.attname for field in fields])
    converted = [(i, _column_value(field, connection)) for i, field in enumerate(fields) if not _is_plain(field)]
    rows = []
    for entry in entries:
        row = list(read(entry))
        for i, value in converted:
            row[i] = value(entry)
        rows.append(row)
    return columns, rows


def _needs_copy_escape(text):
    """Whether `text` holds a character COPY's text format escapes (backslash, tab, newline, carriage return):
    asked of one value, or at once of a whole column's texts joined."""
    return "\\" in text or "\t" in text or "\n" in text or "\r" in text


def copy_escape(text):
    """A text value as COPY's text format spells it: backslash, tab, newline and carriage return escaped."""
    if _needs_copy_escape(text):
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def copy_text(rows):
    """The COPY text-format data of `rows` (lists of column values as copy_rows gives them), or None when
    a value is not one of the kinds spelled here (the driver's write_row then formats every row).

    The kinds are the values copy_rows hands over: text (JSON columns are already their text), integers,
    booleans, NULL, the batch's recorded_at and UUIDs; each is spelled as the driver's text dumpers spell
    it (ledger/tests/test_bulk_insert.py compares the stored rows of both).

    Spelled column by column: a column's values share one kind (one or two with NULL), so a whole column is
    converted by one C call (str() over integers, one scan for characters to escape over its texts) instead
    of a branch per value; the lines are then joined from the columns. A column of mixed kinds is spelled
    value by value (copy_cell), which is also what every column's spelling must equal.
    """
    columns = []
    for column in zip(*rows, strict=True):
        cells = _column_cells(column)
        if cells is None:
            return None
        columns.append(cells)
    lines = list(map("\t".join, zip(*columns, strict=True))) if columns else [""] * len(rows)
    lines.append("")
    return "\n".join(lines)


class _Unspelled(Exception):
    """A value copy_text leaves to the driver."""


def copy_cell(value, moments):
    """One value as COPY's text format spells it; `moments` remembers the text of each aware time seen."""
    kind = type(value)
    if kind is str:
        return copy_escape(value)
    if value is None:
        return "\\N"
    if kind is int:
        return str(value)
    if kind is bool:
        return "t" if value else "f"
    if kind is datetime.datetime:
        if value.tzinfo is None:
            raise _Unspelled  # a naive time: its meaning depends on the session's zone, the driver decides
        # Keyed with the offset: two times of one zone compare equal by their wall clock alone, and in the hour a
        # clock turns back one wall time is two instants (fold).
        key = (value, value.utcoffset())
        text = moments.get(key)
        if text is None:
            text = moments[key] = value.isoformat()
        return text
    if kind is uuid.UUID:
        return str(value)
    raise _Unspelled


_NULL = type(None)


def _column_cells(column):
    """The spelled values of one column (a tuple), or None when one is left to the driver."""
    kinds = set(map(type, column))
    nulls = _NULL in kinds
    kinds.discard(_NULL)
    if len(kinds) > 1:
        return _spelled_each(column)
    kind = kinds.pop() if kinds else _NULL
    values = [value for value in column if value is not None] if nulls else column
    if kind is str:
        spelled = list(map(copy_escape, values)) if _needs_copy_escape("".join(values)) else values
    elif kind is int or kind is uuid.UUID:
        spelled = list(map(str, values))
    elif kind is bool:
        spelled = ["t" if value else "f" for value in values]
    elif kind is datetime.datetime:
        first = values[0]
        if first.tzinfo is not None and all(map(operator.is_, values, itertools.repeat(first))):
            spelled = [first.isoformat()] * len(values)  # a batch's one recorded_at
        else:
            spelled = _spelled_each(values)
            if spelled is None:
                return None
    elif kind is _NULL:
        return ["\\N"] * len(column)
    else:
        return None
    if not nulls:
        return spelled
    texts = iter(spelled)
    return ["\\N" if value is None else next(texts) for value in column]


def _spelled_each(values):
    """copy_cell of each value (a column of mixed kinds, or of several times), or None when one is left to the
    driver."""
    moments = {}
    try:
        return [copy_cell(value, moments) for value in values]
    except _Unspelled:
        return None


# COPY costs two round trips (the statement, then the data), an INSERT one: below this many rows the
# INSERT's extra conversion work costs less than the round trip it saves (a single append is one row).
COPY_MIN_ROWS = 10


# Entries a COPY sends at once: enough text per write (tens of kB) for PostgreSQL to store one part while the
# next is prepared, few enough writes that each costs nothing noticeable.
COPY_PART = 64


def insert_entries(model, entries, using, prepare=None):
    """INSERT every entry in one statement, inside the caller's transaction. `prepare(entry)`, when given, is
    called on each entry, in order, before its row is made (the chain's seq and hashes): on PostgreSQL part
    by part as the COPY sends them, so the database stores one part while the next is prepared."""
    connection = connections[using]
    if connection.vendor != "postgresql" or len(entries) < COPY_MIN_ROWS:
        for entry in entries if prepare else ():
            prepare(entry)
        models.QuerySet(model, using=using).bulk_create(entries)
        return
    with copy_writer(model, using) as write:
        for start in range(0, len(entries), COPY_PART):
            part = entries[start : start + COPY_PART]
            for entry in part if prepare else ():
                prepare(entry)
            write(part)


@contextlib.contextmanager
def copy_writer(model, using):
    """One COPY … FROM STDIN into the model's table (PostgreSQL), in the caller's transaction: the block gets
    write(entries), which sends those entries' rows at once, so PostgreSQL stores each part while the caller
    prepares the next. The COPY ends with the block. A row the table refuses raises as Django translates
    every statement's errors (IntegrityError, …); an exception raised in the block abandons the COPY (psycopg
    then logs, and drops, any refusal of rows already sent) and is raised as it came."""
    connection = connections[using]
    columns, _ = copy_rows(model, (), connection)
    quote = connection.ops.quote_name
    sql = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(column) for column in columns)}) FROM STDIN"
    # The driver's own cursor (Django's wrapper has no copy()), in the same transaction.
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
        by_row = False  # once a part went row by row (the driver buffers those), every later part does too

        def write(entries):
            nonlocal by_row
            if not entries:
                return
            _, rows = copy_rows(model, entries, connection)
            data = None if by_row else copy_text(rows)
            if data is not None:
                copy.write(data)  # the rows as one COPY text, formatted here without a call per value
                return
            by_row = True  # kept in order: text goes out at once, rows wait in the driver's buffer
            for row in rows:
                copy.write_row(row)

        yield write
