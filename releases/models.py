"""Release: the append-only release registry per agent name (promote, rollback by re-append, current, history)."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import connections, models
from django.db.models import Count, F, Max, Q, Subquery, Value
from django.db.models.functions import Coalesce

from ledgerproject.ledger import rollups
from ledgerproject.ledger.exceptions import StateConflictError
from ledgerproject.ledger.ids import safe_reverse
from ledgerproject.ledger.latest import LatestEntry
from ledgerproject.ledger.models import InEachOf, LedgerEntry, LedgerQuerySet, optional_id_index, within_scope
from ledgerproject.ledger.rollups import Dimension, all_time
from ledgerproject.ledger.search import SearchField
from ledgerproject.ledger.validators import validate_sha256

# A promote or rollback that lost a race re-reads the current release and tries again this many times.
MAX_ATTEMPTS = 20

validate_name = RegexValidator(
    r"^(?!\.{1,2}$)[A-Za-z0-9._-]{1,256}$",
    "A release name is 1–256 characters of letters, digits, '.', '_' or '-' (and not '.' or '..').",
)


class StaleCurrentError(StateConflictError):
    """The name's current release is no longer the one the append was built on (or expected)."""


class ReleaseQuerySet(LedgerQuerySet):
    def for_name(self, name):
        return self.filter(name=name)

    def history(self, name):
        """Every entry of `name`, newest first (empty for an unknown name)."""
        return self.for_name(name).order_by("-seq")

    def current(self, name):
        """The name's current release (of the tenants this queryset holds: the newest of their currents),
        or None; read through the current-release rows' (name, tenant) index. Narrow the queryset by tenant
        only: the newest entry before a moment is current_as_of(), read from the entries."""
        return self.filter(current_row__name=name).order_by("-seq").first()

    def newest(self, name, tenant_id):
        """current(name) of one tenant (None or "": no tenant) in a query written by hand: a promote
        reads it twice, before the lock and under it, and the ORM took longer to build it than to run it."""
        return next(iter(self.raw(*self.newest_statement(name, tenant_id))), None)

    def newest_statement(self, name, tenant_id):
        """(sql, params) of newest(): every concrete column of the name's newest entry (of one tenant)."""
        quote = connections[self.db].ops.quote_name
        meta = self.model._meta
        tenant = f"{quote('tenant_id')} = %s" if tenant_id else f"{quote('tenant_id')} IS NULL"
        sql = (
            f"SELECT {', '.join(quote(field.column) for field in meta.concrete_fields)} FROM {quote(meta.db_table)} "
            f"WHERE {quote('name')} = %s AND {tenant} ORDER BY {quote('seq')} DESC LIMIT 1"
        )
        return sql, [name, tenant_id] if tenant_id else [name]

    def current_as_of(self, name, moment):
        """The entry of `name` that was current at `moment` (on the trusted recorded_at), or None."""
        return self.history(name).filter(recorded_at__lte=moment).first()

    def currents(self, names=None):
        """Each name's current release: its newest entry per tenant (the one no later entry has superseded);
        only those of `names` when given (a page's names: see name_window).

        Read from the current-release rows (CurrentRelease, kept on append), joined to their entries:
        no probe of the newest entry of every name, and a filter on the current release's own columns
        (current_row__promoted_by, …) is an index range of that small table.
        """
        if names is not None:
            # A page's names: their current entries' keys go to the database as one array, so the release
            # table is read by key; a join let PostgreSQL walk the (name, seq) index past a cursor instead.
            keys = CurrentRelease.objects.filter(name__in=sorted(names)).values("entry_id")
            return self.filter(InEachOf(F("seq"), keys))
        return self.filter(current_row__isnull=False)

    def on_rows_visible_to(self, user):
        """currents() narrowed on their current-release rows to the tenants `user` may see. visible_to() narrows
        the entries; this lets a filter's index range of the rows pass other tenants' rows before any entry
        is read."""
        return within_scope(self, user, "current_row__tenant")

    def name_window(self, user, after=None, backwards=False, count=100, contains=""):
        """The first `count` release names `user` may see after name `after` (before it when `backwards`),
        in name order, read from the current-release rows by their (name, tenant) index: the names a page of
        currents() ordered by name can hold, so that page joins only those. `contains`: names containing it
        (any case)."""
        listed = CurrentRelease.objects.visible_to(user)
        if contains:
            listed = listed.filter(name__icontains=contains)
        if after is not None:
            listed = listed.filter(**{"name__lte" if backwards else "name__gte": after})
        order = "-name" if backwards else "name"
        return list(listed.order_by(order).values_list("name", flat=True).distinct()[:count])

    def rollbacks(self):
        return self.filter(action=Release.Action.ROLLBACK)

    def stats_by_name(self, names=None):
        # Counted over the table: pages read release_stats() (the rollups) instead.
        """{name: {"entries": n, "rollbacks": n}} in one grouped query."""
        rows = self.order_by()
        if names is not None:
            rows = rows.filter(name__in=list(names))
        rows = rows.values("name").annotate(
            entries=Count("seq"), rollbacks=Count("seq", filter=Q(action=Release.Action.ROLLBACK))
        )
        return {row["name"]: {"entries": row["entries"], "rollbacks": row["rollbacks"]} for row in rows}

    def promote(
        self,
        name,
        spec_digest,
        promoted_by,
        version_label="",
        notes="",
        expected_current=None,
        recorded_by=None,
        tenant_id=None,
    ):
        """Append a new current release of `name`.

        expected_current: None skips the check; a digest must be the current release's spec_digest;
        "" means "no release of this name yet". A mismatch is a StaleCurrentError (409).
        """
        fields = {
            "name": name,
            "spec_digest": spec_digest,
            "version_label": version_label or "",
            "promoted_by": promoted_by,
            "notes": notes or "",
            "action": Release.Action.PROMOTE,
            "tenant_id": tenant_id,
        }
        return self._append_on_current(
            name, expected_current, recorded_by, lambda current: fields, tenant_id, restores=False
        )

    def rollback(self, name, promoted_by=None, notes=None, expected_current=None, recorded_by=None, tenant_id=None):
        """Re-append the entry before the current one as the new current release.

        Release.DoesNotExist for an unknown name; StateConflictError (409) when the name has a
        single release. The claimed promoted_by and notes default to those of the restored entry.
        """

        def build(current):
            if current is None:
                raise Release.DoesNotExist(f"There is no release called {name!r}, so there is nothing to roll back.")
            target = current.supersedes
            if target is None:
                raise StateConflictError(
                    f"{name!r} has a single release ({current.label}); there is no previous release to roll back to.",
                    current=current.summary(),
                )
            return {
                "name": name,
                "spec_digest": target.spec_digest,
                "version_label": target.version_label,
                "promoted_by": promoted_by or target.promoted_by,
                "notes": target.notes if notes is None else notes,
                "action": Release.Action.ROLLBACK,
                "rolled_back_to": target,
                "tenant_id": tenant_id,
            }

        return self._append_on_current(name, expected_current, recorded_by, build, tenant_id)

    def _append_on_current(self, name, expected_current, recorded_by, build, tenant_id=None, restores=True):
        """Compare-and-append: build the entry on the current release, and append it only if that
        release is still current under the ledger lock; a lost race re-reads and tries again.
        restores: the entry is built from the release before the current one (a rollback), read with it."""
        for attempt in range(MAX_ATTEMPTS):
            # Names are per tenant: the current release is this tenant's (None: no tenant).
            if restores:
                current = self.of_tenant(tenant_id).select_related("supersedes").history(name).first()
            else:
                current = self.newest(name, tenant_id)
            _check_expected(name, current, expected_current)
            fields = build(current)
            try:
                return self.append(recorded_by=recorded_by, supersedes=current, **fields)
            except StaleCurrentError:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


def _check_expected(name, current, expected_current):
    if expected_current is None:
        return
    actual = current.spec_digest if current is not None else ""
    if actual == expected_current:
        return
    if current is None:
        message = f"expected_current is {expected_current!r} but {name!r} has no release yet."
    elif expected_current == "":
        message = f"expected_current says {name!r} has no release yet, but its current release is {current.label}."
    else:
        message = (
            f"expected_current {expected_current} is stale: the current release of {name!r} is {current.label}"
            f" (spec_digest {current.spec_digest})."
        )
    raise StaleCurrentError(message, current=current.summary() if current is not None else None)


class Release(LedgerEntry):
    """One entry of an agent name's release history: a promotion, or a rollback re-appending an older release."""

    ledger_name = "releases"
    trail_fields = ("name", "version_label", "spec_digest")
    search_fields = (
        SearchField("name", "release name", page="releases:history", api="releases-api:release-detail"),
        SearchField("version_label", "version label"),
        SearchField("spec_digest", "spec digest", prefix=True),
    )
    url_id_fields = ("name",)
    append_role = "writer"
    tenant_field = "tenant_id"
    # The registry's counts per name (entries, rollbacks): the index and history pages read these.
    rollups = (
        Dimension("name", "name"),
        # One row per (tenant, name): the list of names currents() probes, and each name's entry count.
        Dimension("name_all", "name", day=all_time),
        Dimension("rollback", lambda release: release.name if release.action == Release.Action.ROLLBACK else None),
    )
    omit_when_empty = ("tenant_id",)

    class Action(models.TextChoices):
        PROMOTE = "promote", "promote"
        ROLLBACK = "rollback", "rollback"

    name = models.CharField(max_length=256, validators=[validate_name])
    spec_digest = models.CharField(max_length=64, validators=[validate_sha256])
    version_label = models.CharField(max_length=128, blank=True)
    # Claimed by the client (the seed's ReleaseMetadata.promoted_by); who really asked is recorded_by.
    promoted_by = models.CharField(max_length=150)
    notes = models.TextField(blank=True, max_length=10000)
    action = models.CharField(max_length=8, choices=Action.choices, default=Action.PROMOTE)
    # A rollback's restored entry: the one that was current before the entry it replaced.
    rolled_back_to = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="restorations"
    )
    # The entry that was current for this name when this one was appended (None for the first).
    # Unique: two appends built on the same current release cannot both be stored.
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )

    # Release names are per tenant: current/history/rollback are per (tenant_id, name).
    tenant_id = models.CharField(max_length=256, null=True, blank=True)

    objects = ReleaseQuerySet.as_manager()

    class Meta(LedgerEntry.Meta):
        indexes = [
            # current(name), history(name) and current_as_of(name, T): newest entry of one name.
            models.Index(fields=["name", "-seq"], name="releases_name_seq"),
            # "which names run this spec" and the blob reference check of the runs app.
            models.Index(fields=["spec_digest"], name="releases_spec_digest"),
            # Search (ledger/search.py): version_label = %s, and spec_digest LIKE 'prefix%' on PostgreSQL,
            # whose default-collation B-tree above cannot serve a prefix (varchar_pattern_ops can).
            models.Index(fields=["version_label"], name="releases_version_label"),
            models.Index(fields=["spec_digest"], name="releases_spec_like", opclasses=["varchar_pattern_ops"]),
            # The home page's recent rollbacks: action = 'rollback' AND recorded_at >= since, newest first.
            models.Index(fields=["action", "recorded_at"], name="releases_action_recorded"),
            # GET /releases/?promoted_by=: the current releases one promoter made.
            models.Index(fields=["promoted_by"], name="releases_promoted_by"),
            # A tenant-bound principal's list of release entries (the admin), in append order.
            optional_id_index("tenant_id", "releases_tenant_seq"),
        ]
        constraints = [
            # Backstop for the ledger lock: each name has a single first release.
            models.UniqueConstraint(
                Coalesce("tenant_id", Value("")),
                F("name"),
                condition=Q(supersedes__isnull=True),
                name="releases_one_first_per_tenant_name",
            ),
        ]

    def __str__(self):
        return f"{self.name} {self.label} (#{self.seq})"

    def get_absolute_url(self):
        url = safe_reverse("releases:history", args=[self.name])
        return f"{url}#entry-{self.seq}" if url else None

    def get_api_url(self):
        return safe_reverse("releases-api:release-detail", args=[self.name])

    def search_id(self):
        return f"{self.name} {self.label}"

    @property
    def label(self):
        return self.version_label or self.spec_digest[:12]

    @property
    def is_rollback(self):
        return self.action == self.Action.ROLLBACK

    def summary(self):
        """A small JSON description of this entry, for conflict bodies."""
        return {
            "seq": self.seq,
            "name": self.name,
            "spec_digest": self.spec_digest,
            "version_label": self.version_label or None,
            "action": self.action,
        }

    def clean_fields(self, exclude=None):
        # Whether supersedes / rolled_back_to exist is settled by check_append_allowed under the lock (they
        # must be the name's current release and the one before it); skip the two extra existence queries.
        super().clean_fields(exclude={*(exclude or ()), "supersedes", "rolled_back_to"})

    def validate_append(self):
        # full_clean() has checked the digest (validate_sha256); it is stored, compared and linked lowercase.
        self.spec_digest = self.spec_digest.lower()
        if not self.promoted_by.strip():
            raise ValidationError({"promoted_by": ["promoted_by must say who or what promoted this release."]})
        if self.action == self.Action.PROMOTE and self.rolled_back_to_id is not None:
            raise ValidationError({"rolled_back_to": ["A promotion does not roll back to anything."]})
        if self.action == self.Action.ROLLBACK and self.rolled_back_to_id is None:
            raise ValidationError({"rolled_back_to": ["A rollback names the release it returns to."]})

    @classmethod
    def state_reads(cls, entries, connection):
        # One name (a promote or a rollback): its newest entry, read in the lock's own message.
        if len(entries) != 1:
            return {}
        entry = entries[0]
        return {"current": cls._base_manager.using(connection.alias).newest_statement(entry.name, entry.tenant_id)}

    @classmethod
    def check_append_allowed(cls, entries, using, read=None):
        """Each entry must be built on its name's current release, and a rollback must restore the
        entry before it with the same spec; checked under the ledger lock, so racing appends serialize."""
        keys = [(entry.tenant_id, entry.name) for entry in entries]
        if len(set(keys)) != len(keys):
            raise StateConflictError("Append one release per name at a time: each is built on the one before.")
        rows = cls._base_manager.using(using)
        if len(entries) == 1:
            # One name: its newest entry through the (name, -seq) index, a query quicker to build and run.
            if read is not None and "current" in read:
                found = cls.entries_from_rows(read["current"], using)
                current = found[0] if found else None
            else:
                current = rows.newest(keys[0][1], keys[0][0])
            heads = {keys[0]: current} if current is not None else {}
        else:
            # Each (tenant, name)'s newest entry, for the whole batch in one query.
            names = [entry.name for entry in entries]
            newest = (
                rows.filter(name__in=names).values("tenant_id", "name").annotate(newest=Max("seq")).values("newest")
            )
            heads = {(head.tenant_id, head.name): head for head in rows.filter(seq__in=Subquery(newest))}
        for entry in entries:
            current = heads.get((entry.tenant_id, entry.name))
            current_seq = current.seq if current is not None else None
            if entry.supersedes_id != current_seq:
                raise StaleCurrentError(
                    f"The current release of {entry.name!r} changed while this one was being appended.",
                    current=current.summary() if current is not None else None,
                )
            if entry.action != cls.Action.ROLLBACK:
                continue
            if current is None or entry.rolled_back_to_id != current.supersedes_id:
                raise StateConflictError(
                    f"A rollback of {entry.name!r} must restore the release before the current one."
                )
            target = entry.rolled_back_to
            if (target.name, target.spec_digest, target.version_label) != (
                entry.name,
                entry.spec_digest,
                entry.version_label,
            ):
                raise StateConflictError("A rollback re-appends the restored release's spec_digest and version_label.")


def release_stats(user, names, tenant=rollups.ANY_TENANT):
    """{name: {"entries": n, "rollbacks": n}} for these names, from the rollups the user may see
    (one tenant's when `tenant` is given, None meaning no tenant): one grouped query."""
    names = list(names)
    found = rollups.totals(
        user, [Release.ledger_name], ("name_all", "rollback"), by=("dimension", "key"), keys=names, tenant=tenant
    )
    return {
        name: {"entries": found.get(("name_all", name), 0), "rollbacks": found.get(("rollback", name), 0)}
        for name in names
    }


class CurrentRelease(LatestEntry):
    """Each (tenant, name)'s current release: its newest entry, with the columns the list filters on.

    Derived state kept on append (ledger/latest.py), never a record of its own: the entries are the truth,
    `rebuild_rollups` rebuilds these rows from them and `verify_ledgers --rollups` compares the two.
    """

    latest_key = ("name",)

    entry = models.OneToOneField(Release, on_delete=models.PROTECT, related_name="current_row")
    name = models.CharField(max_length=256)
    promoted_by = models.CharField(max_length=150)
    spec_digest = models.CharField(max_length=64)
    action = models.CharField(max_length=8, choices=Release.Action.choices)

    class Meta:
        constraints = [
            # One current release per (tenant, name), the UPSERT's conflict target; name first, so it also
            # serves the index page's and the list's name order and a page's names (name IN …).
            models.UniqueConstraint(fields=["name", "tenant"], name="releases_current_name_tenant"),
        ]
        indexes = [
            # GET /releases/?promoted_by= (?spec_digest=, ?action=): one filter's current releases in name order.
            models.Index(fields=["promoted_by", "name"], name="releases_current_promoted_by"),
            models.Index(fields=["spec_digest", "name"], name="releases_current_spec"),
            models.Index(fields=["action", "name"], name="releases_current_action"),
        ]

    def __str__(self):
        return f"{self.name} [{self.tenant or 'no tenant'}] → #{self.entry_id}"
