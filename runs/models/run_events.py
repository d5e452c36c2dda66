"""The `run_events` ledger: a run's events, numbered per run."""

from django.core.exceptions import ValidationError
from django.db import models, router

from ledgerproject.ledger.exceptions import ConflictError
from ledgerproject.ledger.ids import safe_reverse
from ledgerproject.ledger.models import LedgerEntry, LedgerQuerySet
from runs.models.digests import digests_in
from runs.models.run_outcomes import _refuse_if_finished
from runs.models.runs import Run


class RunEventQuerySet(LedgerQuerySet):
    def for_run(self, run):
        return self.filter(run=run).order_by("event_seq")

    def referring_to(self, digest):
        # blob_refs is a space-separated list of digests; a deletion check is rare, so a scan is fine.
        return self.filter(blob_refs__contains=digest)

    def append_events(self, run, events, recorded_by=None):
        """Append a run's events atomically; a missing seq becomes one above the highest so far
        (numbered by the append path under the run-event lock: see RunEvent.scope_counters)."""
        using = self.db if self._db else router.db_for_write(RunEvent)
        try:
            return RunEvent.objects.using(using).append_many(
                [{**event, "run": run} for event in events], recorded_by=recorded_by
            )
        except ConflictError as exc:
            sameness = "and it is identical (a harmless replay)" if exc.identical else "with different content"
            raise ConflictError(
                exc.existing,
                exc.identical,
                message=f"run {run.run_id} already has an event with seq {exc.existing.event_seq}, {sameness}",
                index=exc.index,
            ) from None


class RunEvent(LedgerEntry):
    """One event of a run; `seq` (here event_seq) is unique within the run and read back ascending."""

    ledger_name = "run_events"
    # (run, event_seq) unique serves it.
    trail_fields = ("run_id",)
    natural_key_fields = ("run_id", "event_seq")
    # A missing seq: one above the run's highest, numbered under the lock.
    scope_counters = {"event_seq": ("run",)}
    tenant_field = "run__tenant_id"

    # No index of its own: the unique (run, event_seq) index leads with the run and serves every lookup by run.
    run = models.ForeignKey(Run, to_field="run_id", on_delete=models.PROTECT, related_name="events", db_index=False)
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
    def check_append_allowed(cls, entries, using, read=None):
        # Events and outcomes are separate ledgers: taking the outcome lock here (after our own)
        # makes "no outcome yet" and the insert one step for any concurrent complete/fail/cancel.
        # append_many already holds run_events; run_outcomes sorts after it (the kernel's lock order).
        # The outcome lock and the read under it share one round trip.
        _refuse_if_finished({entry.run_id for entry in entries}, using, "events", holding=cls.ledger_name)

    @property
    def effective_timestamp(self):
        return self.timestamp or self.recorded_at
