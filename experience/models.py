"""ExperienceEvent: the seed's typed audit events; artifact state and trace links are queries over them."""

import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from ulid import ULID

from experience import schemas
from ledgerproject.ledger.exceptions import StateConflictError
from ledgerproject.ledger.ids import safe_reverse
from ledgerproject.ledger.models import LedgerEntry, LedgerQuerySet, optional_id_index, tenant_unique
from ledgerproject.ledger.payloads import PayloadError
from ledgerproject.ledger.search import SearchField

KIND_CHOICES = [(kind, kind) for kind in schemas.KINDS]
TRANSITION = "ArtifactStateTransitioned"
ROLLBACK = "ArtifactRollbackRecorded"
OCCURRED_AT_MAX = 64


def new_event_id():
    """A ULID: sortable by creation time, unique without coordination."""
    return str(ULID())


def parse_occurred_at(value):
    """An ISO 8601 timestamp with a zone (Z or ±hh:mm) as an aware datetime; ValueError with a reason."""
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty ISO 8601 timestamp")
    if len(value) > OCCURRED_AT_MAX:
        raise ValueError(f"must be at most {OCCURRED_AT_MAX} characters (got {len(value)})")
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 timestamp (e.g. 2026-01-21T12:00:00Z)") from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; add Z or an offset such as +00:00")
    return moment.astimezone(datetime.UTC)


class ExperienceEventQuerySet(LedgerQuerySet):
    def between(self, since=None, until=None):
        """The seed's TimeRange: inclusive on both ends, on the claimed occurred_at."""
        return self.claimed_between("occurred_at_utc", since, until)

    def capped(self, limit):
        """At most `limit` entries in append order, still a filterable queryset (for cursors and exports)."""
        if limit is None:
            return self
        if limit <= 0:
            return self.none()
        last = list(self.order_by("seq").values_list("seq", flat=True)[limit - 1 : limit])
        return self.filter(seq__lte=last[0]) if last else self

    def for_chain(self, chain_id):
        return self.filter(chain_id=chain_id)

    def for_trace_link(self, trace_link_id):
        return self.filter(trace_link_id=trace_link_id)

    def transitions(self, artifact_id=None):
        qs = self.filter(kind=TRANSITION)
        return qs if artifact_id is None else qs.filter(artifact_id=artifact_id)

    def for_artifact(self, artifact_id):
        """Transitions and rollback records of one artifact, in append order."""
        return self.filter(artifact_id=artifact_id, kind__in=[TRANSITION, ROLLBACK])

    def current_artifacts(self):
        """One row per artifact: its newest transition, whose to_state is the artifact's current state."""
        # Artifact ids are per tenant: the newest transition of the same (tenant, artifact) pair.
        newest = (
            ExperienceEvent.objects.annotate(tenant_key=Coalesce("tenant_id", Value("")))
            .filter(
                kind=TRANSITION,
                artifact_id=OuterRef("artifact_id"),
                tenant_key=Coalesce(OuterRef("tenant_id"), Value("")),
            )
            .order_by("-seq")
            .values("seq")[:1]
        )
        return self.filter(kind=TRANSITION, seq=Subquery(newest))

    def in_state(self, state):
        return self.filter(data__event__to_state=state)

    def of_artifact_kind(self, kind):
        """`Adapter`…`EvalSuite`, `Other` (any open kind) or `Other(name)`."""
        if kind == "Other":
            return self.filter(data__artifact_kind__has_key="Other")
        if kind.startswith("Other(") and kind.endswith(")"):
            return self.filter(data__artifact_kind__Other=kind[6:-1])
        return self.filter(data__artifact_kind=kind)

    def current_state(self, artifact_id):
        """The artifact's current state (Draft when it has no transition yet)."""
        last = self.transitions(artifact_id).order_by("-seq").values_list("data", flat=True).first()
        return last["event"]["to_state"] if last else "Draft"


class ExperienceEvent(LedgerEntry):
    """One ExperienceEventEnvelope: ids, claimed time, tenant, correlation and a typed event (kind + data)."""

    ledger_name = "experience"
    trail_fields = ("event_id", "correlation_id", "chain_id", "artifact_id", "trace_link_id", "proposal_id")
    # Each id column has its (id, seq) index (Meta.indexes); event ids their unique one.
    search_fields = (
        SearchField("event_id", "event id", link="experience:event"),
        SearchField(
            "correlation_id",
            "correlation id",
            page="experience:correlation",
            api="experience-api:event-list",
            api_query="correlation_id",
        ),
        SearchField(
            "chain_id", "chain id", page="experience:chain", api="experience-api:event-list", api_query="chain_id"
        ),
        SearchField(
            "artifact_id", "artifact id", page="experience:artifact", api="experience-api:artifact-transitions"
        ),
        SearchField("trace_link_id", "trace link id", page="experience:trace-link", api="experience-api:trace-link"),
    )
    # Per tenant: no tenant can learn that another used an event id, nor block it from using one.
    natural_key_fields = ("tenant_id", "event_id")
    url_id_fields = ("event_id", "chain_id", "correlation_id", "artifact_id", "trace_link_id")
    tenant_field = "tenant_id"

    event_id = models.CharField(max_length=256, default=new_event_id)
    # The client's claimed time, kept exactly as sent; occurred_at_utc is its parsed form for range queries.
    occurred_at = models.CharField(max_length=OCCURRED_AT_MAX)
    occurred_at_utc = models.DateTimeField(null=True, blank=True, editable=False)
    tenant_id = models.CharField(max_length=256, null=True, blank=True)
    correlation_id = models.CharField(max_length=256, null=True, blank=True)
    # blank: an empty kind or payload is reported by the schema with its envelope path (event.type, event.data.…).
    kind = models.CharField(max_length=40, blank=True)
    data = models.JSONField(blank=True)
    # Extracted from data where the kind has them, so queries never decode payload JSON.
    chain_id = models.CharField(max_length=256, null=True, blank=True, editable=False)
    artifact_id = models.CharField(max_length=256, null=True, blank=True, editable=False)
    trace_link_id = models.CharField(max_length=256, null=True, blank=True, editable=False)
    proposal_id = models.CharField(max_length=256, null=True, blank=True, editable=False)

    objects = ExperienceEventQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        indexes = [
            # GET /events/?tenant_id=… (and every tenant-bound principal's lists), in append order.
            models.Index(fields=["tenant_id", "seq"], name="experience_tenant_seq"),
            # ?kind=… filters and the admin's kind filter.
            models.Index(fields=["kind", "seq"], name="experience_kind_seq"),
            # ?correlation_id=… and the correlation page.
            optional_id_index("correlation_id", name="experience_corr_seq"),
            # ?chain_id=… and the chain page.
            optional_id_index("chain_id", name="experience_chain_seq"),
            # An artifact's history, its current state (newest transition) and the lock-time state check.
            optional_id_index("artifact_id", name="experience_artifact_seq"),
            # /trace-links/{id}/: the recorded trace and every event referencing it.
            optional_id_index("trace_link_id", name="experience_trace_seq"),
            # A proposal's lifecycle (created, validated, promoted).
            optional_id_index("proposal_id", name="experience_proposal_seq"),
            # ?since=/&until= time ranges on the claimed time.
            models.Index(fields=["occurred_at_utc", "seq"], name="experience_occurred_seq"),
        ]
        constraints = [tenant_unique("event_id", name="experience_event_id_per_tenant")]

    def __str__(self):
        return f"{self.kind} {self.event_id}"

    def get_absolute_url(self):
        return safe_reverse("experience:event", args=[self.event_id])

    def get_api_url(self):
        return safe_reverse("experience-api:event-detail", args=[self.event_id])

    def search_id(self):
        return self.event_id

    # --- the append path ---------------------------------------------------------------------

    def validate_append(self):
        """Check the envelope and the kind's schema; store data as serde would serialize it."""
        errors = {}
        for name in ("event_id", "tenant_id", "correlation_id"):
            value = getattr(self, name)
            if value is None and name != "event_id":
                continue
            problem = schemas.id_problem(value) if isinstance(value, str) else "expected a string"
            if problem:
                errors[name] = [problem]
        try:
            self.occurred_at_utc = parse_occurred_at(self.occurred_at)
        except ValueError as exc:
            errors["occurred_at"] = [str(exc)]
        try:
            self.data = schemas.validate_event(self.kind, self.data)
        except PayloadError as exc:
            errors.update(exc.errors)
        else:
            for column, value in schemas.extracted_ids(self.kind, self.data).items():
                setattr(self, column, value)
            inner = {
                TRANSITION: ("event", "event.data.event.tenant_id"),
                ROLLBACK: ("rollback", "event.data.rollback.tenant_id"),
            }
            if self.kind in inner:
                key, path = inner[self.kind]
                claimed = self.data[key]["tenant_id"]
                # The record's own tenant, when given, is the envelope's: tenancy is decided on the envelope.
                if claimed is not None and claimed != self.tenant_id:
                    errors[path] = [f"{claimed!r} differs from the envelope's tenant_id {self.tenant_id!r}"]
        if errors:
            raise ValidationError(errors)

    @classmethod
    def state_rules_apply_to(cls, rows):
        # The lifecycle concerns artifact transitions only (a kind that is not text may become one when cleaned).
        return any(type(kind := row.get("kind")) is not str or kind == TRANSITION for row in rows)

    @classmethod
    def _transitions_newest_first(cls, entries, using):
        """The stored transitions of the artifacts that `entries` move, newest first per artifact id."""
        ids = {entry.artifact_id for entry in entries if entry.kind == TRANSITION}
        return (
            cls._base_manager.using(using)
            .filter(kind=TRANSITION, artifact_id__in=ids)
            .order_by("artifact_id", "-seq")
            .values_list("artifact_id", "tenant_id", "data")
        )

    @classmethod
    def state_reads(cls, entries, connection):
        # The moved artifacts' transitions, read in the lock's own message.
        if not any(entry.kind == TRANSITION for entry in entries):
            return {}
        return {"transitions": cls._transitions_newest_first(entries, connection.alias)}

    @classmethod
    def check_append_allowed(cls, entries, using, read=None):
        """The artifact lifecycle, under the ledger lock: each transition starts from the current state."""
        moves = [(index, entry) for index, entry in enumerate(entries) if entry.kind == TRANSITION]
        if not moves:
            return
        current = {}
        if read is not None and "transitions" in read:
            newest = read["transitions"]
        else:
            newest = cls._transitions_newest_first(entries, using)
        # Artifact ids are per tenant: another tenant's artifact of the same id is another artifact.
        for artifact_id, tenant_id, data in newest:
            current.setdefault((tenant_id, artifact_id), (data["event"]["to_state"], data["artifact_kind"]))
        batch = len(entries) > 1
        for index, entry in moves:
            lifecycle = entry.data["event"]
            kind = entry.data["artifact_kind"]
            key = (entry.tenant_id, entry.artifact_id)
            state, first_kind = current.get(key, ("Draft", kind))
            problem = None
            if kind != first_kind:
                problem = (
                    f"artifact {entry.artifact_id!r} is recorded as {schemas.artifact_kind_label(first_kind)}, "
                    f"not {schemas.artifact_kind_label(kind)}"
                )
            elif lifecycle["from_state"] != state:
                problem = (
                    f"artifact {entry.artifact_id!r} is {state}, not {lifecycle['from_state']}: "
                    "from_state must be the current state"
                )
            elif not schemas.transition_allowed(state, lifecycle["to_state"]):
                allowed = ", ".join(schemas.TRANSITIONS[state]) or "nothing (terminal state)"
                problem = (
                    f"{state} → {lifecycle['to_state']} is not in the artifact lifecycle; "
                    f"from {state} allowed: {allowed}"
                )
            if problem:
                extra = {"artifact_id": entry.artifact_id, "current_state": state}
                if not batch:
                    raise StateConflictError(problem, **extra)
                # Still a 409 (the ledger's state refuses it), in the kernel's batch shape: the item is named.
                raise StateConflictError(
                    f"Batch rejected, nothing was stored: item {index}: {problem}",
                    index=index,
                    items=[{"index": index, "errors": [problem]}],
                    **extra,
                )
            current[key] = (lifecycle["to_state"], kind)

    # --- presentation ------------------------------------------------------------------------

    @property
    def envelope(self):
        """The seed's ExperienceEventEnvelope JSON."""
        return envelope_of(self)

    @property
    def kind_template(self):
        return f"experience/kinds/_{self.kind.lower()}.html"

    @property
    def step(self):
        return self.data.get("step") if isinstance(self.data, dict) else None


def step_summary(events):
    """A chain's (or correlation's) events grouped by decision step, with outcome and usage totals.

    Steps appear in the order the chain first reached them; events without a step (budgets,
    promotions, recalls, …) form a last group. Totals add up every OutcomeRecorded event.
    """
    groups = {}
    for event in events:
        step = event.step if event.step in schemas.STEPS else None
        group = groups.setdefault(
            step,
            {
                "step": step,
                "events": [],
                "outcome": None,
                "outcomes": 0,
                "latency_ms": 0,
                "tokens": 0,
                "cost_microdollars": 0,
                "budget_exceeded": 0,
            },
        )
        group["events"].append(event)
        if event.kind == "OutcomeRecorded":
            data = event.data
            group["outcomes"] += 1
            # The step's outcome is its latest recorded one; a retry that passes supersedes a failure.
            group["outcome"] = "passed" if data["passed"] else "failed"
            for key in ("latency_ms", "tokens", "cost_microdollars"):
                group[key] += data.get(key) or 0
        elif event.kind == "BudgetExceeded":
            group["budget_exceeded"] += 1
    ordered = [g for key, g in groups.items() if key is not None] + ([groups[None]] if None in groups else [])
    totals = {key: sum(g[key] for g in ordered) for key in ("latency_ms", "tokens", "cost_microdollars", "outcomes")}
    totals["events"] = sum(len(g["events"]) for g in ordered)
    totals["budget_exceeded"] = sum(g["budget_exceeded"] for g in ordered)
    outcomes = [g["outcome"] for g in ordered if g["outcome"]]
    totals["outcome"] = None if not outcomes else ("failed" if "failed" in outcomes else "passed")
    return {"groups": ordered, "totals": totals}


def envelope_of(event):
    """The seed's ExperienceEventEnvelope JSON of an event: an ExperienceEvent, or a list page's plain row."""
    return {
        "event_id": event.event_id,
        "occurred_at": event.occurred_at,
        "tenant_id": event.tenant_id,
        "correlation_id": event.correlation_id,
        "event": {"type": event.kind, "data": event.data},
    }
