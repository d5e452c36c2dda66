"""Runs' six append-only ledgers, one module per ledger; every public name is re-exported here.

blobs (and the tenants' holds), blob_changes, runs, run_events, run_outcomes and outputs; beside
them digests (what a payload refers to) and references (who refers to a digest); payload
validation is runs/schemas.py (pydantic). Several of these ledgers' locks are taken in the kernel's one order (ledger/locking.py).
"""

from runs.models.blob_changes import BlobChange, BlobChangeQuerySet
from runs.models.blobs import Blob, BlobHold, BlobQuerySet, blobs_of_tenants
from runs.models.digests import digests_in
from runs.models.outputs import Output, OutputQuerySet, mint_output_id
from runs.models.references import blob_references, referrer_summary, release_model_or_none
from runs.models.run_events import RunEvent, RunEventQuerySet
from runs.models.run_outcomes import RunOutcome
from runs.models.runs import TERMINAL_STATUSES, AddressedByRun, Run, RunQuerySet, RunStatus

__all__ = [
    "TERMINAL_STATUSES",
    "AddressedByRun",
    "Blob",
    "BlobChange",
    "BlobChangeQuerySet",
    "BlobHold",
    "BlobQuerySet",
    "Output",
    "OutputQuerySet",
    "Run",
    "RunEvent",
    "RunEventQuerySet",
    "RunOutcome",
    "RunQuerySet",
    "RunStatus",
    "blob_references",
    "blobs_of_tenants",
    "digests_in",
    "mint_output_id",
    "referrer_summary",
    "release_model_or_none",
]
