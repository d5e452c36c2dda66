"""The `run_outcomes` ledger: the one terminal record of a run, and the rule that a finished run takes nothing more."""

from django.core.exceptions import ValidationError
from django.db import connections, models

from ledgerproject.ledger.exceptions import StateConflictError
from ledgerproject.ledger.locking import lock_another_ledger_then_fetch
from ledgerproject.ledger.models import LedgerEntry
from ledgerproject.ledger.search import SearchField
from ledgerproject.ledger.validators import normalize_sha256
from runs.models.runs import TERMINAL_STATUSES, AddressedByRun, Run, RunStatus


def _refuse_if_finished(run_ids, using, doing, holding=None):
    """Under the outcome ledger's lock: a run with an outcome accepts nothing more (409).

    holding: the ledger whose lock the caller holds (run_events); the outcome lock is then taken here,
    in the same round trip as the read (locking.lock_another_ledger_then_fetch). Otherwise the caller
    holds the outcome lock already.
    """
    connection = connections[using]
    quote = connection.ops.quote_name
    meta = RunOutcome._meta
    run, status = meta.get_field("run"), meta.get_field("status")
    ids = sorted({run.get_db_prep_value(run_id, connection) for run_id in run_ids}, key=str)
    # Written by hand: on every run event the ORM took longer to build this query than to run it.
    sql = (
        f"SELECT {quote(run.column)}, {quote(status.column)} FROM {quote(meta.db_table)} "
        f"WHERE {quote(run.column)} IN ({', '.join(['%s'] * len(ids))}) ORDER BY {quote(meta.pk.column)} LIMIT 1"
    )
    if holding is None:
        with connection.cursor() as cursor:
            cursor.execute(sql, ids)
            rows = cursor.fetchall()
    else:
        rows = lock_another_ledger_then_fetch(connection, RunOutcome.ledger_name, holding, sql, ids)
    if rows:
        finished = (run.target_field.to_python(rows[0][0]), rows[0][1])
        run_id, status = finished
        raise StateConflictError(
            f"run {run_id} is {status}: a finished run accepts no {doing}",
            run_id=str(run_id),
            status=status,
            expected=RunStatus.RUNNING,
        )


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
    def check_append_allowed(cls, entries, using, read=None):
        _refuse_if_finished({entry.run_id for entry in entries}, using, "second outcome")

    @property
    def completed_at(self):
        return self.recorded_at

    def summary(self):
        return outcome_summary(self)


def outcome_summary(outcome):
    """The seed's RunSummary of an outcome: a RunOutcome, or a list page's plain row of its columns."""
    return {
        "total_events": outcome.total_events,
        "final_state_digest": outcome.final_state_digest,
        "duration_ms": outcome.duration_ms,
        "success": outcome.success,
    }
