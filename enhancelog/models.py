"""Enhance log entries (one per enhance attempt) and reviews of rejected ones, with their queries."""

import functools
import re

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q, Subquery

from ledgerproject.ledger.exceptions import StateConflictError
from ledgerproject.ledger.ids import safe_reverse
from ledgerproject.ledger.models import LedgerEntry, LedgerQuerySet, optional_id_index, tenant_unique
from ledgerproject.ledger.pagination import KeysetPager
from ledgerproject.ledger.params import parse_int
from ledgerproject.ledger.rollups import Dimension, all_time, monthly, ms_day
from ledgerproject.ledger.search import SearchField
from ledgerproject.ledger.validators import MAX_JSON_INT, is_sha256

AXIS_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
KNOWN_AXES = ("des", "canonical", "noop", "agent-ref")
VERDICT_KEYS = {"axis", "status", "detail"}


def axes_marker(axes):
    """ ",des,noop," — a delimited column so one LIKE finds an axis on SQLite and PostgreSQL alike."""
    return "," + ",".join(axes) + "," if axes else ""


def split_axes(marker):
    """The axes of a marker (",des,noop," → ["des", "noop"])."""
    return [axis for axis in (marker or "").strip(",").split(",") if axis]


@functools.lru_cache(maxsize=4096)
def axes_tuple(marker):
    """split_axes() as a tuple, remembered per marker: a batch's entries share a few markers, and the rollups count
    the entries of one (day, tenant, axes) together (rollups.counts)."""
    return tuple(split_axes(marker))


def claimed_day(entry):
    return ms_day(entry.ts_ms)


def rejected_blueprint(entry):
    """The blueprint of a rejected entry, or None: the key of the three rejected-blueprint rollups (one call an entry)."""
    return entry.blueprint_id if entry.status == EnhanceEntry.REJECTED else None


class EnhanceEntryQuerySet(LedgerQuerySet):
    def for_blueprint(self, blueprint_id):
        return self.filter(blueprint_id=blueprint_id)

    def applied(self):
        return self.filter(status=EnhanceEntry.APPLIED)

    def rejected(self):
        return self.filter(status=EnhanceEntry.REJECTED)

    def with_axis(self, axis):
        """Entries with a verdict (pass or deny) on this axis."""
        return self.filter(axes__contains=axes_marker([axis]))

    def denied_on(self, axis):
        """Entries that this axis denied."""
        return self.filter(denied_axes__contains=axes_marker([axis]))

    def between_ms(self, since_ms=None, until_ms=None, until_inclusive=True):
        """Claimed time in [since_ms, until_ms] (the API's filters); dashboard windows pass
        until_inclusive=False so adjacent windows never overlap."""
        return self.claimed_between("ts_ms", since_ms, until_ms, until_inclusive)

    def reviewed(self, yes=True):
        """Entries with at least one review (their review state is the latest one), or without any."""
        has_review = Exists(Review.objects.filter(entry=OuterRef("pk")))
        return self.filter(has_review if yes else ~has_review)

    def search(self, text):
        """Free text over intent, rationale and reasons (the reasons JSON is searched as text)."""
        return self.filter(Q(intent__icontains=text) | Q(rationale__icontains=text) | Q(reasons_text__icontains=text))

    def with_review_state(self):
        """Annotate `review_decision` / `review_by`: the latest review's, or None (never a stored column)."""
        latest = Review.objects.filter(entry=OuterRef("pk")).order_by("-seq")
        return self.annotate(
            review_decision=Subquery(latest.values("decision")[:1]),
            review_by=Subquery(latest.values("recorded_by_name")[:1]),
        )

    def in_list_order(self):
        return self.order_by("ts_ms", "seq")

    def at_or_after(self, position):
        """(ts_ms, seq) ≥ position, written so the ts_ms bound is an index range condition."""
        if position is None:
            return self
        ts_ms, seq = position
        return self.filter(Q(ts_ms__gte=ts_ms) & (Q(ts_ms__gt=ts_ms) | Q(seq__gte=seq)))

    def unreviewed_rejections(self):
        """Rejected entries without a review, starting at the unreviewed floor (see unreviewed_floor)."""
        floor = unreviewed_floor(self.db)
        if floor == EMPTY:
            return self.none()
        return self.rejected().reviewed(False).at_or_after(floor)

    def review_queue(self):
        """Rejected entries that nobody has reviewed yet, newest first (served by the partial index)."""
        return self.rejected().reviewed(False).order_by("-ts_ms", "-seq")


class EnhanceEntry(LedgerEntry):
    """One enhance attempt: which issue patched which blueprint, what each verifier axis decided, and why."""

    ledger_name = "enhancelog"
    trail_fields = ("issue_id", "blueprint_id")
    search_fields = (
        SearchField("issue_id", "issue id", link="enhancelog:detail"),
        SearchField("blueprint_id", "blueprint id", page="enhancelog:trace", api="enhancelog-api:blueprint-trace"),
    )
    natural_key_fields = ("tenant_id", "issue_id")
    tenant_field = "tenant_id"
    omit_when_empty = ("tenant_id",)
    url_id_fields = ("issue_id", "blueprint_id")
    append_role = "writer"
    # The dashboard's figures, per claimed day (ts_ms): its windows and the entry list agree.
    rollups = (
        Dimension("status", "status", day=claimed_day),
        Dimension("axis", lambda entry: axes_tuple(entry.axes), day=claimed_day),
        Dimension("denied_axis", lambda entry: axes_tuple(entry.denied_axes), day=claimed_day),
        Dimension("rejected_blueprint", rejected_blueprint, day=claimed_day),
        # Longer windows rank blueprints by these monthly totals for their whole months (rollups.rows_since).
        Dimension("rejected_blueprint_month", rejected_blueprint, day=monthly(claimed_day)),
        # The dashboard's "all" window ranks blueprints by these totals (one row per blueprint).
        Dimension("rejected_blueprint_all", rejected_blueprint, day=all_time),
    )

    APPLIED, REJECTED = "applied", "rejected"
    STATUS_CHOICES = [(APPLIED, "applied"), (REJECTED, "rejected")]

    issue_id = models.CharField(max_length=256)
    # The entry's tenant (None: no tenant). Added after entries were hashed: omitted from the
    # canonical content when None, so those entries verify unchanged.
    tenant_id = models.CharField(max_length=256, null=True, blank=True)
    blueprint_id = models.CharField(max_length=256)
    prev_hash = models.CharField(max_length=64)
    new_hash = models.CharField(max_length=64, blank=True)
    intent = models.TextField(blank=True)
    rationale = models.TextField(blank=True)
    verdicts = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=STATUS_CHOICES)
    reasons = models.JSONField(default=list, blank=True)
    ts_ms = models.BigIntegerField()
    # Derived from `verdicts` / `reasons` on append (never sent by clients) so the axis and text
    # filters are plain column lookups on both engines; they are part of the hashed content.
    axes = models.CharField(max_length=512, blank=True, editable=False)
    denied_axes = models.CharField(max_length=512, blank=True, editable=False)
    reasons_text = models.TextField(blank=True, editable=False)

    objects = EnhanceEntryQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        verbose_name = "enhance entry"
        verbose_name_plural = "enhance entries"
        indexes = [
            # List by blueprint and the blueprint trace: WHERE blueprint_id = ? ORDER BY ts_ms, seq.
            models.Index(fields=["blueprint_id", "ts_ms", "seq"], name="enhancelog_bp_ts"),
            # List all (and time windows): ORDER BY ts_ms, seq, optionally WHERE ts_ms in [since, until).
            models.Index(fields=["ts_ms", "seq"], name="enhancelog_ts"),
            # The review queue and every "rejected" view: only ~15% of rows, newest first.
            models.Index(fields=["ts_ms", "seq"], name="enhancelog_rejected_ts", condition=Q(status="rejected")),
            # A tenant-bound principal's lists (API, pages, admin): its tenant's entries by claimed time.
            optional_id_index("tenant_id", "enhancelog_tenant_ts", "ts_ms", "seq"),
        ]
        # Issue ids are unique per tenant (another tenant's id is neither visible nor blocking).
        constraints = [tenant_unique("issue_id", name="enhancelog_issue_id_per_tenant")]

    def __str__(self):
        return f"{self.issue_id} → {self.blueprint_id} ({self.status})"

    def get_absolute_url(self):
        return safe_reverse("enhancelog:detail", args=[self.issue_id])

    def get_api_url(self):
        return safe_reverse("enhancelog-api:enhance-detail", args=[self.issue_id])

    def search_id(self):
        return self.issue_id

    def validate_append(self):
        errors = {}
        verdict_errors = self._verdict_errors()
        if verdict_errors:
            errors["verdicts"] = verdict_errors
        if not isinstance(self.reasons, list) or not all(isinstance(r, str) and r.strip() for r in self.reasons):
            errors["reasons"] = ['reasons must be a list of non-empty strings ("axis: reason")']
        # Hashes are SHA-256 digests in either case, stored as 64 lowercase hex (one rule: validators.py).
        if is_sha256(self.prev_hash):
            self.prev_hash = self.prev_hash.lower()
        else:
            errors["prev_hash"] = [
                f"prev_hash must be a SHA-256 digest (stored as 64 lowercase hex); got {self.prev_hash!r}"
            ]
        if not 0 <= (self.ts_ms if isinstance(self.ts_ms, int) else -1) <= MAX_JSON_INT:
            errors["ts_ms"] = [f"ts_ms must be epoch milliseconds between 0 and {MAX_JSON_INT}"]
        if self.status == self.APPLIED:
            if is_sha256(self.new_hash):
                self.new_hash = self.new_hash.lower()
            else:
                errors["new_hash"] = [
                    f"an applied entry's new_hash must be a SHA-256 digest (stored as 64 lowercase hex); "
                    f"got {self.new_hash!r}"
                ]
        if self.status == self.REJECTED:
            if self.new_hash != "":
                errors["new_hash"] = ['a rejected entry has no new version: new_hash must be ""']
            denies = any(isinstance(v, dict) and v.get("status") == "deny" for v in self.verdicts or [])
            if not denies and not self.reasons and "verdicts" not in errors:
                errors.setdefault(NON_FIELD_ERRORS, []).append(
                    "a rejected entry needs at least one deny verdict or one reason saying why"
                )
        if errors:
            raise ValidationError(errors)
        self.axes = axes_marker([v["axis"] for v in self.verdicts])
        self.denied_axes = axes_marker([v["axis"] for v in self.verdicts if v["status"] == "deny"])
        self.reasons_text = "\n".join(self.reasons)

    def _verdict_errors(self):
        if not isinstance(self.verdicts, list):
            return ["verdicts must be a list of {axis, status, detail}"]
        problems, seen = [], set()
        for index, verdict in enumerate(self.verdicts):
            if not isinstance(verdict, dict) or set(verdict) != VERDICT_KEYS:
                problems.append(f"verdict {index} must be an object with exactly axis, status and detail")
                continue
            axis, status, detail = verdict["axis"], verdict["status"], verdict["detail"]
            if not isinstance(axis, str) or not AXIS_NAME.fullmatch(axis):
                problems.append(f"verdict {index}: axis must be a name like des, canonical, noop or agent-ref")
            elif axis in seen:
                problems.append(f"verdict {index}: axis {axis!r} has more than one verdict")
            else:
                seen.add(axis)
            if status not in ("pass", "deny"):
                problems.append(f"verdict {index}: status must be pass or deny; got {status!r}")
            if not isinstance(detail, str):
                problems.append(f"verdict {index}: detail must be a string")
        return problems


EMPTY = "empty"
FLOOR_KEY = "enhancelog:unreviewed-floor:{}"


def _extends(ledger, tip):
    """Whether the ledger still holds the entry `tip` = (seq, entry_hash): it grew from that state."""
    seq, entry_hash = tip
    return seq == 0 or ledger.filter(seq=seq, entry_hash=entry_hash).exists()


def unreviewed_floor(using="default"):
    """The oldest (ts_ms, seq) of an unreviewed rejection, or EMPTY: a cached, derived lower bound.

    Listing unreviewed rejections oldest first would otherwise skip every already-reviewed one
    (an index probe each: a second at 1M entries). Reviews only ever shrink the unreviewed set and
    new entries are found by seq, so the floor advances incrementally from its last value and never
    passes an unreviewed entry. It is a cache (per process, rebuilt on a miss), not stored state.
    """
    from django.core.cache import cache

    entries = EnhanceEntry.objects.using(using)
    entry_tip = entries.order_by("-seq").values_list("seq", "entry_hash").first() or (0, "")
    review_tip = Review.objects.using(using).order_by("-seq").values_list("seq", "entry_hash").first() or (0, "")
    entry_head = entry_tip[0]
    key = FLOOR_KEY.format(using)
    cached = cache.get(key)
    # Keyed by the heads' seq *and* entry hash: the hash names the whole history, so a floor found in
    # another history (a restored or reset database behind a running process) is never reused.
    if cached and (cached["entries"], cached["reviews"]) == (entry_tip, review_tip):
        return cached["floor"]
    start = None
    if cached and _extends(entries, cached["entries"]) and _extends(Review.objects.using(using), cached["reviews"]):
        newer = (
            entries.rejected()
            .filter(seq__gt=cached["entries"][0], seq__lte=entry_head)
            .order_by("ts_ms", "seq")
            .values_list("ts_ms", "seq")
            .first()
        )
        candidates = [c for c in (None if cached["floor"] == EMPTY else cached["floor"], newer) if c is not None]
        if not candidates:
            cache.set(key, {"entries": entry_tip, "reviews": review_tip, "floor": EMPTY}, None)
            return EMPTY
        start = min(candidates)
    first = (
        entries.rejected()
        .reviewed(False)
        .filter(seq__lte=entry_head)
        .at_or_after(start)
        .order_by("ts_ms", "seq")
        .values_list("ts_ms", "seq")
        .first()
    )
    floor = tuple(first) if first else EMPTY
    cache.set(key, {"entries": entry_tip, "reviews": review_tip, "floor": floor}, None)
    return floor


def find_breaks(entries, head=None):
    """Applied entries whose prev_hash is not the previous applied entry's new_hash (entries in list order).

    `head` is the last applied entry before `entries` (one page of a trace): the first applied entry
    of a page is checked against it, so paging finds exactly the breaks the whole trace has.
    """
    breaks = []
    for entry in entries:
        if entry.status != EnhanceEntry.APPLIED:
            continue
        if head is not None and entry.prev_hash != head.new_hash:
            breaks.append(
                {
                    "issue_id": entry.issue_id,
                    "seq": entry.seq,
                    "prev_hash": entry.prev_hash,
                    "expected_prev_hash": head.new_hash,
                    "after_issue_id": head.issue_id,
                }
            )
        head = entry
    return breaks


TRACE_PAGE_SIZE = 100
TRACE_MAX_PAGE_SIZE = 1000


def parse_trace_cursor(value):
    """The older `after=<ts_ms>.<seq>` (still accepted by the trace API): (ts_ms, seq), or None when malformed."""
    ts_ms, _, seq = (value or "").partition(".")
    ts_ms, seq = parse_int(ts_ms, minimum=0), parse_int(seq, minimum=1)
    return None if ts_ms is None or seq is None else (ts_ms, seq)


TRACE_PAGER = KeysetPager(("ts_ms", "seq"), TRACE_PAGE_SIZE, TRACE_MAX_PAGE_SIZE, legacy={"after": parse_trace_cursor})


def trace_page(entries, blueprint_id, request):
    """One page of a blueprint's trace among `entries` (what the reader may see, e.g.
    EnhanceEntry.objects.visible_to(user)), ascending by (ts_ms, seq), with the whole trace's totals.

    The kernel's keyset pager reads the request's `cursor` (no OFFSET). Returns None for a
    blueprint with no entries at all.
    """
    trace = entries.for_blueprint(blueprint_id)
    page = TRACE_PAGER.paginate(request, trace)
    rows, head = page.rows, None
    if rows and not page.is_first:
        # Continuity across the page boundary: the last applied entry before this page.
        first = rows[0]
        head = trace.applied().filter(TRACE_PAGER.before(first)).order_by("-ts_ms", "-seq").first()
    if page.is_first and page.next_query is None:
        # The whole trace fits on this page: its totals need no further query.
        if not rows:
            return None
        applied = [e for e in rows if e.status == EnhanceEntry.APPLIED]
        count, applied_count, last_applied = len(rows), len(applied), applied[-1] if applied else None
    else:
        totals = trace.aggregate(
            count=models.Count("pk"), applied=models.Count("pk", filter=Q(status=EnhanceEntry.APPLIED))
        )
        if not totals["count"]:
            return None
        count, applied_count = totals["count"], totals["applied"]
        last_applied = trace.applied().order_by("-ts_ms", "-seq").first()
    return {
        "entries": rows,
        "breaks": find_breaks(rows, head=head),
        "count": count,
        "applied": applied_count,
        "rejected": count - applied_count,
        "head": last_applied,
        "page": page,
    }


class ReviewQuerySet(LedgerQuerySet):
    def for_entry(self, entry):
        return self.filter(entry=entry)

    def latest_per_entry(self, entries):
        """{entry seq: its latest Review} for the given entries, in one query."""
        seqs = [e.pk for e in entries]
        latest = {}
        for review in self.filter(entry_id__in=seqs).order_by("entry_id", "seq"):
            latest[review.entry_id] = review
        return latest


class Review(LedgerEntry):
    """A reviewer's decision on a rejected enhance; the latest review is the entry's review state."""

    ledger_name = "enhancelog-reviews"
    # Through the entry: its unique issue-id index, then enhancelog_review_entry.
    trail_fields = ("entry__issue_id",)
    append_role = "reviewer"
    # A review belongs to its entry's tenant.
    tenant_field = "entry__tenant_id"
    # The dashboard's "reviewed" figure counts entries with a review: only an entry's first one.
    rollups = (Dimension("reviewed_entry", lambda review: "" if review._first_review else None),)

    ACKNOWLEDGED, FALSE_POSITIVE, NEEDS_FOLLOWUP, WONT_FIX = (
        "acknowledged",
        "false_positive",
        "needs_followup",
        "wont_fix",
    )
    DECISION_CHOICES = [
        (ACKNOWLEDGED, "acknowledged"),
        (FALSE_POSITIVE, "false positive"),
        (NEEDS_FOLLOWUP, "needs follow-up"),
        (WONT_FIX, "won't fix"),
    ]

    entry = models.ForeignKey(EnhanceEntry, on_delete=models.PROTECT, related_name="reviews", db_index=False)
    decision = models.CharField(max_length=32, choices=DECISION_CHOICES)
    comment = models.TextField(blank=True)

    objects = ReviewQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        indexes = [
            # An entry's reviews and its latest one (review state), and the queue's NOT EXISTS probe.
            models.Index(fields=["entry", "seq"], name="enhancelog_review_entry"),
        ]

    def __str__(self):
        return f"review #{self.seq}: {self.decision}"

    def get_absolute_url(self):
        return safe_reverse("enhancelog:detail", args=[self.entry.issue_id])

    @property
    def reviewer(self):
        return self.recorded_by_name

    @classmethod
    def prepare_rollups(cls, reviews, using):
        """Mark each review that is its entry's first (none stored before it, none earlier in the batch)."""
        first_seq = min(review.seq for review in reviews)
        wanted = {review.entry_id for review in reviews}
        seen = set(
            cls._base_manager.using(using)
            .filter(entry_id__in=wanted, seq__lt=first_seq)
            .values_list("entry_id", flat=True)
            .distinct()
        )
        for review in reviews:
            review._first_review = review.entry_id not in seen
            seen.add(review.entry_id)

    @classmethod
    def check_append_allowed(cls, entries, using, read=None):
        seqs = {review.entry_id for review in entries}
        applied = list(
            EnhanceEntry.objects.using(using)
            .filter(pk__in=seqs, status=EnhanceEntry.APPLIED)
            .values_list("issue_id", flat=True)
        )
        if applied:
            raise StateConflictError(
                f"only rejected enhances are reviewed; {', '.join(applied)} was applied", issue_ids=applied
            )


class UnreviewedRejectionManager(models.Manager.from_queryset(EnhanceEntryQuerySet)):
    def get_queryset(self):
        return super().get_queryset().review_queue()


class UnreviewedRejection(EnhanceEntry):
    """The review queue: rejected enhance entries nobody has reviewed yet (a view of the ledger, not a ledger).

    Reviewing one appends a Review; the entry then leaves this queryset. Nothing is ever stored here.
    """

    objects = UnreviewedRejectionManager()

    class Meta:
        proxy = True
        verbose_name = "unreviewed rejection"
        verbose_name_plural = "review queue: unreviewed rejections"
