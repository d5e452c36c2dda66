"""Runs' six append-only ledgers, one module per ledger; every public name is re-exported here.

blobs (and the tenants' holds), blob_changes, runs, run_events, run_outcomes and outputs; beside
them digests (the digest rule), validation (task-output payloads) and references (who refers to a
digest). Several of these ledgers' locks are taken in the kernel's one order (ledger/locking.py).
"""

from runs.models.blob_changes import BlobChange, BlobChangeQuerySet
from runs.models.blobs import Blob, BlobHold, BlobQuerySet, blobs_of_tenants
from runs.models.digests import DIGEST_RE, digests_in, is_digest, normalize_digest
from runs.models.outputs import Output, OutputQuerySet, mint_output_id
from runs.models.references import blob_references, referrer_summary, release_model_or_none
from runs.models.run_events import RunEvent, RunEventQuerySet
from runs.models.run_outcomes import RunOutcome
from runs.models.runs import TERMINAL_STATUSES, AddressedByRun, Run, RunQuerySet, RunStatus
from runs.models.validation import OUTPUT_EVENT_TYPES, U32_MAX, validate_output_event

__all__ = [
    "DIGEST_RE",
    "OUTPUT_EVENT_TYPES",
    "TERMINAL_STATUSES",
    "U32_MAX",
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
    "is_digest",
    "mint_output_id",
    "normalize_digest",
    "referrer_summary",
    "release_model_or_none",
    "validate_output_event",
]
