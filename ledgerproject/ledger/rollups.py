"""Rollups: the counts pages show (per ledger, tenant, dimension, key and day), kept on append.

Pages never count a ledger table at request time: they sum Rollup rows, whose number grows with
days and distinct keys, never with entries. Every ledger has the dimension `entries` (key "", day
of recorded_at: ledger sizes and activity); a ledger model adds its own in `rollups`, a tuple of
Dimension. append_many() calls record() inside the appending transaction, under the ledger's lock,
after the insert: one UPSERT statement per batch (the counts are summed in Python first), so a
batch that rolls back leaves its rollups unchanged, and concurrent appends never lose an update.

Rollup rows are derived state, not ledger entries: `rebuild_rollups` recomputes them from the
table, and `verify_ledgers --rollups` (check()) compares them with a count over the table.
"""

import datetime
import functools
from collections import Counter

from django.db import connections, models, router, transaction

from ledgerproject.ledger.locking import lock_ledger

ENTRIES = "entries"
NO_TENANT = ""
REBUILD_CHUNK = 5000


def recorded_day(entry):
    """The UTC day the entry was recorded (the kernel's day)."""
    return entry.recorded_at.astimezone(datetime.UTC).date()


def ms_day(ms):
    """The UTC day of a millisecond timestamp (a claimed time such as enhancelog's ts_ms); a claim
    past the calendar (year 9999) counts on its last day."""
    return _day_number(ms // 86_400_000)


@functools.lru_cache(maxsize=4096)
def _day_number(days):
    """The date `days` after 1970-01-01, remembered: a batch's claimed times fall on a few days."""
    if days > LAST_DAY_NUMBER:
        return datetime.date.max
    return EPOCH + datetime.timedelta(days=days)


EPOCH = datetime.date(1970, 1, 1)
LAST_DAY_NUMBER = (datetime.date.max - EPOCH).days
# The one day of an all-time dimension: its rows are totals per (tenant, key), however many days the
# entries span, so a page ranking keys over all time reads one row per key, not one per key and day.
ALL_TIME = EPOCH


def all_time(entry):
    return ALL_TIME


def monthly(day_of):
    """A Dimension's day function that counts an entry on the first day of the month `day_of` gives: a
    month's row stands for its days' rows, so a long window reads one row per key and month (rows_since)."""

    def month_of(entry):
        return day_of(entry).replace(day=1)

    return month_of


def next_month(day):
    """The first day of the month after `day`'s, or None past the calendar."""
    if (day.year, day.month) == (datetime.date.max.year, 12):
        return None
    return (day.replace(day=1) + datetime.timedelta(days=31)).replace(day=1)


class Dimension:
    """One grouping a page shows: `key(entry)` gives a key, several (a list, tuple or set) or None
    (the entry is not counted); keys are stored as text. `day(entry)` is the day it counts on
    (default: recorded_day)."""

    def __init__(self, name, key, day=recorded_day):
        self.name = name
        self.key = key if callable(key) else (lambda entry, field=key: getattr(entry, field))
        self.day = day


MANY = (list, tuple, set, frozenset)  # a key function may give several keys
TEXT_OR_NONE = frozenset((str, type(None)))
KERNEL_DIMENSIONS = (Dimension(ENTRIES, lambda entry: ""),)


class Rollup(models.Model):
    """How many entries of `ledger` (tenant "" = no tenant) counted under (dimension, key) on `day`."""

    replica_reads = True  # shown on pages; see ledger/routers.py

    ledger = models.CharField(max_length=64)
    dimension = models.CharField(max_length=64)
    day = models.DateField()
    tenant = models.CharField(max_length=256, blank=True)
    key = models.CharField(max_length=512, blank=True)
    n = models.BigIntegerField(default=0)

    class Meta:
        app_label = "ledger"
        constraints = [
            models.UniqueConstraint(fields=["ledger", "dimension", "day", "tenant", "key"], name="ledger_rollup_unique")
        ]
        # Counts of given keys over all days (the release pages: entries per name of one page).
        indexes = [models.Index(fields=["ledger", "dimension", "key"], name="ledger_rollup_key")]

    def __str__(self):
        return f"{self.ledger}/{self.dimension}/{self.key or '-'} {self.day} [{self.tenant or 'no tenant'}]: {self.n}"


def dimensions(model):
    return (*KERNEL_DIMENSIONS, *getattr(model, "rollups", ()))


def _tenants(model, entries, db):
    """Each entry's tenant id ("" for none), in order: its own column, or its parent's read in
    one query per batch (run events: the run's; reviews: the entry's)."""
    field = model.tenant_field
    if not field:
        return [NO_TENANT] * len(entries)
    if "__" not in field:
        return [getattr(entry, field) or NO_TENANT for entry in entries]
    relation, rest = field.split("__", 1)
    fk = model._meta.get_field(relation)
    found = {}
    for entry in entries:  # a parent the caller passed in (run events get their run): no query
        if fk.is_cached(entry) and (parent := fk.get_cached_value(entry)) is not None:
            for part in rest.split("__"):
                parent = getattr(parent, part, None)
            found[getattr(entry, fk.attname)] = parent
    wanted = {getattr(entry, fk.attname) for entry in entries} - {None} - set(found)
    if wanted:
        target = fk.target_field.attname
        parents = fk.related_model._base_manager.using(db).filter(**{f"{target}__in": wanted})
        found.update(parents.values_list(target, rest))
    return [found.get(getattr(entry, fk.attname)) or NO_TENANT for entry in entries]


def counts(model, entries, db):
    """Counter of (dimension, day, tenant, key) → n for these entries (seq and recorded_at set)."""
    prepare = getattr(model, "prepare_rollups", None)
    if prepare is not None:
        prepare(entries, using=db)
    found = Counter()
    tenants = _tenants(model, entries, db)
    days_of = {}  # day function → each entry's day, computed once per entry however many dimensions share it
    keys_of = {}  # key function → each entry's key, computed once per entry however many dimensions share it
    for dim in dimensions(model):
        name, key_of, day_of = dim.name, dim.key, dim.day
        keys = keys_of.get(key_of)
        if keys is None:
            keys = keys_of[key_of] = list(map(key_of, entries))
        every = None not in keys
        counted = range(len(keys)) if every else [i for i, key in enumerate(keys) if key is not None]
        days = days_of.get(day_of)
        if days is None:
            days = days_of[day_of] = [None] * len(entries)
        if day_of is recorded_day:
            shared = {}  # a batch shares one recorded_at: its day is computed once
            for i in counted:
                if days[i] is None:
                    at = entries[i].recorded_at
                    day = shared.get(at)
                    if day is None:
                        day = shared[at] = recorded_day(entries[i])
                    days[i] = day
        else:
            for i in counted:
                if days[i] is None:
                    days[i] = day_of(entries[i])
        # The (day, tenant, key) groups are counted by Counter's C loop, then added once per group (a batch has
        # a few), not once per entry.
        if set(map(type, keys)) <= TEXT_OR_NONE:  # text keys (most dimensions): zip() makes the triples
            if every:
                triples = zip(days, tenants, keys, strict=True)
            else:
                triples = ((days[i], tenants[i], keys[i]) for i in counted)
        else:
            groups = _text_tuple_groups(days, tenants, keys, counted, every)
            if groups is not None:
                for (day, tenant, several), n in groups.items():
                    for key in several:
                        found[(name, day, tenant, key)] += n
                continue
            # Several keys per entry (a list of axes, …) or keys that are not text: one (day, tenant, text) per key.
            triples = (
                (days[i], tenants[i], str(key))
                for i in counted
                for key in (keys[i] if type(keys[i]) in MANY else (keys[i],))
            )
        for (day, tenant, key), n in Counter(triples).items():
            found[(name, day, tenant, key)] += n
    return found


def _text_tuple_groups(days, tenants, keys, counted, every):
    """Counter of (day, tenant, keys) when each counted entry's keys are a tuple of text (several keys per entry, as a
    ledger's axes), else None. Entries sharing all three (most of a batch) are then counted once each by Counter's C
    loop, instead of one (day, tenant, key) made per key of every entry. Checked on the groups: a tuple holding
    anything but text is left to the per-key count (as dict keys 1 and True are one; as text they are two)."""
    if set(map(type, keys)) - {type(None)} != {tuple}:
        return None
    if every:
        groups = Counter(zip(days, tenants, keys, strict=True))
    else:
        groups = Counter((days[i], tenants[i], keys[i]) for i in counted)
    if any(type(key) is not str for _, _, several in groups for key in several):
        return None
    return groups


def record(model, entries, db):
    """Add these just-inserted entries to their rollups: one UPSERT for the batch. Call it inside
    the appending transaction, under the ledger's lock."""
    _upsert(model.ledger_name, counts(model, entries, db), db)


def record_statement(model, entries, db):
    """(sql, params) of the UPSERT record() would run for these entries, or None when they count nothing:
    for a caller that sends it in one message with the entries' INSERT."""
    return _upsert_statement(model.ledger_name, counts(model, entries, db), connections[db])


def _upsert_statement(ledger, found, connection):
    if not found:
        return None
    table = connection.ops.quote_name(Rollup._meta.db_table)
    day_field = Rollup._meta.get_field("day")
    rows, params = [], []
    for (dimension, day, tenant, key), n in sorted(found.items()):
        rows.append("(%s, %s, %s, %s, %s, %s)")
        params += [ledger, dimension, day_field.get_db_prep_value(day, connection), tenant, key, n]
    sql = (
        f"INSERT INTO {table} (ledger, dimension, day, tenant, key, n) VALUES {', '.join(rows)} "
        f"ON CONFLICT (ledger, dimension, day, tenant, key) DO UPDATE SET n = {table}.n + excluded.n"
    )
    return sql, params


def _upsert(ledger, found, db):
    connection = connections[db]
    statement = _upsert_statement(ledger, found, connection)
    if statement is None:
        return
    with connection.cursor() as cursor:
        cursor.execute(*statement)


def count_table(model, using=None, source=None):
    """The rollups of `model` recomputed from its table, in seq order (Counter, as counts() gives).

    `source` is the manager to read the rows through (a migration passes its historical model's).
    """
    db = using or router.db_for_read(model)
    manager = source if source is not None else model._base_manager
    total, last = Counter(), 0
    while True:
        chunk = list(manager.using(db).filter(seq__gt=last).order_by("seq")[:REBUILD_CHUNK])
        if not chunk:
            return total
        total.update(counts(model, chunk, db))
        last = chunk[-1].seq


def stored(ledger, using=None):
    db = using or router.db_for_read(Rollup)
    rows = Rollup.objects.using(db).filter(ledger=ledger, n__gt=0)
    return Counter({(r.dimension, r.day, r.tenant, r.key): r.n for r in rows})


def rebuild(model, using=None, source=None):
    """Replace the ledger's rollups with a count over its table (under its lock: no append in between)."""
    db = using or router.db_for_write(model)
    with transaction.atomic(using=db):
        lock_ledger(connections[db], model.ledger_name)
        Rollup.objects.using(db).filter(ledger=model.ledger_name).delete()
        found = count_table(model, db, source)
        _upsert_chunked(model.ledger_name, found, db)
    return sum(n for (dimension, *_), n in found.items() if dimension == ENTRIES)


def _upsert_chunked(ledger, found, db, size=500):
    items = sorted(found.items())
    for start in range(0, len(items), size):
        _upsert(ledger, Counter(dict(items[start : start + size])), db)


def check(model, using=None):
    """The differences between the stored rollups and a count over the table: a list of
    (dimension, day, tenant, key, stored, counted); empty when they agree."""
    db = using or router.db_for_read(model)
    counted, kept = count_table(model, db), stored(model.ledger_name, db)
    return [(*k, kept.get(k, 0), counted.get(k, 0)) for k in sorted(set(counted) | set(kept)) if kept[k] != counted[k]]


# Reads: every page's aggregates come through these.


ANY_TENANT = object()


def rows(user, ledgers, dimension, since=None, until=None, keys=None, tenant=ANY_TENANT):
    """Rollup rows of `ledgers` (names) under `dimension` (or several) in [since, until) the user may see;
    only those of `keys` when given, and of one `tenant` (None: no tenant) when given."""
    from ledgerproject.ledger.models import within_scope

    if isinstance(dimension, str):
        queryset = Rollup.objects.filter(ledger__in=list(ledgers), dimension=dimension)
    else:  # several dimensions in one query (group by "dimension")
        queryset = Rollup.objects.filter(ledger__in=list(ledgers), dimension__in=list(dimension))
    if keys is not None:
        queryset = queryset.filter(key__in=sorted(keys))
    if tenant is not ANY_TENANT:
        queryset = queryset.filter(tenant=tenant or NO_TENANT)
    if since is not None:
        queryset = queryset.filter(day__gte=since)
    if until is not None:
        queryset = queryset.filter(day__lt=until)
    return within_scope(queryset, user)


def rows_since(user, ledgers, daily, monthly_totals, since):
    """The rows counting `daily`'s entries from day `since` on, as few as possible: the rest of since's own
    month from the per-day rows, each later month from its one row of `monthly_totals` (the same keys
    counted per month, a Dimension whose day is monthly(...)). A year-long window then reads ~13 rows per
    key instead of ~365."""
    following = next_month(since)
    if following is None:
        return rows(user, ledgers, daily, since)
    return rows(user, ledgers, (daily, monthly_totals), since).filter(
        models.Q(dimension=daily, day__lt=following) | models.Q(dimension=monthly_totals, day__gte=following)
    )


def key_totals_since(user, ledgers, daily, monthly_totals, all_totals, since, read=None):
    """Rows of ("key", "total"): how many of `daily`'s entries each key counts from day `since` on (all
    time when since is None), keys with none left out. The three dimensions count the same keys, per
    day, per month (monthly(...)) and over all time (all_time).

    A window reads whichever side of `since` holds fewer months: forward, the rows since it
    (rows_since); or backward, the all-time totals minus the rows before it (the head of since's
    month from day rows, each earlier month from its one row). A year-long window over a year of
    data then reads about one row per key instead of thirteen. Read forward, since's own month is
    likewise its day rows from since on, or, when fewer, its month row less its day rows before since.
    `read` ("forward" / "backward") forces a side, for tests; the answer is the same either way."""
    if since is None:
        return rows(user, ledgers, all_totals).order_by().values("key").annotate(total=models.Sum("n"))
    month = since.replace(day=1)
    if read is None:
        span = Rollup.objects.filter(ledger__in=list(ledgers), dimension=monthly_totals).aggregate(
            first=models.Min("day"), last=models.Max("day")
        )
        if span["first"] is None:
            read = "forward"
        else:
            before = _months_between(span["first"], month)
            after = _months_between(month, max(span["last"], month))
            read = "backward" if before < after else "forward"
    following = next_month(since)
    if read == "forward" and following is not None and (since - month) < (following - since):
        # since is early in its month: that month's one row less its days before since reads fewer day rows
        # than its days from since on (a 90-day window starting on the 2nd: one day's rows instead of 29).
        head_of_month = models.Q(dimension=daily, day__lt=since)
        found = rows(user, ledgers, (daily, monthly_totals), month)
        return _totals_less(found.filter(models.Q(dimension=monthly_totals) | head_of_month), monthly_totals)
    if read == "forward":
        return (
            rows_since(user, ledgers, daily, monthly_totals, since)
            .order_by()
            .values("key")
            .annotate(total=models.Sum("n"))
        )
    all_and_before = (
        models.Q(dimension=all_totals)
        | models.Q(dimension=monthly_totals, day__lt=month)
        | models.Q(dimension=daily, day__gte=month, day__lt=since)
    )
    return _totals_less(rows(user, ledgers, (daily, monthly_totals, all_totals)).filter(all_and_before), all_totals)


def _totals_less(found, counted):
    """Rows of ("key", "total") from rollup rows `found`: those of dimension `counted` added, the others (the part
    of them outside the window) taken away; keys with none left out."""
    signed = models.Case(models.When(dimension=counted, then=models.F("n")), default=-models.F("n"))
    return found.order_by().values("key").annotate(total=models.Sum(signed)).filter(total__gt=0)


def _months_between(first, last):
    return (last.year - first.year) * 12 + last.month - first.month


def totals(user, ledgers, dimension, since=None, until=None, by=("key",), **narrow):
    """{tuple of `by` values (one value: the value itself): summed n}, in one grouped query
    (`narrow`: keys=, tenant= as rows() takes them)."""
    grouped = (
        rows(user, ledgers, dimension, since, until, **narrow).order_by().values(*by).annotate(total=models.Sum("n"))
    )
    result = {}
    for row in grouped:
        key = row[by[0]] if len(by) == 1 else tuple(row[name] for name in by)
        result[key] = row["total"]
    return result


def sizes(user, ledgers, dimension=ENTRIES):
    """{ledger name: entries this user may see (or counted under `dimension`)}, one query for all."""
    found = totals(user, ledgers, dimension, by=("ledger",))
    return {name: found.get(name, 0) for name in ledgers}


def backfill(*labels):
    """The migration operation that fills the rollups of the named ledger models ("app.Model")
    from their tables: rows read through the migration's historical model, counted by the live one."""
    from django.db import migrations

    def forwards(apps, schema_editor):
        from django.apps import apps as live

        for label in labels:
            source = apps.get_model(label)._base_manager
            rebuild(live.get_model(label), using=schema_editor.connection.alias, source=source)

    return migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)


def sum_days(ledger, daily, totals, per_month=False):
    """The migration operation that fills the all-time dimension `totals` of `ledger` from its per-day
    dimension `daily` (same keys): one row per (tenant, key) holding the sum over the days; with
    `per_month`, one row per (tenant, key, month) on the month's first day (a monthly(...) dimension).

    It reads the rollup table, not the entries (a grouped read, however large the ledger), under the
    ledger's lock, so no append adds to the daily rows between the read and the insert.
    """
    from django.db import migrations
    from django.db.models import Sum
    from django.db.models.functions import TruncMonth

    def forwards(apps, schema_editor):
        model = apps.get_model("ledger", "Rollup")
        db = schema_editor.connection.alias
        lock_ledger(schema_editor.connection, ledger)
        rows = model.objects.using(db).filter(ledger=ledger, dimension=daily).order_by()
        if per_month:
            rows = rows.annotate(bucket=TruncMonth("day", output_field=models.DateField()))
        else:
            rows = rows.annotate(bucket=models.Value(ALL_TIME, output_field=models.DateField()))
        sums = rows.values("tenant", "key", "bucket").annotate(total=Sum("n")).filter(total__gt=0)
        model.objects.using(db).bulk_create(
            (
                model(
                    ledger=ledger,
                    dimension=totals,
                    day=row["bucket"],
                    tenant=row["tenant"],
                    key=row["key"],
                    n=row["total"],
                )
                for row in sums.iterator(chunk_size=2000)
            ),
            batch_size=1000,
        )

    def backwards(apps, schema_editor):
        model = apps.get_model("ledger", "Rollup")
        model.objects.using(schema_editor.connection.alias).filter(ledger=ledger, dimension=totals).delete()

    operation = migrations.RunPython(forwards, backwards)
    operation.forwards = forwards  # tests call it directly
    return operation
