"""The seed's serde types (converge-core, 12-variant version) as pydantic models, the lifecycle table and id rule.

`validate_event(kind, data)` answers the data in the shape serde would serialize it back: missing
`Option` fields become null, `#[serde(default)]` fields get their default, and unknown fields are
refused (an audit ledger never silently drops what a client sent). The models are also what the
OpenAPI schema shows for each kind.
"""

import re
import typing
from typing import Annotated, Literal

from pydantic import ConfigDict, Discriminator, Field, RootModel, create_model

from ledgerproject.ledger.payloads import (
    Enum,
    Json,
    NonEmptyStr,
    Number,
    Payload,
    PayloadError,
    Str,
    Tag,
    Text,
    UInt,
    validate_payload,
    variants,
)

ID_MAX = 256
ID_PATTERN_TEXT = r"^[A-Za-z0-9._-]+$"
ID_PATTERN = re.compile(ID_PATTERN_TEXT)
U32 = UInt(2**32 - 1)
U64 = UInt()


def id_problem(value):
    """The upstream id rule: non-empty, at most 256 characters, only [A-Za-z0-9._-]."""
    if not value:
        return "must not be empty"
    if len(value) > ID_MAX:
        return f"must be at most {ID_MAX} characters (got {len(value)})"
    if not ID_PATTERN.fullmatch(value):
        return "may contain only letters, digits, '.', '_' and '-'"
    return None


Id = Text(
    ID_PATTERN_TEXT,
    "may contain only letters, digits, '.', '_' and '-'",
    min_length=1,
    max_length=ID_MAX,
    schema={"type": "string", "pattern": ID_PATTERN_TEXT, "minLength": 1, "maxLength": ID_MAX},
)


# --- kernel_boundary.rs ------------------------------------------------------------------------

DecisionStep = Enum("DecisionStep", "Reasoning", "Evaluation", "Planning")
ProposalKind = Enum("ProposalKind", "Claims", "Plan", "Classification", "Evaluation", "DraftDocument", "Reasoning")
Replayability = Enum("Replayability", "Deterministic", "BestEffort", "None")
ReplayabilityDowngradeReason = Enum(
    "ReplayabilityDowngradeReason",
    "RecallEmbedderNotDeterministic",
    "RecallCorpusNotContentAddressed",
    "RemoteBackendUsed",
    "NoSeedProvided",
    "MultipleReasons",
)
STEPS = variants(DecisionStep)
RiskTier = Enum("RiskTier", "Low", "Medium", "High", "Critical")
DataClassification = Enum("DataClassification", "Public", "Internal", "Confidential", "Restricted")


class ContractResult(Payload):
    name: Str
    passed: bool
    failure_reason: Str | None = None


class AdapterTrace(Payload):
    adapter_id: Str
    adapter_hash: Str
    merged: bool


class SamplerParams(Payload):
    temperature: Number(minimum=0)
    top_p: Number(minimum=0, maximum=1)
    top_k: U32 | None = None


class RecallTrace(Payload):
    corpus_fingerprint: Str
    candidate_ids: list[Str]
    candidate_scores: list[Number()]
    injected_count: U64


class ExecutionEnv(Payload):
    device: Str
    backend: Str
    precision: Str


class LocalReplayTrace(Payload):
    type: Literal["Local"]
    base_model_hash: Str
    adapter: AdapterTrace | None = None
    tokenizer_hash: Str
    seed: U64
    sampler: SamplerParams
    prompt_version: Str
    recall: RecallTrace | None = None
    weights_mutated: bool
    execution_env: ExecutionEnv


class RemoteReplayTrace(Payload):
    type: Literal["Remote"]
    provider_name: Str
    provider_model_id: Str
    request_fingerprint: Str
    response_fingerprint: Str
    temperature: Number(minimum=0)
    top_p: Number(minimum=0, maximum=1)
    max_tokens: U32
    provider_metadata: dict[Str, Str]
    retried: bool
    retry_reasons: list[Str]
    replayability: Replayability


# #[serde(tag = "type")]: the variant's fields sit beside the tag.
ReplayTrace = Annotated[LocalReplayTrace | RemoteReplayTrace, Field(discriminator="type")]


class KernelProposal(Payload):
    id: Id
    kind: ProposalKind
    payload: Str
    structured_payload: Json | None = None
    trace_link: ReplayTrace
    contract_results: list[ContractResult]
    requires_human: bool
    confidence: Number(minimum=0, maximum=1) | None = None


class KernelPolicy(Payload):
    adapter_id: Str | None = None
    recall_enabled: bool
    recall_max_candidates: U64
    recall_min_score: Number()
    seed: U64 | None = None
    requires_human: bool
    required_truths: list[Str]


class RoutingPolicy(Payload):
    truth_preferences: dict[Str, Str]
    risk_tier_backends: dict[RiskTier, list[Str]]
    data_classification_backends: dict[DataClassification, list[Str]]
    default_backend: Str


# --- recall.rs ---------------------------------------------------------------------------------

RecallUse = Enum("RecallUse", "RuntimeAugmentation", "TrainingCandidateSelection")
RecallConsumer = Enum("RecallConsumer", "Kernel", "Analytics", "Trainer")
StopReason = Enum(
    "StopReason",
    "ReachedTopK",
    "BudgetExhausted",
    "BelowThreshold",
    "TokenLimitReached",
    "LatencyExceeded",
    "EmbedderNotDeterministic",
    "TenantScopeMissing",
)


class RecallQuery(Payload):
    query_text: Str
    top_k: U64
    step_context: DecisionStep | None = None
    tenant_scope: Str | None = None


class RecallBudgets(Payload):
    max_latency_ms: U64
    max_embedding_calls: U64
    max_tokens_per_candidate: U64


class RecallPolicy(Payload):
    enabled: bool
    max_k_total: U64
    max_tokens_injection: U64
    min_score_threshold: Number()
    budgets: RecallBudgets
    allowed_uses: list[RecallUse] = Field(default_factory=lambda: ["RuntimeAugmentation"])


class CandidateScore(Payload):
    id: Str
    score: Number()


class RecallProvenanceEnvelope(Payload):
    query_hash: Str
    embedding_input_hash: Str
    embedding_hash: Str
    embedder_id: Str
    embedder_settings_hash: Str
    corpus_fingerprint: Str
    policy_snapshot_hash: Str
    purpose: RecallUse = "RuntimeAugmentation"
    consumers: list[RecallConsumer] = Field(default_factory=list)
    candidate_scores: list[CandidateScore]
    candidates_searched: U64
    candidates_returned: U64
    stop_reason: StopReason | None = None
    latency_ms: U64
    timestamp: Str
    signature: Str = "unsigned"


# --- governed_artifact.rs ----------------------------------------------------------------------

GovernedArtifactState = Enum(
    "GovernedArtifactState", "Draft", "Approved", "Active", "Quarantined", "Deprecated", "RolledBack"
)
RollbackSeverity = Enum("RollbackSeverity", "Low", "Medium", "High", "Critical")
ARTIFACT_KIND_UNITS = ("Adapter", "Pack", "Policy", "TruthFile", "EvalSuite")


class OtherArtifactKind(Payload):
    """ArtifactKind::Other(String), externally tagged."""

    Other: NonEmptyStr


def _artifact_kind_variant(value):
    if isinstance(value, str):
        return "unit"
    if isinstance(value, (dict, OtherArtifactKind)):  # a body, or the model when it is written back
        return "Other"
    return None


# ArtifactKind: unit variants as strings, `Other(String)` externally tagged as {"Other": "…"}.
ArtifactKind = Annotated[
    Annotated[Enum("ArtifactKindName", *ARTIFACT_KIND_UNITS), Tag("unit")] | Annotated[OtherArtifactKind, Tag("Other")],
    Discriminator(
        _artifact_kind_variant,
        custom_error_type="artifact_kind",
        custom_error_message=f'expected ArtifactKind ({", ".join(ARTIFACT_KIND_UNITS)} or {{"Other": "…"}})',
    ),
]


class LifecycleEvent(Payload):
    from_state: GovernedArtifactState
    to_state: GovernedArtifactState
    timestamp: Str
    actor: Str
    reason: Str
    ticket_ref: Str | None = None
    tenant_id: Id | None = None


class RollbackImpact(Payload):
    affected_count: U64 | None = None
    quality_issues: list[Str]
    invalidates_outputs: bool
    severity: RollbackSeverity
    affected_tenants: list[Str]


class RollbackRecord(Payload):
    artifact_id: Id
    previous_state: GovernedArtifactState
    rolled_back_at: Str
    actor: Str
    reason: Str
    impact: RollbackImpact
    incident_ref: Str | None = None
    tenant_id: Id | None = None


# --- experience_store.rs -----------------------------------------------------------------------


class ContractResultSnapshot(ContractResult):
    """experience_store.rs's copy of ContractResult: the same fields under its own name."""


class KernelPolicySnapshot(Payload):
    type: Literal["Kernel"]
    policy: KernelPolicy


class RoutingPolicySnapshot(Payload):
    type: Literal["Routing"]
    policy: RoutingPolicy


class RecallPolicySnapshot(Payload):
    type: Literal["Recall"]
    policy: RecallPolicy


# #[serde(tag = "type", content = "policy")]: {"type": Variant, "policy": {...}}.
PolicySnapshot = Annotated[
    KernelPolicySnapshot | RoutingPolicySnapshot | RecallPolicySnapshot, Field(discriminator="type")
]


class ProposalCreated(Payload):
    proposal: KernelProposal
    chain_id: Id
    step: DecisionStep
    policy_snapshot_hash: Str | None = None


class ProposalValidated(Payload):
    proposal_id: Id
    chain_id: Id
    step: DecisionStep
    contract_results: list[ContractResultSnapshot]
    all_passed: bool
    validator: Str


class FactPromoted(Payload):
    proposal_id: Id
    fact_id: NonEmptyStr
    promoted_by: Str
    reason: Str
    requires_human: bool


class RecallExecuted(Payload):
    query: RecallQuery
    provenance: RecallProvenanceEnvelope
    trace_link_id: Id | None = None


class ReplayTraceRecorded(Payload):
    trace_link_id: Id
    trace_link: ReplayTrace


class ReplayabilityDowngraded(Payload):
    trace_link_id: Id
    from_: Replayability = Field(alias="from")
    to: Replayability
    reason: ReplayabilityDowngradeReason


class ArtifactStateTransitioned(Payload):
    artifact_id: Id
    artifact_kind: ArtifactKind
    event: LifecycleEvent


class ArtifactRollbackRecorded(Payload):
    rollback: RollbackRecord


class BackendInvoked(Payload):
    backend_name: NonEmptyStr
    adapter_id: Str | None = None
    trace_link_id: Id
    step: DecisionStep
    policy_snapshot_hash: Str | None = None


class OutcomeRecorded(Payload):
    chain_id: Id
    step: DecisionStep
    passed: bool
    stop_reason: Str | None = None
    latency_ms: U64 | None = None
    tokens: U64 | None = None
    cost_microdollars: U64 | None = None
    backend: Str | None = None


class BudgetExceeded(Payload):
    chain_id: Id
    resource: NonEmptyStr
    limit: Str
    observed: Str | None = None


class PolicySnapshotCaptured(Payload):
    policy_id: NonEmptyStr
    policy: PolicySnapshot
    snapshot_hash: NonEmptyStr
    captured_by: Str


EVENT_DATA = {
    model.__name__: model
    for model in (
        ProposalCreated,
        ProposalValidated,
        FactPromoted,
        RecallExecuted,
        ReplayTraceRecorded,
        ReplayabilityDowngraded,
        ArtifactStateTransitioned,
        ArtifactRollbackRecorded,
        BackendInvoked,
        OutcomeRecorded,
        BudgetExceeded,
        PolicySnapshotCaptured,
    )
}
KINDS = tuple(EVENT_DATA)


def _event_model(kind, data):
    return create_model(
        f"{kind}Event",
        __base__=Payload,
        __doc__=f"An event of kind {kind}: its data is a {kind}.",
        type=(Literal[kind], ...),
        data=(data, ...),
    )


# One union of the twelve `{"type": kind, "data": …}` shapes, told apart by "type" (typing.Union: built from a tuple).
_EventUnion = typing.Union[tuple(_event_model(kind, model) for kind, model in EVENT_DATA.items())]  # noqa: UP007


class ExperienceEventBody(RootModel[Annotated[_EventUnion, Field(discriminator="type")]]):
    """The envelope's `event`: `{"type": <kind>, "data": {...}}`, one of the seed's twelve kinds."""

    model_config = ConfigDict(strict=True)


def kind_problem(kind):
    """Why `kind` is not one of the twelve event kinds, or None."""
    if isinstance(kind, str) and kind in EVENT_DATA:
        return None
    return f"unknown event kind {kind!r}; expected one of {', '.join(KINDS)}"


class Event(Payload):
    """An event as the envelope carries it: `{"type": <kind>, "data": {...}}`."""

    type: Str
    data: Json


def check_event_shape(event, path="event"):
    """The envelope's event has a known kind and JSON data; the data's own schema is validate_event's."""
    body = validate_payload(Event, event, path)
    problem = kind_problem(body["type"])
    if problem:
        raise PayloadError({f"{path}.type": [problem]})
    return body


def validate_event(kind, data, path="event"):
    """The kind's data normalized as serde writes it; PayloadError naming `event.type` or `event.data.…`."""
    problem = kind_problem(kind)
    if problem:
        raise PayloadError({f"{path}.type": [problem]})
    return validate_payload(EVENT_DATA[kind], data, f"{path}.data")


class ArtifactTransition(Payload):
    """POST /artifacts/{id}/transitions/: `{artifact_kind, event: LifecycleEvent, event_id?, correlation_id?}`."""

    artifact_kind: ArtifactKind
    event: LifecycleEvent
    event_id: Id | None = Field(default=None, description="minted (ULID) when absent")
    correlation_id: Id | None = None


def artifact_kind_label(value):
    """ "Adapter", or "Other(name)" for the open variant: one text form for filters and pages."""
    if isinstance(value, dict):
        return f"Other({value.get('Other', '')})"
    return value or ""


# The lifecycle table (governed_artifact.rs `validate_transition`); self-transitions are never allowed.
TRANSITIONS = {
    "Draft": ("Approved", "Deprecated"),
    "Approved": ("Active", "Quarantined", "RolledBack"),
    "Active": ("Quarantined", "Deprecated", "RolledBack"),
    "Quarantined": ("Active", "RolledBack", "Deprecated"),
    "Deprecated": (),
    "RolledBack": (),
}
STATES = tuple(TRANSITIONS)
TERMINAL_STATES = ("Deprecated", "RolledBack")


def transition_allowed(from_state, to_state):
    return to_state in TRANSITIONS.get(from_state, ())


def extracted_ids(kind, data):
    """The indexed columns a kind carries: chain_id, artifact_id, trace_link_id, proposal_id."""
    ids = {"chain_id": None, "artifact_id": None, "trace_link_id": None, "proposal_id": None}
    if kind == "ProposalCreated":
        ids["chain_id"] = data["chain_id"]
        ids["proposal_id"] = data["proposal"]["id"]
    elif kind == "ProposalValidated":
        ids["chain_id"] = data["chain_id"]
        ids["proposal_id"] = data["proposal_id"]
    elif kind == "FactPromoted":
        ids["proposal_id"] = data["proposal_id"]
    elif kind in ("RecallExecuted", "ReplayTraceRecorded", "ReplayabilityDowngraded", "BackendInvoked"):
        ids["trace_link_id"] = data["trace_link_id"]
    elif kind == "ArtifactStateTransitioned":
        ids["artifact_id"] = data["artifact_id"]
    elif kind == "ArtifactRollbackRecorded":
        ids["artifact_id"] = data["rollback"]["artifact_id"]
    elif kind in ("OutcomeRecorded", "BudgetExceeded"):
        ids["chain_id"] = data["chain_id"]
    return ids
