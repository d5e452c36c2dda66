"""Helpers of the append path: the principal, batch checks, and the one query read under the lock."""

import functools

from django.core.exceptions import EmptyResultSet
from django.db import IntegrityError, connections, models, transaction
from django.db.models import sql
from django.db.models.query import QuerySet, ValuesListIterable

from ledgerproject.ledger import bulk_insert, hashing, latest
from ledgerproject.ledger.exceptions import BatchValidationError, ConflictError
from ledgerproject.ledger.locking import lock_ledger_then_fetch_all, sends_statements_together
from ledgerproject.ledger.rollups import record_statement
from ledgerproject.ledger.triggers import CoalescedColumn, unique_column_sets
from ledgerproject.ledger.validators import MAX_JSON_INT


def _principal(recorded_by):
    if recorded_by is None:
        return None, ""
    if isinstance(recorded_by, str):
        return None, recorded_by
    if not getattr(recorded_by, "is_authenticated", False):
        return None, ""
    return recorded_by.pk, recorded_by.get_username()


def _refuse_going_back_in_time(model, db, moment):
    """A backdated append (demo data) may not record a time before the ledger's last entry."""
    last = models.QuerySet(model, using=db).order_by("-seq").values_list("recorded_at", flat=True).first()
    if last is not None and moment < last:
        raise ValueError(f"{model.ledger_name}: {moment.isoformat()} is before the last entry's {last.isoformat()}")


def _refuse_repeats_within(entries):
    """Two items of one batch with the same natural key: the later one conflicts with the earlier.
    Entries whose scope counters are not assigned yet are checked once they are (under the lock)."""
    if not entries or not entries[0].natural_key_fields:
        return
    seen = {}
    for index, entry in enumerate(entries):
        if entry._pending_counters:
            continue
        key = entry.natural_key_value()
        if key in seen:
            raise BatchValidationError([(index, [f"repeats the key {key!r} of item {seen[key]} in the same batch"])])
        seen[key] = index


def _name_unhashable_fields(entry, exc):
    """The canonicalization error, under the name of each field that causes it."""
    names = []
    for field in entry.content_fields():
        try:
            hashing.canonical_json(hashing.jsonable(getattr(entry, field.attname)))
        except hashing.CanonicalizationError:
            names.append(field.name)
    return {name: [str(exc)] for name in names} if names else [str(exc)]


def _loaded_ledger_entry(entry, field, db):
    """Whether the entry's `field` holds a ledger entry read from `db` (the run of a run event, the release a
    promote supersedes): ledger entries are never deleted, so that row exists without asking again."""
    target = field.get_cached_value(entry, default=None)
    return (
        target is not None
        and getattr(type(target), "ledger_name", None) is not None
        and not target._state.adding
        and target._state.db == db
        and getattr(target, field.target_field.attname) == getattr(entry, field.attname)
    )


def _missing_targets(entries, relations, db):
    """(index, messages) for entries whose foreign keys point at rows that do not exist."""
    problems = []
    for field in relations:
        if len(entries) == 1 and _loaded_ledger_entry(entries[0], field, db):
            continue
        wanted = {getattr(entry, field.attname) for entry in entries} - {None}
        if not wanted:
            continue
        target = field.related_model._base_manager.using(db)
        found = set(
            target.filter(**{f"{field.target_field.attname}__in": wanted}).values_list(
                field.target_field.attname, flat=True
            )
        )
        for index, entry in enumerate(entries):
            value = getattr(entry, field.attname)
            if value is None and not field.null:
                problems.append((index, {field.name: ["This field cannot be null."]}))
            elif value is not None and value not in found:
                problems.append(
                    (index, {field.name: [f"{field.related_model._meta.verbose_name} {value!r} does not exist."]})
                )
    return problems


def _refuse_conflicts_and_read_tip(model, entries, db, lock=False, then=None, keys=True, counters=None, state=None):
    """Raise ConflictError for a stored natural key; else return the tip's (seq, entry_hash).

    Runs under the lock, after it was taken (a statement's snapshot predates the statement, so the
    tip must not be read by the one that locks). Stored keys and the tip come back in one query;
    with `lock`, the ledger's lock is taken first, in the same round trip. `then()` runs under the
    lock once they are read and before a stored key is reported (the ledger's state rules: a finished
    run refuses a replayed event as finished, as when those rules ran before the read). Without
    `keys` only the tip is read: the caller leaves stored keys to the insert (insert_checking_keys).
    With `lock` and a dict `counters`, the scope counters' reads (_counter_reads) go in the same message,
    each its own statement after the lock, and their rows are left in `counters` for _assign_scope_counters.
    With `lock` and a dict `state`, so do the ledger's state_reads(), and their rows are left in `state` for the
    rules `then()` runs.
    """
    connection = connections[db]
    sql, params = _conflicts_and_tip_sql(model, entries, connection, keys=keys)
    if lock:
        reads = _counter_reads(model, entries, connection) if counters is not None else {}
        state_reads = {}
        for name, read in (model.state_reads(entries, connection) if state is not None else {}).items():
            compiled = _compiled_state_read(model, name, read, connection)
            if compiled is None:
                state[name] = []  # a read that can match nothing is not sent
            else:
                state_reads[name] = compiled
        rows, *read_rows = lock_ledger_then_fetch_all(
            connection,
            model.ledger_name,
            [(sql, params), *reads.values(), *((sql, params) for sql, params, _ in state_reads.values())],
        )
        if reads:
            counters.update(zip(reads, read_rows[: len(reads)], strict=True))
        for (name, (_, _, convert)), found in zip(state_reads.items(), read_rows[len(reads) :], strict=True):
            state[name] = convert(found)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    if then is not None:
        then()
    _raise_for_stored_keys(model, entries, db, rows)
    if not rows:
        return 0, hashing.GENESIS_HASH
    seq, entry_hash, _ = max(rows, key=lambda row: row[0])
    return int(seq), entry_hash


def _compiled_state_read(model, name, read, connection):
    """(sql, params, convert) of one of a ledger's state_reads(), or None for a QuerySet that can match nothing.

    A (sql, params) pair's rows reach the rules as the database answers them; a values_list() QuerySet's as
    iterating it would give them, each column through its field's converters (a JSON column as its value)."""
    if not isinstance(read, QuerySet):
        sql, params = read
        return sql, params, list
    if read._iterable_class is not ValuesListIterable:
        raise TypeError(
            f"{model.__name__}.state_reads()[{name!r}]: a QuerySet read under the lock must be a values_list() "
            "of columns (or a (sql, params) pair)"
        )
    compiler = read.query.get_compiler(connection=connection)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return None
    width = compiler.col_count if compiler.has_extra_select else None

    def convert(rows):
        # As the compiler's own fetch does: columns it added for ordering (distinct() ordered by an unselected column)
        # are cut off before the fields' converters run.
        if width is not None:
            rows = [row[:width] for row in rows]
        return list(compiler.results_iter(results=[rows], tuple_expected=True))

    return sql, params, convert


def _raise_for_stored_keys(model, entries, db, rows):
    """ConflictError for the first entry (in batch order) whose key is stored, from the rows of
    _conflicts_and_tip_sql; nothing when none of them is a hit."""
    hits = [seq for seq, _, hit in rows if hit]
    if hits:
        # A stored key (the error path): load those entries whole for the 409 and match exactly.
        stored_entries = model._base_manager.using(db).filter(seq__in=hits)
        existing = {stored.natural_key_value(): stored for stored in stored_entries}
        for index, entry in enumerate(entries):
            stored = existing.get(entry.natural_key_value())
            if stored is not None:
                identical = stored.hashed_content_json() == entry._content_json
                raise ConflictError(stored, identical, index=index if len(entries) > 1 else None)


@functools.cache
def _unique_index_refuses_stored_keys(model):
    """Whether one of the table's unique indexes refuses every repeat of a stored natural key: an index
    without a condition over some of the key's columns only, each NOT NULL or compared through COALESCE
    (a plain unique index lets NULLs repeat, while the key check matches None with None). Such an index
    may refuse more than the key check (COALESCE makes None and "" one tenant); never less."""
    meta = model._meta
    key_columns = {meta.get_field(name).column for name in model.natural_key_fields}
    nullable = {field.column for field in meta.concrete_fields if field.null}
    return any(
        condition is None
        and set(columns) <= key_columns
        and all(isinstance(column, CoalescedColumn) or column not in nullable for column in columns)
        for columns, condition in unique_column_sets(model)
    )


def _insert_checks_stored_keys(model, db):
    """Whether a batch's COPY can leave its stored keys to the table's unique index: PostgreSQL, and an
    index that refuses every repeat of the ledger's natural key."""
    return (
        bool(model.natural_key_fields)
        and connections[db].vendor == "postgresql"
        and _unique_index_refuses_stored_keys(model)
    )


def leaves_keys_to_insert(model, entries, db):
    """Whether this batch's stored-key check can wait for the insert (insert_checking_keys) instead of
    running a query under the lock on every append.

    Only where nothing is decided between the tip and the insert that the check would come before: no
    scope counter left to number (numbering may refuse a batch, after a stored key would have been
    reported). Several entries on PostgreSQL: a single append already sends its check, insert and UPSERTs
    in one message.
    """
    return (
        len(entries) > 1
        and not any(entry._pending_counters for entry in entries)
        and _insert_checks_stored_keys(model, db)
    )


def streams_into_copy(model, rows, db):
    """Whether this batch can be checked, chained and sent to its COPY item by item under the lock
    (entries._append_streamed): PostgreSQL stores the first items while the next are built and checked.

    Only where nothing needs the database between the tip and the insert but the insert itself: the COPY
    path (PostgreSQL, enough rows), stored keys left to the unique index, no scope counter left to number
    (every row gives it), no foreign key to look up and no state rule of the ledger to run under the lock.
    """
    if len(rows) < bulk_insert.COPY_MIN_ROWS or not _insert_checks_stored_keys(model, db):
        return False
    if any(field.is_relation for field in model.content_fields()) or model.state_rules_apply_to(rows):
        return False
    counters = tuple(model.scope_counters)
    return not counters or all(row.get(name) is not None for row in rows for name in counters)


def no_key_can_be_stored(model, entries):
    """Whether the stored-key check could find nothing: every entry leaves a NOT NULL key column to the
    ledger's numbering (run events without `seq`). The check matches that column's None with NULL only,
    and the number it gets is above its scope's highest, so it repeats no stored key (ledger.E024)."""
    meta = model._meta
    counted = {
        name for name in model.scope_counters if name in model.natural_key_fields and not meta.get_field(name).null
    }
    return bool(counted) and all(counted.intersection(entry._pending_counters) for entry in entries)


def insert_checking_keys(model, entries, db, prepare=None):
    """Insert the batch (bulk_insert, each entry `prepare`d as it goes) inside a savepoint, the table's unique
    index checking the stored keys.

    On a refusal the savepoint rolls back and the stored-key check runs, under the lock still held, and
    raises the ConflictError it would have raised before the insert (the same entry, index and
    `identical`); a refusal it does not explain (another constraint) is raised as it came.
    """
    try:
        with transaction.atomic(using=db):
            bulk_insert.insert_entries(model, entries, db, prepare)
    except IntegrityError:
        _refuse_conflicts_and_read_tip(model, entries, db)  # the check it left to the insert: raises on a stored key
        raise


def _one_of(field, values, connection):
    """(sql, params): `field`'s column holds one of `values` (at least one, no None). On PostgreSQL several
    values go as one array parameter: the driver binds a batch's keys in one call and PostgreSQL parses one
    literal (IN (…) becomes = ANY anyway); elsewhere, a placeholder per value."""
    column = connection.ops.quote_name(field.column)
    prepared = [field.get_db_prep_value(value, connection, prepared=False) for value in values]
    if len(prepared) > 1 and connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [prepared]
    return f"{column} IN ({', '.join(['%s'] * len(prepared))})", prepared


def _conflicts_and_tip_sql(model, entries, connection, keys=True):
    """SELECT seq, entry_hash, hit: the rows whose natural key fields hold the entries' values
    (hit = 1), and the newest row (alone without `keys`). Written by hand: the ORM spent more time
    building this query than the database running it, on every append."""
    quote = connection.ops.quote_name
    meta = model._meta
    table, seq = quote(meta.db_table), quote(meta.get_field("seq").column)
    newest = f"{seq} = (SELECT MAX({seq}) FROM {table})"
    if not (keys and model.natural_key_fields):
        return f"SELECT {seq}, {quote(meta.get_field('entry_hash').column)}, 0 FROM {table} WHERE {newest}", []
    entry_keys = {entry.natural_key_value() for entry in entries}
    # One IN list per key field (a composite key is matched exactly in Python): no OR chain, which
    # SQLite refuses past a depth of 1000 and which plans badly everywhere.
    conditions, params = [], []
    for i, name in enumerate(model.natural_key_fields):
        field = meta.get_field(name)
        wanted = {key[i] for key in entry_keys}
        values = sorted(wanted - {None}, key=str)
        parts = []
        if values:
            condition, more = _one_of(field, values, connection)
            parts.append(condition)
            params.extend(more)
        # A key part may be NULL (an entry with no tenant): NULL never matches IN, so say it apart.
        if None in wanted:
            parts.append(f"{quote(field.column)} IS NULL")
        conditions.append(f"({' OR '.join(parts)})")
    matches = " AND ".join(conditions)
    return (
        f"SELECT {seq}, {quote(meta.get_field('entry_hash').column)}, CASE WHEN {matches} THEN 1 ELSE 0 END "
        f"FROM {table} WHERE ({matches}) OR {newest}",
        params + params,
    )


def _pending_counters(entry):
    """The scope counters (scope_counters) this entry leaves to the ledger: those that are None."""
    return tuple(name for name in entry.scope_counters if getattr(entry, name) is None)


def _highest_counters_statement(model, counter, scope, wanted, connection):
    """(sql, params) of one grouped MAX, written by hand (on every run event the ORM took longer to build it
    than the database to run it): the highest stored `counter` of each scope among `wanted` (tuples of the
    scope fields' values) that has entries; None when no stored scope can match."""
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in scope]
    conditions, params = [], []
    for i, field in enumerate(fields):
        values = sorted({key[i] for key in wanted} - {None}, key=str)
        if not values:  # NULL matches no IN list: no stored scope can hold it
            return None
        condition, more = _one_of(field, values, connection)
        conditions.append(condition)
        params += more
    columns = ", ".join(quote(field.column) for field in fields)
    sql = (
        f"SELECT {columns}, MAX({quote(model._meta.get_field(counter).column)}) FROM {quote(model._meta.db_table)} "
        f"WHERE {' AND '.join(conditions)} GROUP BY {columns}"
    )
    return sql, params


def _highest_counters_from(model, scope, rows):
    """(scope key, highest counter) pairs of _highest_counters_statement's rows. Keys come back as the entries
    hold them (a run's UUID, not its text)."""
    fields = [model._meta.get_field(name) for name in scope]
    python = [(field.target_field if field.is_relation else field).to_python for field in fields]
    return [(tuple(to_python(value) for to_python, value in zip(python, row, strict=False)), row[-1]) for row in rows]


def _pending_scopes(model, entries):
    """(counter, scope fields, entry → its scope key, the keys of the entries that leave `counter` to the ledger)
    for each scope counter some of these entries leave empty."""
    meta = model._meta
    for counter, scope in model.scope_counters.items():
        pending = [entry for entry in entries if counter in entry._pending_counters]
        if not pending:
            continue
        columns = [meta.get_field(name).attname for name in scope]

        def scope_of(entry, columns=columns):
            return tuple(getattr(entry, column) for column in columns)

        yield counter, scope, scope_of, {scope_of(entry) for entry in pending}


def _counter_reads(model, entries, connection):
    """{counter: (sql, params)} of the reads _assign_scope_counters needs for these entries: one grouped MAX per
    counter that some entry leaves to the ledger (and that a stored scope can match)."""
    reads = {}
    for counter, scope, _scope_of, wanted in _pending_scopes(model, entries):
        statement = _highest_counters_statement(model, counter, scope, wanted, connection)
        if statement is not None:
            reads[counter] = statement
    return reads


def _assign_scope_counters(model, entries, read):
    """Under the lock: number the entries that left a scope counter empty, then finish their canonical
    content (the rest of it was canonicalized before the lock), and refuse repeats within the batch.

    Each gets one above the highest number of its scope, stored or earlier in the batch (a number an
    entry gives itself counts too), from `read`: {counter: rows} of the grouped MAX reads (_counter_reads)
    that _refuse_conflicts_and_read_tip ran in the lock's own message.
    """
    if not any(entry._pending_counters for entry in entries):
        return
    meta = model._meta
    for counter, scope, scope_of, wanted in _pending_scopes(model, entries):
        highest = dict.fromkeys(wanted, 0)
        for key, top in _highest_counters_from(model, scope, read.get(counter, ())):
            if key in highest:  # IN lists per column: match the whole scope exactly here
                highest[key] = top or 0
        problems = []
        for index, entry in enumerate(entries):
            key = scope_of(entry)
            if key not in highest:
                continue
            if counter in entry._pending_counters:
                highest[key] += 1
                if highest[key] > MAX_JSON_INT:
                    problems.append((index, {counter: [f"{counter} would pass {MAX_JSON_INT}"]}))
                setattr(entry, counter, highest[key])
            elif (given := getattr(entry, counter)) is not None:
                highest[key] = max(highest[key], given)
        if problems:
            raise BatchValidationError(problems)
    for entry in entries:
        if entry._pending_counters:
            values = {meta.get_field(name).attname: getattr(entry, name) for name in entry._pending_counters}
            entry._content_json = hashing.fill_parts(entry._content_parts, values)
            entry._pending_counters = ()
    _refuse_repeats_within(entries)


# (model, database vendor) → (the fields inserted, the text of one entry's INSERT as Django's compiler wrote it
# the first time).
_INSERT_TEXTS = {}


def insert_statement(model, entry, connection):
    """(sql, params) of one entry's INSERT, as Django's compiler writes it.

    The text is the same for every entry of a model, and writing it took the compiler longer than preparing the
    values (under the ledger's lock): it is written once per model and vendor, and afterwards each value is
    prepared as the compiler prepares it (the field's pre_save, then get_db_prep_save). An expression among the
    values, or a field with its own placeholder, goes through the compiler every time.
    """
    key = (model, connection.vendor)
    written = _INSERT_TEXTS.get(key)
    if written is not None:
        fields, text = written
        values = [field.pre_save(entry, True) for field in fields]
        if not any(hasattr(value, "resolve_expression") or hasattr(value, "as_sql") for value in values):
            return text, [
                field.get_db_prep_save(value, connection=connection)
                for field, value in zip(fields, values, strict=True)
            ]
    fields = [field for field in model._meta.concrete_fields if not field.generated]
    query = sql.InsertQuery(model)
    query.insert_values(fields, [entry])
    [(statement, params)] = query.get_compiler(connection=connection).as_sql()
    plain = not any(hasattr(field, "get_placeholder") for field in fields)
    if written is None and plain and len(params) == len(fields) == statement.count("%s"):
        _INSERT_TEXTS[key] = fields, statement
    return statement, params


def _insert_one_with_rollups(model, entries, db, commit=False):
    """One entry's INSERT, its rollups' UPSERT and its latest-entry rows' UPSERT (ledger/latest.py) in one
    message (one round trip, and the ledger's lock held that much shorter) where the connection can send
    them together; True when done, False to leave it to the batch path (several entries, or SQLite /
    server-side binding).

    With `commit` (only for the connection's outermost transaction, which Django commits next anyway) the
    message ends with COMMIT. The ledger's lock, a transaction-level advisory lock, then goes the moment the
    row is stored: not one more round trip later, and not after this thread has won the interpreter back from
    the worker's other threads, which is what kept concurrent appenders queued on the lock. A statement that
    fails stops the message before its COMMIT, and the atomic block rolls everything back as before; on the
    way out Django's commit() finds no transaction open and psycopg sends nothing.
    """
    connection = connections[db]
    if len(entries) != 1 or not sends_statements_together(connection):
        return False
    insert, params = insert_statement(model, entries[0], connection)
    following = latest.statements(model, entries, db)
    if (upsert := record_statement(model, entries, db)) is not None:
        following.insert(0, upsert)
    for statement, more in following:
        insert, params = f"{insert}; {statement}", [*params, *more]
    if commit:
        insert = f"{insert}; COMMIT"
    with connection.cursor() as cursor:
        cursor.execute(insert, params)
    return True
