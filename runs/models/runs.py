"""The `runs` ledger: one execution run of an agent spec, whose status is derived from its outcome."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from ledgerproject.ledger.ids import safe_reverse
from ledgerproject.ledger.models import LedgerEntry, LedgerQuerySet, optional_id_index
from ledgerproject.ledger.search import SearchField
from ledgerproject.ledger.validators import normalize_sha256


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
        from runs.models.run_events import RunEvent  # its module refers to Run: imported when used

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
    # The run's start as its creator claims it (the seed's RunRecord.created_at; the server's own time is
    # recorded_at). Not renamed: the entry hash covers column names. A release's `created_at` is server time.
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
            # A tenant-bound principal's run lists (API, page, admin), newest first.
            optional_id_index("tenant_id", "runs_run_tenant_newest", "-created_at", "-seq"),
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
        from runs.models.run_outcomes import RunOutcome  # its module refers to Run: imported when used

        try:
            return self.outcome
        except RunOutcome.DoesNotExist:
            return None
