"""The abstract append-only ledger entry, its append path, and the kernel's own tables."""

import hashlib
import json
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, models, router, transaction
from django.db.models.expressions import RawSQL
from django.db.models.signals import class_prepared
from django.dispatch import receiver
from django.utils import timezone

from ledgerproject.ledger import clock, hashing, ids
from ledgerproject.ledger.exceptions import BatchValidationError, ConflictError, ImmutableEntryError
from ledgerproject.ledger.locking import lock_ledger, lock_ledger_then_fetch
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
        return self.model.tenant_filter(self, scope)

    def of_tenant(self, tenant_id):
        """Entries of exactly one tenant ("" or None: entries with no tenant)."""
        field = self.model.tenant_field
        if field is None:
            # A ledger whose visibility is its own rule (blobs: holds); "" is the no-tenant holder.
            return self.model.tenant_filter(self, {tenant_id or ""})
        if not tenant_id:
            return self.filter(**{f"{field}__isnull": True})
        return self.filter(**{field: tenant_id})

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
        tip is read, conflicts are checked, seq and chain hashes assigned, and rows inserted.
        """
        model = self.model
        db = self.db if self._db else router.db_for_write(model)
        user_id, user_name = _principal(recorded_by)
        entries, problems = [], []
        relations = [f for f in model.content_fields() if f.is_relation]
        # Foreign keys are checked once per batch below, not one query per entry inside full_clean().
        skip = (*KERNEL_FIELDS, *(f.name for f in relations))
        for index, fields in enumerate(rows):
            entry = model(**fields)
            try:
                for field in relations:  # "3f2e…" and UUID("3f2e…") must name the same row
                    if (value := getattr(entry, field.attname)) is not None:
                        setattr(entry, field.attname, field.target_field.to_python(value))
                entry.full_clean(exclude=skip, validate_unique=False, validate_constraints=False)
                ids.check_url_ids(entry)
                entry.validate_append()
                content = entry.ledger_content()
                entry._content_json = hashing.canonical_json(content)
                # Canonical JSON spells NUL \u0000; only then look for the field that holds it.
                if "\\u0000" in entry._content_json and (bad := hashing.fields_with_nul(content)):
                    raise ValidationError({name: ["Text cannot contain NUL (\\u0000) characters."] for name in bad})
            except ValidationError as exc:
                problems.append((index, exc.message_dict if hasattr(exc, "error_dict") else exc.messages))
            except hashing.CanonicalizationError as exc:
                problems.append((index, _name_unhashable_fields(entry, exc)))
            entries.append(entry)
        problems.extend(_missing_targets(entries, relations, db))
        if problems:
            raise BatchValidationError(sorted(problems, key=lambda problem: problem[0]))
        _refuse_repeats_within(entries)
        if not entries:
            return []
        connection = connections[db]
        with transaction.atomic(using=db):
            if model.check_append_allowed.__func__ is LedgerEntry.check_append_allowed.__func__:
                # No state rules to run between: the lock and the read share one round trip.
                seq, prev = _refuse_conflicts_and_read_tip(model, entries, db, lock=True)
            else:
                lock_ledger(connection, model.ledger_name)
                model.check_append_allowed(entries, using=db)
                seq, prev = _refuse_conflicts_and_read_tip(model, entries, db)
            now = clock.now()
            if clock.backdated_moment() is not None:
                _refuse_going_back_in_time(model, db, now)
            for entry in entries:
                seq += 1
                entry.seq = seq
                entry.recorded_at = now
                entry.recorded_by_id = user_id
                entry.recorded_by_name = user_name
                entry.canonical = hashing.entry_canonical(model.ledger_name, seq, now, user_name, entry._content_json)
                entry.prev_entry_hash = prev
                entry.entry_hash = prev = hashing.entry_hash(prev, entry.canonical)
            models.QuerySet(model, using=db).bulk_create(entries)
            record_rollups(model, entries, db)  # the pages' counts: one UPSERT, same transaction
            for entry in entries:
                entry._state.adding = False
                entry._state.db = db
            first, last = entries[0].seq, entries[-1].seq
            transaction.on_commit(
                lambda: entries_appended.send(sender=model, first_seq=first, last_seq=last, using=db), using=db
            )
        return entries


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
    """Two items of one batch with the same natural key: the later one conflicts with the earlier."""
    if not entries or not entries[0].natural_key_fields:
        return
    seen = {}
    for index, entry in enumerate(entries):
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


def _missing_targets(entries, relations, db):
    """(index, messages) for entries whose foreign keys point at rows that do not exist."""
    problems = []
    for field in relations:
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


def _refuse_conflicts_and_read_tip(model, entries, db, lock=False):
    """Raise ConflictError for a stored natural key; else return the tip's (seq, entry_hash).

    Runs under the lock, after it was taken (a statement's snapshot predates the statement, so the
    tip must not be read by the one that locks). Stored keys and the tip come back in one query;
    with `lock`, the ledger's lock is taken first, in the same round trip.
    """
    connection = connections[db]
    sql, params = _conflicts_and_tip_sql(model, entries, connection)
    if lock:
        rows = lock_ledger_then_fetch(connection, model.ledger_name, sql, params)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
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
    if not rows:
        return 0, hashing.GENESIS_HASH
    seq, entry_hash, _ = max(rows, key=lambda row: row[0])
    return int(seq), entry_hash


def _conflicts_and_tip_sql(model, entries, connection):
    """SELECT seq, entry_hash, hit: the rows whose natural key fields hold the entries' values
    (hit = 1), and the newest row. Written by hand: the ORM spent more time building this query
    than the database running it, on every append."""
    quote = connection.ops.quote_name
    meta = model._meta
    table, seq = quote(meta.db_table), quote(meta.get_field("seq").column)
    newest = f"{seq} = (SELECT MAX({seq}) FROM {table})"
    if not model.natural_key_fields:
        return f"SELECT {seq}, {quote(meta.get_field('entry_hash').column)}, 0 FROM {table} WHERE {newest}", []
    keys = {entry.natural_key_value() for entry in entries}
    # One IN list per key field (a composite key is matched exactly in Python): no OR chain, which
    # SQLite refuses past a depth of 1000 and which plans badly everywhere.
    conditions, params = [], []
    for i, name in enumerate(model.natural_key_fields):
        field = meta.get_field(name)
        wanted = {key[i] for key in keys}
        values = sorted(wanted - {None}, key=str)
        # A key part may be NULL (an entry with no tenant): NULL never matches IN, so say it apart.
        parts = [f"{quote(field.column)} IN ({', '.join(['%s'] * len(values))})"] if values else []
        if None in wanted:
            parts.append(f"{quote(field.column)} IS NULL")
        conditions.append(f"({' OR '.join(parts)})")
        params.extend(field.get_db_prep_value(value, connection, prepared=False) for value in values)
    matches = " AND ".join(conditions)
    return (
        f"SELECT {seq}, {quote(meta.get_field('entry_hash').column)}, CASE WHEN {matches} THEN 1 ELSE 0 END "
        f"FROM {table} WHERE ({matches}) OR {newest}",
        params + params,
    )


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
        return tuple(getattr(self, self._meta.get_field(name).attname) for name in self.natural_key_fields)

    def validate_append(self):
        """Business rules of one entry before it is appended; raise ValidationError to refuse it."""

    @classmethod
    def check_append_allowed(cls, entries, using):
        """Rules that depend on the ledger's current state, checked under the lock (raise to refuse)."""

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


class TenantBinding(models.Model):
    """Binds a principal to a tenant: it sees and writes only its tenants' entries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tenant_bindings")
    tenant_id = models.CharField(max_length=256)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant_id"], name="ledger_tenantbinding_unique")]

    def __str__(self):
        return f"{self.user} → {self.tenant_id}"


class AllTenantsGrant(models.Model):
    """The explicit grant to see every tenant (and entries with no tenant). A principal with
    neither this grant nor a tenant binding sees nothing: tenancy fails closed."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="all_tenants_grant")
    granted_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "all-tenants grant"

    def __str__(self):
        return f"{self.user} → all tenants"


ALL_TENANTS = None


def tenant_scope(user):
    """ALL_TENANTS (None) for a superuser or a holder of the grant, else the frozenset of the
    principal's bound tenants (empty, so nothing visible, when it has neither)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    if user.is_superuser:
        return ALL_TENANTS
    cached = getattr(user, "_ledger_tenant_scope", False)
    if cached is False:
        # One query for both: the grant (a row marked True) and the bindings.
        flag = models.BooleanField()
        rows = (
            TenantBinding.objects.filter(user=user)
            .values_list("tenant_id", models.Value(False, output_field=flag))
            .union(
                AllTenantsGrant.objects.filter(user=user).values_list(
                    models.Value("", output_field=models.CharField()), models.Value(True, output_field=flag)
                )
            )
        )
        rows = list(rows)
        if any(granted for _, granted in rows):
            cached = ALL_TENANTS
        else:
            cached = frozenset(tenant for tenant, _ in rows)
        user._ledger_tenant_scope = cached
    return cached


def sees_all_tenants(user):
    return tenant_scope(user) is ALL_TENANTS


class ApiTokenQuerySet(models.QuerySet):
    def issue(self, user, name=""):
        """Create a token and return (token, key); only the key's SHA-256 is stored."""
        key = secrets.token_hex(20)
        token = self.create(user=user, name=name, key_hash=hash_token_key(key), key_prefix=key[:8])
        return token, key

    def for_key(self, key):
        """The token of `key` with its user, whose model permissions come back in the same query.

        ModelBackend would otherwise read them with two more queries on the first has_perm() of
        every request. They are read fresh with the token, so a revoked role or permission takes
        effect on the very next request, exactly as before; superusers keep Django's own path.
        """
        token = self._with_permissions_by_hash(hash_token_key(key))
        user = token.user
        if user.is_active and not user.is_superuser:
            # The caches ModelBackend fills on first use (django.contrib.auth.backends._get_permissions).
            user._user_perm_cache = set(json.loads(token.user_perms_json))
            user._group_perm_cache = set(json.loads(token.group_perms_json))
            user._perm_cache = user._user_perm_cache | user._group_perm_cache
        return token

    def _with_permissions_by_hash(self, key_hash):
        """get(key_hash=…) of the token, its user and permissions. The SQL is compiled once per
        connection and the rows hydrated as QuerySet.get() would: compiling it every request cost
        more CPU than the database spent answering it."""
        connection = connections[self.db]

        def queryset():
            return self.select_related("user").annotate(**_permission_annotations(connection.vendor))

        if self.query.where or self.query.annotations:  # a narrowed queryset: no shortcut
            return queryset().get(key_hash=key_hash)
        plan = getattr(connection, "_ledger_token_plan", None)
        if plan is None:
            plan = connection._ledger_token_plan = _compiled_get(queryset(), "key_hash", _PLAN_SENTINEL)
        if not plan:
            return queryset().get(key_hash=key_hash)
        sql, compiler, populate = plan
        with connection.cursor() as cursor:
            cursor.execute(sql, [key_hash])
            rows = cursor.fetchall()
        found = [populate(row) for row in compiler.results_iter(results=[rows])]
        if not found:
            raise self.model.DoesNotExist(f"{self.model._meta.object_name} matching query does not exist.")
        if len(found) > 1:  # pragma: no cover - key_hash is unique
            raise self.model.MultipleObjectsReturned(f"get() returned more than one {self.model._meta.object_name}")
        return found[0]


_PLAN_SENTINEL = "ledger-plan-sentinel"


def _compiled_get(queryset, field, sentinel):
    """(sql, compiler, populate) for queryset.get(field=<one parameter>), or False when its SQL
    does not take exactly that one parameter (then callers use the ORM as usual)."""
    from django.db.models.query import get_related_populators

    compiler = queryset.filter(**{field: sentinel})[:21].query.get_compiler(using=queryset.db)
    sql, params = compiler.as_sql()
    if list(params) != [sentinel]:
        return False
    db = queryset.db
    select, klass_info, annotation_col_map = compiler.select, compiler.klass_info, compiler.annotation_col_map
    model_cls = klass_info["model"]
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    init_list = [column[0].target.attname for column in select[start:end]]
    related_populators = get_related_populators(klass_info, select, db)

    def populate(row):
        # What ModelIterable does for each row (Django's own hydration, select_related included).
        obj = model_cls.from_db(db, init_list, row[start:end])
        for related in related_populators:
            related.populate(row, obj)
        for name, position in (annotation_col_map or {}).items():
            setattr(obj, name, row[position])
        return obj

    return sql, compiler, populate


def _permission_annotations(vendor):
    """Two scalar subqueries: the token user's own and its groups' permissions, each as a JSON array
    of "app_label.codename" (a JSON array round-trips any codename; a separator might not)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    user_model = get_user_model()
    user_perms = user_model._meta.get_field("user_permissions").remote_field.through._meta
    user_groups = user_model._meta.get_field("groups").remote_field.through._meta
    group_perms = Group._meta.get_field("permissions").remote_field.through._meta
    token_user = f"{ApiToken._meta.db_table}.user_id"
    permission, content_type = Permission._meta.db_table, ContentType._meta.db_table

    def column(meta, model):
        return meta.get_field(model._meta.model_name).column

    def json_array(ids_sql):
        name = "ct.app_label || '.' || p.codename"
        aggregate = f"COALESCE(json_agg({name})::text, '[]')" if vendor == "postgresql" else f"json_group_array({name})"
        return RawSQL(
            f"SELECT {aggregate} FROM {permission} p JOIN {content_type} ct ON ct.id = p.content_type_id "
            f"WHERE p.id IN ({ids_sql})",
            [],
            output_field=models.TextField(),
        )

    own = (
        f"SELECT up.{column(user_perms, Permission)} FROM {user_perms.db_table} up "
        f"WHERE up.{column(user_perms, user_model)} = {token_user}"
    )
    via_groups = (
        f"SELECT gp.{column(group_perms, Permission)} FROM {group_perms.db_table} gp "
        f"JOIN {user_groups.db_table} ug ON ug.{column(user_groups, Group)} = gp.{column(group_perms, Group)} "
        f"WHERE ug.{column(user_groups, user_model)} = {token_user}"
    )
    return {"user_perms_json": json_array(own), "group_perms_json": json_array(via_groups)}


def hash_token_key(key):
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiToken(models.Model):
    """An API key for `Authorization: Token <key>`; the key itself is shown once, never stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    key_prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ApiTokenQuerySet.as_manager()

    def __str__(self):
        return f"{self.key_prefix}… ({self.user})"


class ChainCheck(models.Model):
    """The result of one re-walk of a ledger's hash chain (what the home page shows as chain status)."""

    replica_reads = True  # shown on pages; see ledger/routers.py

    ledger = models.CharField(max_length=64)
    checked_at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField()
    checked = models.PositiveBigIntegerField()
    first_bad_seq = models.PositiveBigIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)
    checked_by = models.CharField(max_length=150, blank=True)

    class Meta:
        # Serves "latest check per ledger" on the home page and /ledgers/.
        indexes = [models.Index(fields=["ledger", "-checked_at"], name="ledger_chaincheck_latest")]

    def __str__(self):
        return f"{self.ledger}: {'ok' if self.ok else 'BROKEN'} at {self.checked_at:%Y-%m-%d %H:%M}"


class LedgerAccess(models.Model):
    """Carries the kernel's own permissions (verify, export, checkpoint); it has no table."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("verify_ledger", "Can verify ledger chains"),
            ("export_ledger", "Can export ledgers"),
            ("checkpoint_ledger", "Can make signed checkpoints"),
        ]

    def __str__(self):
        return "ledger access"


@receiver(class_prepared)
def _ledger_base_manager(sender, **kwargs):
    """A ledger's base manager (what Django uses internally, and `Model._base_manager`) is its own
    append-only manager, so no back door to bulk_create/update/delete stays open through it."""
    if issubclass(sender, LedgerEntry) and not sender._meta.abstract and "objects" in sender._meta.managers_map:
        sender._meta.base_manager_name = "objects"
        sender._meta.__dict__.pop("base_manager", None)  # cached_property: recompute with the new name


# Checkpoint and Merkle-tree models are defined beside their logic; importing them here registers them.
from ledgerproject.ledger.checkpoints import *  # noqa: E402, F401, F403
