"""Content-addressed blobs, runs with their events and outcomes, and task outputs: six append-only ledgers."""

import secrets
import uuid

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connections, models, router, transaction
from django.db.models import Count, ExpressionWrapper, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from ledgerproject.ledger.exceptions import BatchValidationError, ConflictError, StateConflictError
from ledgerproject.ledger.ids import safe_reverse
from ledgerproject.ledger.locking import lock_ledger
from ledgerproject.ledger.models import LedgerEntry, LedgerQuerySet, tenant_unique
from ledgerproject.ledger.search import SearchField
from ledgerproject.ledger.validators import is_sha256, normalize_sha256
from runs.schemas import output_event_fields

U32_MAX = 2**32 - 1
# Every path that takes more than one of these ledgers' locks takes them in this order, so two
# writers never wait on each other in a cycle (an event append holds run_events, then run_outcomes).
LOCK_ORDER = ("run_events", "run_outcomes", "runs", "outputs", "blobs", "blob_changes")


def digests_in(value):
    """Every string in a JSON value that is a SHA-256 digest: what a payload refers to."""
    found = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif is_sha256(item):
            found.add(item.lower())
    return sorted(found)


def lock_ledgers(using, *names):
    """Take several ledgers' locks in the project-wide order (inside the caller's transaction)."""
    connection = connections[using]
    for name in sorted(set(names), key=LOCK_ORDER.index):
        lock_ledger(connection, name)


def _db_for(model):
    return router.db_for_write(model)


# --- blobs ----------------------------------------------------------------------------------------


class BlobQuerySet(LedgerQuerySet):
    def with_presence(self):
        """Annotate `present`: the bytes are stored unless the latest change for the digest is a deletion."""
        latest = BlobChange.objects.filter(blob=OuterRef("digest")).order_by("-seq").values("change")[:1]
        return self.annotate(last_change=Subquery(latest)).annotate(
            present=ExpressionWrapper(
                Q(last_change__isnull=True) | Q(last_change=BlobChange.RESTORED), output_field=models.BooleanField()
            )
        )

    def present(self):
        return self.with_presence().filter(present=True)


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
            present = BlobChange.objects.is_present(self.digest)
        return present


class BlobChangeQuerySet(LedgerQuerySet):
    def is_present(self, digest):
        last = self.filter(blob=digest).order_by("-seq").values_list("change", flat=True).first()
        return last in (None, BlobChange.RESTORED)


class BlobChange(LedgerEntry):
    """Bytes of a stored blob were deleted, or stored again after a deletion; the Blob entry itself stays."""

    DELETED, RESTORED = "deleted", "restored"

    ledger_name = "blob_changes"
    trail_fields = ("blob_id",)

    @classmethod
    def tenant_filter(cls, queryset, tenants):
        # A blob's changes are visible with the blob.
        return queryset.filter(blob__in=Blob.objects.filter(blobs_of_tenants(tenants)).values("digest"))

    blob = models.ForeignKey(Blob, to_field="digest", db_column="digest", on_delete=models.PROTECT, related_name="+")
    change = models.CharField(max_length=16, choices=[(DELETED, "deleted"), (RESTORED, "restored")])
    reason = models.CharField(max_length=500, blank=True)

    objects = BlobChangeQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        # Serves presence: the latest change per digest.
        indexes = [models.Index(fields=["blob", "-seq"], name="runs_blobchange_latest")]

    @property
    def digest(self):
        return self.blob_id

    def __str__(self):
        return f"blob {self.blob_id[:12]}… {self.change}"

    def get_absolute_url(self):
        return safe_reverse("runs:blob-detail", args=[self.blob_id])


def blob_references(digest, limit=20, user=None):
    """Who refers to a digest, among the entries `user` may see: {kind: [objects]} for runs,
    outcomes, run events, outputs and releases."""
    refs = {
        "runs": list(Run.objects.visible_to(user).filter(spec_digest=digest).order_by("-seq")[:limit]),
        "outcomes": list(
            RunOutcome.objects.visible_to(user).filter(final_state_digest=digest).select_related("run")[:limit]
        ),
        "events": list(RunEvent.objects.visible_to(user).referring_to(digest).select_related("run")[:limit]),
        "outputs": list(Output.objects.visible_to(user).filter(blob_digest=digest)[:limit]),
        "releases": [],
    }
    release_model = release_model_or_none()
    if release_model is not None:
        refs["releases"] = list(release_model._default_manager.visible_to(user).filter(spec_digest=digest)[:limit])
    return refs


def release_model_or_none():
    # The releases app is optional from here: found by name, never imported.
    try:
        return apps.get_model("releases", "Release")
    except LookupError:
        return None


def referrer_summary(digest, tenants=None):
    """A sentence naming what still refers to a digest, or "" when nothing does; with `tenants`,
    only those tenants' entries count (another tenant's references are never named to them)."""

    def mine(queryset):
        return queryset if tenants is None else queryset.model.tenant_filter(queryset, tenants)

    parts = []
    if mine(Run.objects.filter(spec_digest=digest)).exists():
        parts.append("a run's spec_digest")
    if mine(RunOutcome.objects.filter(final_state_digest=digest)).exists():
        parts.append("a run summary's final_state_digest")
    if mine(RunEvent.objects.referring_to(digest)).exists():
        parts.append("a run event's payload")
    if mine(Output.objects.filter(blob_digest=digest)).exists():
        parts.append("a task output's content")
    release_model = release_model_or_none()
    if release_model is not None and mine(release_model._default_manager.filter(spec_digest=digest)).exists():
        parts.append("a release's spec_digest")
    return ", ".join(parts)


# --- runs -----------------------------------------------------------------------------------------


class RunStatus(models.TextChoices):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


TERMINAL_STATUSES = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


class RunQuerySet(LedgerQuerySet):
    def with_status(self):
        """Derived status: RUNNING until the run's outcome exists, then the outcome's status."""
        return self.select_related("outcome").annotate(
            derived_status=Coalesce("outcome__status", Value(RunStatus.RUNNING), output_field=models.CharField())
        )

    def with_event_count(self):
        counts = (
            RunEvent.objects.filter(run=OuterRef("run_id"))
            .order_by()
            .values("run")
            .annotate(n=Count("seq"))
            .values("n")
        )
        return self.annotate(event_count=Coalesce(Subquery(counts), 0))

    def with_status_name(self, status):
        status = (status or "").upper()
        if status == RunStatus.RUNNING:
            return self.filter(outcome__isnull=True)
        return self.filter(outcome__status=status)

    def for_agent(self, agent_name):
        return self.filter(agent_name=agent_name)

    def for_spec(self, spec_digest):
        return self.filter(spec_digest=spec_digest.lower())

    def newest_first(self):
        return self.order_by("-created_at", "-seq")

    def create_run(self, spec_digest, agent_name, git_sha=None, tags=None, created_at=None, recorded_by=None):
        """The seed's create_run: a server-minted UUID, status RUNNING (no outcome yet)."""
        from django.utils import timezone

        return self.append(
            recorded_by=recorded_by,
            run_id=uuid.uuid4(),
            spec_digest=spec_digest,
            agent_name=agent_name,
            git_sha=git_sha,
            tags={} if tags is None else tags,
            created_at=created_at or timezone.now(),
        )


class AddressedByRun:
    """Entries whose page, API and search id are their run's (a run, its outcome)."""

    def get_absolute_url(self):
        return safe_reverse("runs:run-detail", args=[self.run_id])

    def get_api_url(self):
        return safe_reverse("runs-api:run-detail", args=[str(self.run_id)])

    def search_id(self):
        return str(self.run_id)


class Run(AddressedByRun, LedgerEntry):
    """One execution run of an agent spec; its status is derived from its outcome."""

    ledger_name = "runs"
    trail_fields = ("run_id", "spec_digest")
    search_fields = (
        SearchField("run_id", "run id", kind="uuid", link="runs:run-detail"),
        SearchField(
            "spec_digest",
            "spec digest",
            page="runs:run-list",
            page_query="spec_digest",
            api="runs-api:run-list",
            api_query="spec_digest",
            prefix=True,
        ),
        SearchField(
            "agent_name",
            "agent",
            page="runs:run-list",
            page_query="agent_name",
            api="runs-api:run-list",
            api_query="agent_name",
        ),
    )
    # run_id is a server-minted UUID (never chosen by a client), so it stays globally unique.
    natural_key_fields = ("run_id",)
    tenant_field = "tenant_id"
    omit_when_empty = ("tenant_id",)

    run_id = models.UUIDField(unique=True)
    # The run's tenant; its events and outcome inherit it (None: no tenant).
    tenant_id = models.CharField(max_length=256, null=True, blank=True)
    spec_digest = models.CharField(max_length=64)
    agent_name = models.CharField(max_length=256)
    git_sha = models.CharField(max_length=64, null=True, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    # The creator's claimed creation time (the server's own is recorded_at).
    created_at = models.DateTimeField()

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        indexes = [
            # Serves the run list, newest first, and its cursor.
            models.Index(fields=["-created_at", "-seq"], name="runs_run_newest"),
            # Serves list_runs(spec_digest) and a blob's "who references it".
            models.Index(fields=["spec_digest", "-created_at"], name="runs_run_spec"),
            # Serves the agent_name filter.
            models.Index(fields=["agent_name", "-created_at"], name="runs_run_agent"),
            # Search: spec_digest LIKE 'prefix%' (PostgreSQL needs a pattern-ops index for it).
            models.Index(fields=["spec_digest"], name="runs_run_spec_like", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self):
        return f"run {self.run_id}"

    def validate_append(self):
        try:
            self.spec_digest = normalize_sha256(self.spec_digest)
        except ValidationError as exc:
            raise ValidationError({"spec_digest": exc.messages}) from None
        if not self.agent_name.strip():
            raise ValidationError({"agent_name": ["agent_name must not be blank"]})

    @property
    def status(self):
        derived = getattr(self, "derived_status", None)
        if derived is not None:
            return derived
        outcome = self.outcome_or_none
        return outcome.status if outcome else RunStatus.RUNNING

    @property
    def outcome_or_none(self):
        try:
            return self.outcome
        except RunOutcome.DoesNotExist:
            return None

    @property
    def is_finished(self):
        return self.status != RunStatus.RUNNING


def _refuse_if_finished(run_ids, using, doing):
    """Under the outcome ledger's lock: a run with an outcome accepts nothing more (409)."""
    finished = RunOutcome.objects.using(using).filter(run_id__in=list(run_ids)).values_list("run_id", "status").first()
    if finished:
        run_id, status = finished
        raise StateConflictError(
            f"run {run_id} is {status}: a finished run accepts no {doing}",
            run_id=str(run_id),
            status=status,
            expected=RunStatus.RUNNING,
        )


class RunEventQuerySet(LedgerQuerySet):
    def for_run(self, run):
        return self.filter(run=run).order_by("event_seq")

    def referring_to(self, digest):
        # blob_refs is a space-separated list of digests; a deletion check is rare, so a scan is fine.
        return self.filter(blob_refs__contains=digest)

    def append_events(self, run, events, recorded_by=None):
        """Append a run's events atomically; a missing seq becomes one above the highest so far.

        When a seq is missing, the run-event lock is taken before numbering (and held through the
        append), so two writers leaving seq out never pick the same number. With every seq given,
        the append path's own transaction and lock are all it needs.
        """
        using = self.db if self._db else _db_for(RunEvent)
        try:
            if any(event.get("event_seq") is None for event in events):
                with transaction.atomic(using=using):
                    lock_ledgers(using, "run_events")
                    return self._append_rows(run, self._numbered(run, events, using), using, recorded_by)
            return self._append_rows(run, events, using, recorded_by)
        except ConflictError as exc:
            sameness = "and it is identical (a harmless replay)" if exc.identical else "with different content"
            raise ConflictError(
                exc.existing,
                exc.identical,
                message=f"run {run.run_id} already has an event with seq {exc.existing.event_seq}, {sameness}",
                index=exc.index,
            ) from None

    @staticmethod
    def _numbered(run, events, using):
        highest = RunEvent.objects.using(using).filter(run=run).aggregate(m=models.Max("event_seq"))["m"] or 0
        rows = []
        for event in events:
            if event.get("event_seq") is None:
                highest += 1
                event = {**event, "event_seq": highest}
            else:
                highest = max(highest, event["event_seq"])
            rows.append(event)
        return rows

    @staticmethod
    def _append_rows(run, rows, using, recorded_by):
        return RunEvent.objects.using(using).append_many([{**row, "run": run} for row in rows], recorded_by=recorded_by)


class RunEvent(LedgerEntry):
    """One event of a run; `seq` (here event_seq) is unique within the run and read back ascending."""

    ledger_name = "run_events"
    # (run, event_seq) unique serves it.
    trail_fields = ("run_id",)
    natural_key_fields = ("run_id", "event_seq")
    tenant_field = "run__tenant_id"

    run = models.ForeignKey(Run, to_field="run_id", on_delete=models.PROTECT, related_name="events")
    event_seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=256)
    payload = models.JSONField(default=dict, blank=True)
    # The client's timestamp; null when it sent none (then recorded_at is the event's time).
    timestamp = models.DateTimeField(null=True, blank=True)
    # Digests found in the payload, space-separated: what keeps those blobs from deletion.
    blob_refs = models.TextField(blank=True, default="")

    objects = RunEventQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["run", "event_seq"], name="runs_runevent_seq_unique")]
        # (run, event_seq) unique also serves get_events ascending by seq and the per-run counts.

    def __str__(self):
        return f"run {self.run_id} event {self.event_seq}"

    def get_absolute_url(self):
        url = safe_reverse("runs:run-detail", args=[self.run_id])
        return f"{url}#event-{self.event_seq}" if url else None

    def get_api_url(self):
        return safe_reverse("runs-api:run-event-detail", args=[str(self.run_id), self.event_seq])

    def validate_append(self):
        if self.event_seq is not None and self.event_seq < 1:
            raise ValidationError({"seq": ["seq starts at 1"]})
        if not self.kind.strip():
            raise ValidationError({"kind": ["kind must not be blank"]})
        self.blob_refs = " ".join(digests_in(self.payload))

    @classmethod
    def check_append_allowed(cls, entries, using):
        # Events and outcomes are separate ledgers: taking the outcome lock here (after our own)
        # makes "no outcome yet" and the insert one step for any concurrent complete/fail/cancel.
        # append_many already holds run_events; run_outcomes comes after it in LOCK_ORDER.
        lock_ledgers(using, "run_outcomes")
        _refuse_if_finished({entry.run_id for entry in entries}, using, "events")

    @property
    def effective_timestamp(self):
        return self.timestamp or self.recorded_at


class RunOutcome(AddressedByRun, LedgerEntry):
    """The one terminal record of a run: COMPLETED, FAILED or CANCELLED, with its RunSummary."""

    ledger_name = "run_outcomes"
    trail_fields = ("run_id",)
    search_fields = (SearchField("final_state_digest", "final state digest", prefix=True),)
    natural_key_fields = ("run_id",)
    tenant_field = "run__tenant_id"

    run = models.OneToOneField(Run, to_field="run_id", on_delete=models.PROTECT, related_name="outcome")
    status = models.CharField(max_length=16, choices=[(s.value, s.label) for s in TERMINAL_STATUSES])
    total_events = models.PositiveBigIntegerField()
    final_state_digest = models.CharField(max_length=64, null=True, blank=True)
    duration_ms = models.PositiveBigIntegerField()
    success = models.BooleanField()

    class Meta:
        ordering = ["seq"]
        indexes = [
            # Serves the status filter on the run list.
            models.Index(fields=["status"], name="runs_outcome_status"),
            # Serves a blob's "who references it" and its deletion check.
            models.Index(fields=["final_state_digest"], name="runs_outcome_final_digest"),
            # Search: final_state_digest LIKE 'prefix%' (PostgreSQL needs a pattern-ops index for it).
            models.Index(
                fields=["final_state_digest"], name="runs_outcome_final_like", opclasses=["varchar_pattern_ops"]
            ),
        ]

    def __str__(self):
        return f"run {self.run_id} {self.status}"

    def validate_append(self):
        if self.final_state_digest is not None:
            try:
                self.final_state_digest = normalize_sha256(self.final_state_digest)
            except ValidationError as exc:
                raise ValidationError({"final_state_digest": exc.messages}) from None
        expected = self.status == RunStatus.COMPLETED
        if self.success is not expected:
            outcome = self.status.lower()  # completed, failed, cancelled
            raise ValidationError({"success": [f"success must be {str(expected).lower()} when a run is {outcome}"]})

    @classmethod
    def check_append_allowed(cls, entries, using):
        _refuse_if_finished({entry.run_id for entry in entries}, using, "second outcome")

    @property
    def completed_at(self):
        return self.recorded_at

    def summary(self):
        return {
            "total_events": self.total_events,
            "final_state_digest": self.final_state_digest,
            "duration_ms": self.duration_ms,
            "success": self.success,
        }


# --- task outputs ---------------------------------------------------------------------------------


def mint_output_id():
    # Short and prefixed like the seed's OutputRef ("out-" + hex), but 80 random bits from the
    # OS's CSPRNG instead of a counter, so one id tells nothing about the next.
    return "out-" + secrets.token_hex(10)


class OutputQuerySet(LedgerQuerySet):
    def for_attempt(self, task_id, attempt):
        return self.filter(task_id=task_id, attempt=attempt).order_by("seq")

    def latest_by_name(self, producer_agent):
        """The newest output of a producer across all runs (the seed's get_latest_by_name)."""
        return self.filter(producer_agent=producer_agent).order_by("-seq").first()

    def latest_by_name_in_run(self, task_id, attempt, producer_agent):
        """The newest output of a producer within one (task, attempt), never another run's."""
        return self.filter(producer_agent=producer_agent, task_id=task_id, attempt=attempt).order_by("-seq").first()

    def emit(self, task_id, attempt, producer_agent, event, parent_refs=(), recorded_by=None):
        """The seed's append(): mints the id and returns the stored output."""
        for _ in range(3):
            try:
                return self.append(
                    recorded_by=recorded_by,
                    output_id=mint_output_id(),
                    task_id=task_id,
                    attempt=attempt,
                    producer_agent=producer_agent,
                    event=event,
                    parent_refs=list(parent_refs),
                )
            except ConflictError:  # pragma: no cover - 80 random bits colliding
                continue
        raise RuntimeError("could not mint a unique output id")


class Output(LedgerEntry):
    """One emitted task output (progress, partial, artifact or final) with the outputs it derives from."""

    ledger_name = "outputs"
    trail_fields = ("output_id", "task_id", "blob_digest")
    search_fields = (
        SearchField("output_id", "output id"),
        SearchField(
            "task_id",
            "task id",
            page="runs:task-list",
            page_query="task_id",
            api="runs-api:output-list",
            api_query="task_id",
        ),
        SearchField("blob_digest", "output blob digest", prefix=True),
    )
    natural_key_fields = ("tenant_id", "output_id")
    tenant_field = "tenant_id"
    omit_when_empty = ("tenant_id",)
    url_id_fields = ("output_id",)

    output_id = models.CharField(max_length=64)
    # Outputs name their task and attempt, not a run row: they carry the writer's tenant themselves.
    tenant_id = models.CharField(max_length=256, null=True, blank=True)
    task_id = models.CharField(max_length=256)
    attempt = models.PositiveBigIntegerField()
    producer_agent = models.CharField(max_length=256)
    event = models.JSONField()
    parent_refs = models.JSONField(default=list, blank=True)
    # Extracted from `event` for filtering and for the blob's references.
    event_type = models.CharField(max_length=16, editable=False)
    blob_digest = models.CharField(max_length=64, null=True, blank=True, editable=False)

    objects = OutputQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        indexes = [
            # Serves list_for_attempt in insertion order.
            models.Index(fields=["task_id", "attempt", "seq"], name="runs_output_attempt"),
            # Serves get_latest_by_name.
            models.Index(fields=["producer_agent", "-seq"], name="runs_output_producer"),
            # Serves get_latest_by_name_in_run.
            models.Index(fields=["producer_agent", "task_id", "attempt", "-seq"], name="runs_output_producer_run"),
            # Serves a blob's references and its deletion check.
            models.Index(fields=["blob_digest"], name="runs_output_blob"),
            # Search: blob_digest LIKE 'prefix%' (PostgreSQL needs a pattern-ops index for it).
            models.Index(fields=["blob_digest"], name="runs_output_blob_like", opclasses=["varchar_pattern_ops"]),
        ]
        constraints = [tenant_unique("output_id", name="runs_output_id_per_tenant")]

    def __str__(self):
        return f"{self.output_id} ({self.event_type})"

    def get_absolute_url(self):
        url = safe_reverse("runs:task-attempt", args=[self.task_id, self.attempt])
        return f"{url}#{self.output_id}" if url else None

    def get_api_url(self):
        return safe_reverse("runs-api:output-detail", args=[self.output_id])

    def search_id(self):
        return self.output_id

    def validate_append(self):
        if self.attempt > U32_MAX:
            raise ValidationError({"attempt": [f"attempt is a u32 (at most {U32_MAX})"]})
        self.event, self.event_type, self.blob_digest = output_event_fields(self.event)
        refs = self.parent_refs
        if not isinstance(refs, list) or not all(isinstance(ref, str) and ref for ref in refs):
            raise ValidationError({"parent_refs": ["parent_refs is a list of output ids"]})
        if len(set(refs)) != len(refs):
            raise ValidationError({"parent_refs": ["parent_refs names an output more than once"]})

    @classmethod
    def check_append_allowed(cls, entries, using):
        # Every entry's problems, keyed by its index: a batch answers which items are refused and why.
        problems = {}
        wanted = {ref for entry in entries for ref in entry.parent_refs}
        if wanted:
            # Output ids are per tenant: a parent is an output of the same tenant.
            known = set(Output.objects.using(using).filter(output_id__in=wanted).values_list("tenant_id", "output_id"))
            for index, entry in enumerate(entries):
                missing = [ref for ref in entry.parent_refs if (entry.tenant_id, ref) not in known]
                if missing:
                    problems.setdefault(index, {})["parent_refs"] = [f"no output {ref} exists" for ref in missing]
        digests = {entry.blob_digest for entry in entries if entry.blob_digest}
        if digests:
            # Under the outputs lock, which a blob deletion also takes: no output can slip in
            # referring to bytes that are being deleted.
            present = set(
                Blob.objects.using(using).present().filter(digest__in=digests).values_list("digest", flat=True)
            )
            for index, entry in enumerate(entries):
                if entry.blob_digest and entry.blob_digest not in present:
                    problems.setdefault(index, {})["event"] = [f"blob {entry.blob_digest} is not stored"]
        if problems:
            # append() turns a one-entry BatchValidationError back into the plain per-field shape.
            raise BatchValidationError(sorted(problems.items()))

    @property
    def content_ref(self):
        event = self.event or {}
        return event.get("content") or event.get("chunk")
