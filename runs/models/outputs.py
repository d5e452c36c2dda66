"""The `outputs` ledger: task outputs (progress, partial, artifact, final) and the outputs they derive from."""

import secrets

from django.core.exceptions import ValidationError
from django.db import models

from ledgerproject.ledger.exceptions import BatchValidationError, ConflictError
from ledgerproject.ledger.ids import safe_reverse
from ledgerproject.ledger.models import LedgerEntry, LedgerQuerySet, optional_id_index, tenant_unique
from ledgerproject.ledger.search import SearchField
from runs.models.blobs import Blob
from runs.schemas import output_event_fields

U32_MAX = 2**32 - 1


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
            # A tenant-bound principal's output lists (API, tasks page, admin), in append order.
            optional_id_index("tenant_id", "runs_output_tenant_seq"),
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
    def state_rules_apply_to(cls, rows):
        # Only parents and blobs are looked up; an event whose content is not plainly inline may name a blob.
        def may_name_a_blob(event):
            ref = (event.get("content") or event.get("chunk")) if isinstance(event, dict) else None
            return not (isinstance(ref, dict) and ref.get("kind") == "inline")

        return any(row.get("parent_refs") or may_name_a_blob(row.get("event")) for row in rows)

    @classmethod
    def check_append_allowed(cls, entries, using, read=None):
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
