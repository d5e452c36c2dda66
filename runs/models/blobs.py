"""The `blobs` ledger (first storage of a digest's bytes) and the tenants' holds on those bytes."""

from django.db import connections, models
from django.db.models import Expression, ExpressionWrapper, F, OuterRef, Q, Subquery

from ledgerproject.ledger.ids import safe_reverse
from ledgerproject.ledger.models import ALL_TENANTS, LedgerEntry, LedgerQuerySet, tenant_scope
from ledgerproject.ledger.search import SearchField
from ledgerproject.ledger.validators import normalize_sha256


class BlobQuerySet(LedgerQuerySet):
    def with_presence(self):
        """Annotate `present`: the bytes are stored unless the latest change for the digest is a deletion."""
        from runs.models.blob_changes import BlobChange  # its module refers to Blob: imported when used

        latest = BlobChange.objects.filter(blob=OuterRef("digest")).order_by("-seq").values("change")[:1]
        return self.annotate(last_change=Subquery(latest)).annotate(
            present=ExpressionWrapper(
                Q(last_change__isnull=True) | Q(last_change=BlobChange.RESTORED), output_field=models.BooleanField()
            )
        )

    def present(self):
        return self.with_presence().filter(present=True)

    def presence_visible_to(self, user, digest):
        """A boolean expression for another ledger's list: the row's `digest` (a column name or an F) names
        bytes stored as present() and visible to `user` (visible_to()), read in that list's own query instead
        of asking present_digests() for its page. Written by hand, as present_digests() is: the ORM's
        Exists over present() cost a release list a third of its CPU to build and compile."""
        return PresentBlob(digest, tenants=tenant_scope(user))

    def present_digests(self, digests):
        """The subset of `digests` whose bytes are stored (present()), in a query written by hand: a
        release's answer asks it for its spec on every promote, and the ORM took longer to build it than
        to run it."""
        digests = sorted(set(digests))
        if not digests:
            return set()
        connection = connections[self.db]
        quote = connection.ops.quote_name
        present, params = _bytes_present_sql(connection, "b")
        digest = f"b.{quote(_digest_column())}"
        sql = (
            f"SELECT {digest} FROM {quote(self.model._meta.db_table)} b "
            f"WHERE {digest} IN ({', '.join(['%s'] * len(digests))}) AND {present}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*digests, *params])
            return {row[0] for row in cursor.fetchall()}


def _digest_column():
    return Blob._meta.get_field("digest").column


def _bytes_present_sql(connection, alias):
    """SQL and params: the bytes of the blob row `alias` are stored, i.e. its latest change (the
    runs_blobchange_latest index) is a restoration, or it has none (never deleted)."""
    from runs.models.blob_changes import BlobChange  # its module refers to Blob: imported when used

    quote = connection.ops.quote_name
    changes = BlobChange._meta
    blob, change = quote(changes.get_field("blob").column), quote(changes.get_field("change").column)
    digest = f"{alias}.{quote(_digest_column())}"
    sql = (
        f"COALESCE((SELECT c.{change} FROM {quote(changes.db_table)} c WHERE c.{blob} = {digest} "
        f"ORDER BY c.{quote(changes.pk.column)} DESC LIMIT 1), %s) = %s"
    )
    return sql, [BlobChange.RESTORED, BlobChange.RESTORED]


class PresentBlob(Expression):
    """SQL: the outer row's `digest` names a blob whose bytes are stored and held by one of `tenants`
    (blobs_of_tenants(); ALL_TENANTS: any holder, none: false, as visible_to() shows nothing then).
    Blob.objects.presence_visible_to() builds it for a principal; `tenants` has no default, so that no
    caller shows every tenant's blobs by leaving it out."""

    output_field = models.BooleanField()

    def __init__(self, digest, *, tenants):
        super().__init__(output_field=models.BooleanField())
        self.digest = digest if hasattr(digest, "resolve_expression") else F(digest)
        self.tenants = None if tenants is ALL_TENANTS else tuple(sorted(tenants))

    def get_source_expressions(self):
        return [self.digest]

    def set_source_expressions(self, exprs):
        (self.digest,) = exprs

    def as_sql(self, compiler, connection):
        if self.tenants == ():
            # A comparison, not a constant: a constant select column would leave GROUP BY without it.
            return "(1 = 0)", []
        quote = connection.ops.quote_name
        outer, params = compiler.compile(self.digest)
        present, present_params = _bytes_present_sql(connection, "b")
        digest = f"b.{quote(_digest_column())}"
        sql = f"EXISTS(SELECT 1 FROM {quote(Blob._meta.db_table)} b WHERE {digest} = {outer} AND {present}"
        params = [*params, *present_params]
        if self.tenants is not None:
            holds = BlobHold._meta
            sql += (
                f" AND {digest} IN (SELECT h.{quote(holds.get_field('digest').column)} FROM {quote(holds.db_table)} h"
                f" WHERE h.{quote(holds.get_field('tenant_key').column)} IN ({', '.join(['%s'] * len(self.tenants))}))"
            )
            params += self.tenants
        if connection.vendor == "postgresql":
            # A fence: PostgreSQL may otherwise plan the EXISTS as a hashed subplan over every stored blob
            # (each one's latest change looked up), chosen when its probes look dear, which a list of one
            # page pays in full (70 ms at 20,000 blobs). With OFFSET the EXISTS stays a probe per row.
            sql += " OFFSET 0"
        return sql + ")", params


class BlobHold(models.Model):
    """A tenant's hold on stored bytes: it stored them (or was given them). Bytes are stored once
    per digest, but each tenant sees, reads and deletes only the blobs it holds; deleting drops its
    own hold (refused while its own entries refer to the blob), and the bytes go when no hold and no
    reference is left.
    Holds are operational state, not evidence: the ledger records first storage (Blob) and every
    deletion or restoration of the bytes (BlobChange)."""

    digest = models.CharField(max_length=64)
    # "" is the hold of principals that store with no tenant (all-tenant principals).
    tenant_key = models.CharField(max_length=256, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["digest", "tenant_key"], name="runs_blobhold_unique")]

    def __str__(self):
        return f"{self.tenant_key or '(no tenant)'} holds {self.digest[:12]}…"


def blobs_of_tenants(tenants):
    """Digests visible to `tenants`: the ones they hold (their principals stored the bytes).

    A reference (a run's spec_digest, an output's content, a release…) does not make bytes visible:
    any digest may be named, so a tenant could otherwise name a digest and learn from a 200 or a 404
    whether another tenant stored that content. References keep a tenant's own hold from being
    deleted (409) instead."""
    return Q(digest__in=BlobHold.objects.filter(tenant_key__in=sorted(tenants)).values("digest"))


class Blob(LedgerEntry):
    """The first time a digest's bytes were stored: its size and media type (the bytes live in storage)."""

    ledger_name = "blobs"
    trail_fields = ("digest",)
    # digest is unique=True: on PostgreSQL Django adds its varchar_pattern_ops twin (…_like) for prefixes.
    search_fields = (SearchField("digest", "blob digest", prefix=True, link="runs:blob-detail"),)
    # Content-addressed: one entry per digest whoever stored it; visibility comes from holds.
    natural_key_fields = ("digest",)
    url_id_fields = ("digest",)

    @classmethod
    def tenant_filter(cls, queryset, tenants):
        return queryset.filter(blobs_of_tenants(tenants))

    digest = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    media_type = models.CharField(max_length=255, default="application/octet-stream")

    objects = BlobQuerySet.as_manager()

    def validate_append(self):
        self.digest = normalize_sha256(self.digest)

    def __str__(self):
        return f"blob {self.digest[:12]}… ({self.size} bytes)"

    def get_absolute_url(self):
        return safe_reverse("runs:blob-detail", args=[self.digest])

    def get_api_url(self):
        return safe_reverse("runs-api:blob-detail", args=[self.digest])

    def search_id(self):
        return self.digest

    @property
    def is_present(self):
        present = getattr(self, "present", None)
        if present is None:
            from runs.models.blob_changes import BlobChange

            present = BlobChange.objects.is_present(self.digest)
        return present
