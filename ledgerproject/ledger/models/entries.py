"""The abstract append-only ledger entry and its querysets: reads, tenancy scope and the append path."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connections, models, router, transaction
from django.db.models.signals import class_prepared
from django.db.models.sql import Query
from django.dispatch import receiver

from ledgerproject.ledger import bulk_insert, clock, fast_batch, hashing, ids, latest
from ledgerproject.ledger.exceptions import BatchValidationError, ImmutableEntryError
from ledgerproject.ledger.models import tenant_parts
from ledgerproject.ledger.models.append import (
    _assign_scope_counters,
    _insert_one_with_rollups,
    _missing_targets,
    _name_unhashable_fields,
    _pending_counters,
    _principal,
    _refuse_conflicts_and_read_tip,
    _refuse_going_back_in_time,
    _refuse_repeats_within,
    insert_checking_keys,
    leaves_keys_to_insert,
    no_key_can_be_stored,
    streams_into_copy,
)
from ledgerproject.ledger.models.tenancy import ALL_TENANTS, tenant_scope
from ledgerproject.ledger.rollups import Rollup  # noqa: F401 (registers the model)
from ledgerproject.ledger.rollups import record as record_rollups
from ledgerproject.ledger.signals import entries_appended

KERNEL_FIELDS = ("seq", "recorded_at", "recorded_by", "recorded_by_name", "prev_entry_hash", "entry_hash", "canonical")


class AppendOnlyQuerySet(models.QuerySet):
    """A queryset whose rows are never changed or removed: every such call raises ImmutableEntryError."""

    def _refuse(self, what):
        raise ImmutableEntryError(
            f"{self.model.__name__} is append-only: {what} is refused. Corrections are new entries."
        )

    def update(self, **kwargs):
        self._refuse("update()")

    def delete(self):
        self._refuse("delete()")

    def _raw_delete(self, using):
        self._refuse("delete()")

    def bulk_update(self, objs, fields, batch_size=None):
        self._refuse("bulk_update()")

    def update_or_create(self, *args, **kwargs):
        self._refuse("update_or_create()")


class LedgerQuerySet(AppendOnlyQuerySet):
    """Reads are ordinary; writes go only through append()/append_many(); changes are refused."""

    # The tenants of a principal bound to several, set by visible_to(): a page's candidates are read one tenant at a
    # time (models/tenant_parts.py). Kept by every queryset made from this one.
    _tenant_parts = ()

    def _clone(self):
        clone = super()._clone()
        clone._tenant_parts = self._tenant_parts
        return clone

    def __or__(self, other):
        # Rows of either side: no longer one set of tenants' entries to read tenant by tenant.
        combined = super().__or__(other)
        combined._tenant_parts = ()
        return combined

    def __xor__(self, other):
        combined = super().__xor__(other)
        combined._tenant_parts = ()
        return combined

    def _fetch_all(self):
        if self._result_cache is None and self._tenant_parts and tenant_parts.is_split_page(self, self._tenant_parts):
            self._result_cache = list(
                tenant_parts.page_of_candidates(self, self.model.tenant_field, self._tenant_parts)
            )
        super()._fetch_all()

    def bulk_create(self, objs, *args, **kwargs):
        raise ImmutableEntryError(
            f"{self.model.__name__} entries enter only through {self.model.__name__}.objects.append_many()"
        )

    def claimed_between(self, field, since=None, until=None, until_inclusive=True):
        """Entries whose claimed time `field` lies in [since, until] (or [since, until) when
        until_inclusive is False, for adjacent buckets); either bound may be None (open)."""
        queryset = self
        if since is not None:
            queryset = queryset.filter(**{f"{field}__gte": since})
        if until is not None:
            queryset = queryset.filter(**{f"{field}__{'lte' if until_inclusive else 'lt'}": until})
        return queryset

    def visible_to(self, user):
        """The entries this principal may see: the one tenancy rule of every ledger.

        All-tenant principals (superusers, or holders of the AllTenantsGrant) see everything;
        a tenant-bound one sees only its tenants' entries (never those with no tenant); anyone
        else sees nothing (fail closed).
        """
        scope = tenant_scope(user)
        if scope is ALL_TENANTS:
            return self
        if not scope:
            return self.none()
        visible = self.model.tenant_filter(self, scope)
        if (
            1 < len(scope) <= tenant_parts.MAX_TENANT_PARTS
            and self.model.tenant_field
            and self.model.tenant_filter.__func__ is LedgerEntry.tenant_filter.__func__
            and tenant_parts.splittable_tenant_path(self.model, self.model.tenant_field)
        ):
            visible._tenant_parts = tuple(sorted(scope))
        return visible

    def of_tenant(self, tenant_id):
        """Entries of exactly one tenant ("" or None: entries with no tenant)."""
        field = self.model.tenant_field
        if field is None:
            # A ledger whose visibility is its own rule (blobs: holds); "" is the no-tenant holder.
            return self.model.tenant_filter(self, {tenant_id or ""})
        one = self.filter(**{f"{field}__isnull": True}) if not tenant_id else self.filter(**{field: tenant_id})
        one._tenant_parts = ()  # one tenant: one read
        return one

    def head(self):
        """The newest entry, or None for an empty ledger."""
        return self.order_by("-seq").first()

    def append(self, recorded_by=None, **fields):
        """Append one entry and return it (with seq, recorded_at and hashes set)."""
        try:
            return self.append_many([fields], recorded_by=recorded_by)[0]
        except BatchValidationError as exc:
            raise ValidationError(exc.items[0][1]) from None

    def append_many(self, rows, recorded_by=None):
        """Append entries atomically, in order: all are stored, or none.

        Validation and hashing of the content happen before the lock; under the lock only the
        tip is read, conflicts are checked, per-scope counters (scope_counters) and seq and chain
        hashes assigned, and rows inserted. A batch that needs nothing from the database but its
        insert is built under the lock instead, item by item into its COPY (_append_streamed).
        """
        model = self.model
        db = self.db if self._db else router.db_for_write(model)
        user_id, user_name = _principal(recorded_by)
        relations = [f for f in model.content_fields() if f.is_relation]
        # Foreign keys are checked once per batch below, not one query per entry inside full_clean().
        skip = (*KERNEL_FIELDS, *(f.name for f in relations))
        # An array: built, checked and read by the model's own field rules without Model.__init__'s
        # and full_clean's per-entry bookkeeping (fast_batch.RowPlan: same values, same refusals).
        plan = fast_batch.row_plan(model) if len(rows) > 1 else None

        def build(fields):
            return _built_entry(model, plan, fields, relations, skip)

        if streams_into_copy(model, rows, db):
            try:
                return _append_streamed(model, rows, db, build, user_id, user_name)
            except _BuildFirst:
                pass  # a backdated clock going back: the path below answers, in its order
        rules = state = None
        if model.has_state_rules():
            # The rows of the rules' own reads (state_reads), read right after the lock (in its message on PostgreSQL).
            state = {}

            def rules():
                model.check_append_allowed(entries, using=db, read=state)

        entries, problems = [], []
        for index, fields in enumerate(rows):
            entry, problem = build(fields)
            if problem is not None:
                problems.append((index, problem))
            entries.append(entry)
        problems.extend(_missing_targets(entries, relations, db))
        if problems:
            raise BatchValidationError(sorted(problems, key=lambda problem: problem[0]))
        _refuse_repeats_within(entries)
        if not entries:
            return []
        # The connection's outermost transaction (autocommit on, no atomic block open), which Django commits as
        # soon as the block below ends: a single entry's COMMIT then rides in its INSERT's message.
        commit_with_insert = transaction.get_autocommit(using=db) and not connections[db].in_atomic_block
        with transaction.atomic(using=db):
            # The lock and the read share one round trip; the ledger's state rules run under the lock after it.
            # A batch whose stored keys the table's unique index refuses reads only the tip here: the
            # insert finds a repeated key, and only then the check runs to answer the exact 409.
            # A batch that leaves its keys to the ledger's numbering has none to look for.
            keys_at_insert = leaves_keys_to_insert(model, entries, db)
            keys = not (keys_at_insert or no_key_can_be_stored(model, entries))
            # The scope counters' MAX reads ride in the lock's message too (one round trip fewer under the lock).
            counters = {} if model.scope_counters else None
            seq, prev = _refuse_conflicts_and_read_tip(
                model, entries, db, lock=True, then=rules, keys=keys, counters=counters, state=state
            )
            if model.scope_counters:
                _assign_scope_counters(model, entries, counters)
            now = clock.now()
            if clock.backdated_moment() is not None:
                try:
                    _refuse_going_back_in_time(model, db, now)
                except ValueError:
                    if keys_at_insert:  # a stored key is reported first, as when the keys are read with the tip
                        _refuse_conflicts_and_read_tip(model, entries, db)
                    raise
            chain = _chainer(model, now, user_id, user_name, seq, prev)
            if len(entries) == 1:
                chain(entries[0])
            if not _insert_one_with_rollups(model, entries, db, commit=commit_with_insert):  # one round trip
                # On PostgreSQL's COPY path a batch is chained part by part as it is sent: the database stores a
                # part while the next is hashed (elsewhere every entry is chained before the INSERT).
                prepare = chain if len(entries) > 1 else None
                if keys_at_insert:
                    insert_checking_keys(model, entries, db, prepare)  # one COPY in a savepoint
                else:
                    bulk_insert.insert_entries(model, entries, db, prepare)  # one COPY on PostgreSQL
                record_rollups(model, entries, db)  # the pages' counts: one UPSERT, same transaction
                latest.record(model, entries, db)  # each key's newest entry (ledger/latest.py), same transaction
            _stored(model, entries, db)
        return entries


class _BuildFirst(Exception):
    """The streamed append hands the batch to the path that builds every entry before the lock."""


class _Refused(Exception):
    """An item of a streamed batch is refused: what was sent rolls back, and the refusal is raised after it."""


def _built_entry(model, plan, fields, relations, skip):
    """(entry, None) for one item checked by the model's own field rules, its canonical content made;
    (entry, messages) when they refuse it."""
    entry = plan.build(fields) if plan else model(**fields)
    entry._pending_counters = _pending_counters(entry)
    try:
        for field in relations:  # "3f2e…" and UUID("3f2e…") must name the same row
            if (value := getattr(entry, field.attname)) is not None:
                setattr(entry, field.attname, field.target_field.to_python(value))
        if plan:
            plan.clean(entry, (*skip, *entry._pending_counters))
        else:
            entry.full_clean(
                exclude=(*skip, *entry._pending_counters), validate_unique=False, validate_constraints=False
            )
        ids.check_url_ids(entry)
        entry.validate_append()
        content = plan.content(entry) if plan else entry.ledger_content()
        if entry._pending_counters:
            # Everything but the counters now; they are spliced in under the lock.
            entry._content_parts = hashing.canonical_parts(content, entry._pending_counters)
            entry._content_json = "".join(entry._content_parts)
        else:
            entry._content_json = hashing.canonical_json(content)
        # Canonical JSON spells NUL \u0000; only then look for the field that holds it.
        if "\\u0000" in entry._content_json and (bad := hashing.fields_with_nul(content)):
            raise ValidationError({name: ["Text cannot contain NUL (\\u0000) characters."] for name in bad})
    except ValidationError as exc:
        return entry, exc.message_dict if hasattr(exc, "error_dict") else exc.messages
    except hashing.CanonicalizationError as exc:
        return entry, _name_unhashable_fields(entry, exc)
    return entry, None


def _chainer(model, now, user_id, user_name, seq, prev):
    """chain(entry): give the next entry its seq, time, principal, canonical text and hashes after the tip
    (seq, prev). Ledger, time and principal are the batch's own: their canonical text is written once."""
    canonical = hashing.entry_canonical_for(model.ledger_name, now, user_name)
    tip = [seq, prev]

    def chain(entry):
        tip[0] += 1
        entry.seq = tip[0]
        entry.recorded_at = now
        entry.recorded_by_id = user_id
        entry.recorded_by_name = user_name
        entry.canonical = canonical(tip[0], entry._content_json)
        entry.prev_entry_hash = tip[1]
        entry.entry_hash = tip[1] = hashing.entry_hash(tip[1], entry.canonical)

    return chain


def _stored(model, entries, db):
    """Mark the inserted entries as stored rows and announce them once the transaction commits."""
    for entry in entries:
        entry._state.adding = False
        entry._state.db = db
    first, last = entries[0].seq, entries[-1].seq
    transaction.on_commit(
        lambda: entries_appended.send(sender=model, first_seq=first, last_seq=last, using=db), using=db
    )


def _append_streamed(model, rows, db, build, user_id, user_name):
    """append_many() for a batch that needs nothing from the database but its insert (streams_into_copy):
    the lock and the tip first, then each item built, checked, chained and sent to one COPY, so PostgreSQL
    stores the first items while the next are built (before, it waited for the whole batch, then Python for it).

    The answers are those of the path that builds first, in its order: every refused item (400, all of
    them), else a key repeated within the batch (400), else a stored key (409, found by the unique index at
    the end of the COPY, as insert_checking_keys finds it). At the first refused item or repeated key nothing
    more is sent: the COPY ends with the rows already sent (a refusal is not a database error for the server
    to log), the savepoint and the transaction roll back, which lets the lock go (unless the caller's own
    transaction holds it), and the remaining items are checked after that, for their messages.
    """
    entries, seen, refusal = [], set(), None  # refusal: (index, messages) of the first refused item, or (index, None)
    try:
        with transaction.atomic(using=db):
            seq, prev = _refuse_conflicts_and_read_tip(model, (), db, lock=True, keys=False)
            now = clock.now()
            if clock.backdated_moment() is not None:
                try:
                    _refuse_going_back_in_time(model, db, now)
                except ValueError:
                    raise _BuildFirst from None  # a stored key, or a refused item, is reported before the clock
            chain = _chainer(model, now, user_id, user_name, seq, prev)
            try:
                with transaction.atomic(using=db):
                    with bulk_insert.copy_writer(model, db) as write:
                        pending = []
                        for index, fields in enumerate(rows):
                            entry, problem = build(fields)
                            entries.append(entry)
                            key = entry.natural_key_value() if problem is None else None
                            if problem is not None or key in seen:
                                refusal = (index, problem)
                                break
                            seen.add(key)
                            chain(entry)
                            pending.append(entry)
                            if len(pending) == bulk_insert.COPY_PART:
                                write(pending)
                                pending = []
                        if refusal is None:
                            write(pending)
                    if refusal is not None:
                        raise _Refused  # the savepoint rolls back what was sent
            except DatabaseError as exc:
                if refusal is not None:
                    raise _Refused from None  # a row sent was refused (a stored key, …): the refused item comes first
                if isinstance(exc, IntegrityError):
                    _refuse_conflicts_and_read_tip(model, entries, db)  # the check left to the insert: raises on one
                raise
            record_rollups(model, entries, db)
            latest.record(model, entries, db)
            _stored(model, entries, db)
        return entries
    except _Refused:
        pass
    index, problem = refusal
    problems = [] if problem is None else [(index, problem)]
    for later, fields in enumerate(rows[index + 1 :], start=index + 1):
        entry, problem = build(fields)
        entries.append(entry)
        if problem is not None:
            problems.append((later, problem))
    if problems:
        raise BatchValidationError(problems)
    _refuse_repeats_within(entries)  # raises the first repeat, as the path that builds first does
    raise AssertionError("a repeated key that _refuse_repeats_within() does not find")


def tenant_unique(*fields, name, tenant="tenant_id"):
    """The database backstop for a natural key that is unique per tenant.

    UNIQUE treats NULLs as distinct, so (NULL, "x") could be stored twice. nulls_distinct=False
    would say it directly but works only on PostgreSQL 15+ and draws W047 on SQLite; an
    expression index on COALESCE(tenant, '') works on both engines and keeps NULL as "no tenant"
    (a non-null "" column would change the hashed content of the entries stored before).
    The key columns come first, so the index still serves lookups by the key alone (GET by id).
    """
    from django.db.models import F, Value
    from django.db.models.functions import Coalesce

    return models.UniqueConstraint(*(F(field) for field in fields), Coalesce(tenant, Value("")), name=name)


def newest_seq(entries):
    """The newest seq among `entries` (a ledger's manager or queryset), 0 when there is none: one read of the primary
    key's index from its end, where a count would read every entry."""
    return entries.aggregate(newest=models.Max("seq"))["newest"] or 0


def optional_id_index(field, name, *order):
    """The index of an id column most entries leave NULL: one id's entries in append order (`order`: the columns
    after the id, seq by default; a list read in another order names its own, e.g. "-created_at", "-seq").

    Only the entries that carry the id are indexed (WHERE id IS NOT NULL). Every reader asks for given ids
    (`= id`, `IN (…)`, a correlated `= outer.id`), which PostgreSQL proves non-null, so the index serves
    them all. An entry without the id then costs its append no index insertion, and the index holds no
    NULL keys: an experience event carries at most two of its four extracted ids.

    A ledger's tenant column is such an id: a tenant-bound principal reads only its tenants' entries
    (never those with no tenant), so each list of a ledger with its own tenant column has its tenant's index
    in the list's order, and a small tenant's page is read from its own entries, not found by walking
    everyone else's (ledger/tests/test_tenant_reads.py).
    """
    fields = [field, *(order or ("seq",))]
    return models.Index(fields=fields, name=name, condition=models.Q(**{f"{field}__isnull": False}))


class LedgerEntry(models.Model):
    """One entry of an append-only, hash-chained ledger; subclasses add the content fields.

    Subclasses set `ledger_name` (unique across the project), `natural_key_fields` (a repeat is a
    409 conflict; include the tenant so keys are unique per tenant) and `tenant_field`: where the
    entry's tenant lives, its own column ("tenant_id") or its parent's ("run__tenant_id"). A ledger
    whose visibility is not a tenant column overrides tenant_filter() instead (a system check
    refuses a ledger that does neither). `omit_when_empty` names optional fields added after
    entries were hashed: holding None they are left out of the canonical content, so the entries
    hashed before the column existed keep verifying byte for byte.
    """

    ledger_name = None
    natural_key_fields = ()
    tenant_field = None
    # Page, list and export reads may come from a read replica (ledger/routers.py).
    replica_reads = True
    # Fields whose values are path segments of the app's URLs (ids.url_id_problem): refused at append
    # when no route could carry them. A `<str:name>` route argument naming a field must list it (ledger.E021).
    url_id_fields = ()
    omit_when_empty = ()
    # The identifiers a person may paste into the search box (ledger/search.py SearchField).
    search_fields = ()
    # Indexed lookups whose value is an id this entry refers to: its trail (ledger/trail.py).
    trail_fields = ()
    # The counts pages show, beyond the kernel's entries per (tenant, day): Dimension()s (ledger/rollups.py).
    rollups = ()
    # Per-scope counters, {counter field: (scope fields, ...)}: an entry appended with the counter
    # left None gets one above the highest of its scope (stored, or earlier in the batch), assigned
    # under the ledger's lock so concurrent writers never pick the same number. The counter and its
    # scope must be among natural_key_fields, so an assigned number can never repeat a stored key.
    scope_counters = {}

    seq = models.PositiveBigIntegerField(primary_key=True, editable=False)
    recorded_at = models.DateTimeField(editable=False, db_index=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="+"
    )
    # Frozen copy of who appended, kept even if the user is renamed; this is what the hash covers.
    recorded_by_name = models.CharField(max_length=150, blank=True, editable=False)
    prev_entry_hash = models.CharField(max_length=64, editable=False)
    entry_hash = models.CharField(max_length=64, editable=False)
    # The exact bytes that were hashed (RFC 8785): verification never re-serializes a JSON column.
    canonical = models.TextField(editable=False)

    objects = LedgerQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["seq"]

    def __str__(self):
        return f"{self.ledger_name} #{self.seq}"

    def save(self, *args, **kwargs):
        name = type(self).__name__
        if self._state.adding:
            raise ImmutableEntryError(f"{name} entries enter only through {name}.objects.append()")
        raise ImmutableEntryError(f"{name} #{self.seq} is an append-only ledger entry and cannot be changed")

    def get_absolute_url(self):
        """The entry's page in its app (subclasses name theirs); the kernel's entry page by default."""
        return ids.safe_reverse("ledger-entry", args=[self.ledger_name, self.seq])

    def delete(self, *args, **kwargs):
        raise ImmutableEntryError(
            f"{type(self).__name__} #{self.seq} is an append-only ledger entry and cannot be deleted"
        )

    def save_base(self, *args, **kwargs):
        name = type(self).__name__
        raise ImmutableEntryError(f"{name} entries enter only through {name}.objects.append()")

    @classmethod
    def content_fields(cls):
        """The concrete fields an entry's hash covers: everything but the kernel's own columns."""
        return [f for f in cls._meta.concrete_fields if f.name not in KERNEL_FIELDS]

    def hashed_content_json(self):
        """The content part of the stored canonical text, exactly as it was hashed (never rebuilt
        from the JSON columns, which a database may hand back spelled differently)."""
        suffix = hashing.entry_canonical(self.ledger_name, self.seq, self.recorded_at, self.recorded_by_name, "")
        return self.canonical[len('{"content":') : len(self.canonical) - (len(suffix) - len('{"content":'))]

    def ledger_content(self):
        """The entry's content as plain JSON values, keyed by column (what the hash covers)."""
        return self.hashable_content(
            {f.attname: hashing.jsonable(getattr(self, f.attname)) for f in self.content_fields()}
        )

    @classmethod
    def hashable_content(cls, content):
        """`content` (column → value) without the optional fields that hold their empty value."""
        for name in cls.omit_when_empty:
            if content.get(name) is None:
                content.pop(name, None)
        return content

    @classmethod
    def tenant_filter(cls, queryset, tenants):
        """`queryset` narrowed to the entries of `tenants` (a non-empty set of tenant ids)."""
        if cls.tenant_field is None:
            return queryset.none()
        return queryset.filter(**{f"{cls.tenant_field}__in": sorted(tenants)})

    @property
    def tenant(self):
        """This entry's tenant id, or None (read through tenant_field)."""
        if not self.tenant_field:
            return None
        value = self
        for part in self.tenant_field.split("__"):
            value = getattr(value, part, None)
            if value is None:
                return None
        return value

    def natural_key_value(self):
        # attname: a foreign key's id, so comparing keys never loads the related row.
        return self._natural_key_getter()(self)

    @classmethod
    def _natural_key_getter(cls):
        """entry → its natural key tuple, in one C call (a batch reads every entry's key), made once per class."""
        fields = cls.natural_key_fields
        made = cls.__dict__.get("_ledger_natural_key_getter")
        if made is None or made[0] is not fields:  # made for these key fields (a test may set others)
            attnames = [cls._meta.get_field(name).attname for name in fields]
            made = (fields, fast_batch.attribute_getter(attnames) if attnames else (lambda entry: ()))
            cls._ledger_natural_key_getter = made
        return made[1]

    def validate_append(self):
        """Business rules of one entry before it is appended; raise ValidationError to refuse it.
        A scope counter left empty is still None here (it is assigned under the lock)."""

    @classmethod
    def check_append_allowed(cls, entries, using, read=None):
        """Rules that depend on the ledger's current state, checked under the lock (raise to refuse).

        `read` is {name: rows} of the ledger's state_reads(), read under the lock (a name is missing where
        state_reads() left it out); called with None (by a test, or a caller of its own) the rules run their reads
        themselves."""

    @classmethod
    def state_reads(cls, entries, connection):
        """The SELECTs check_append_allowed() needs under the lock, as {name: read}, or {} to read for itself.

        A read is a values_list() QuerySet, whose rows the rules get as iterating it would give them, or a
        (sql, params) pair, whose rows they get as the database answers them.

        The kernel runs them right after the lock, each a statement of its own (so each sees every append committed
        before it), and hands their rows to check_append_allowed(read=...). On PostgreSQL they go in the lock's own
        message (locking.lock_ledger_then_fetch_all): one round trip fewer, and the lock held that much shorter."""
        return {}

    @classmethod
    def entries_from_rows(cls, rows, using):
        """Entries of `rows` that hold every concrete column in the model's order, with each value converted as
        the ORM converts what it reads (a state read's rows: `SELECT` of concrete_fields' columns)."""
        connection = connections[using]
        fields = cls._meta.concrete_fields
        compiler = connection.ops.compiler("SQLCompiler")(Query(cls), connection, using)
        converters = compiler.get_converters([field.get_col(cls._meta.db_table) for field in fields])
        if converters:
            rows = compiler.apply_converters(rows, converters)
        names = [field.attname for field in fields]
        return [cls.from_db(using, names, list(row)) for row in rows]

    @classmethod
    def has_state_rules(cls):
        """Whether the ledger declares check_append_allowed() rules (the kernel's allows everything)."""
        return cls.check_append_allowed.__func__ is not LedgerEntry.check_append_allowed.__func__

    @classmethod
    def state_rules_apply_to(cls, rows):
        """Whether check_append_allowed() may read the database or refuse an entry built from one of `rows`
        (the field values given to append_many). A ledger whose rules concern only some entries says which,
        so that a batch of the others needs nothing from the database under the lock but its insert
        (streams_into_copy); when in doubt, True."""
        return cls.has_state_rules()

    def get_entry_url(self):
        """The kernel's integrity page of this entry (seq, hashes, canonical form)."""
        return ids.safe_reverse("ledger-entry", args=[self.ledger_name, self.seq])

    def get_api_url(self):
        """The entry in the API (subclasses name theirs); its inclusion proof by default."""
        url = ids.safe_reverse("ledger-proof-inclusion", args=[self.ledger_name])
        return f"{url}?seq={self.seq}" if url else None

    def search_id(self):
        """The id a person knows this entry by (search results, trail rows)."""
        return f"{self.ledger_name}#{self.seq}"

    def search_title(self):
        return str(self)

    @property
    def ledger_block(self):
        return {
            "seq": self.seq,
            "recorded_at": hashing.format_timestamp(self.recorded_at) if self.recorded_at else None,
            "recorded_by": self.recorded_by_name,
            "prev_entry_hash": self.prev_entry_hash,
            "entry_hash": self.entry_hash,
        }


@receiver(class_prepared)
def _ledger_base_manager(sender, **kwargs):
    """A ledger's base manager (what Django uses internally, and `Model._base_manager`) is its own
    append-only manager, so no back door to bulk_create/update/delete stays open through it."""
    if issubclass(sender, LedgerEntry) and not sender._meta.abstract and "objects" in sender._meta.managers_map:
        sender._meta.base_manager_name = "objects"
        sender._meta.__dict__.pop("base_manager", None)  # cached_property: recompute with the new name
