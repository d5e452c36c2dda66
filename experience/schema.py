"""The seed's serde types (converge-core, 12-variant version) as validators that name the path of a bad field.

Each validator takes a JSON value and returns it in the shape serde would serialize it back:
missing `Option` fields become null, `#[serde(default)]` fields get their default, and unknown
fields are refused (an audit ledger never silently drops what a client sent).
"""

import math
import re

JSON_SAFE_MAX = 2**53 - 1
ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]+$")
ID_MAX = 256

_MISSING = object()
NUL_PROBLEM = "must not contain NUL (\\u0000) characters"


class SchemaError(Exception):
    """One or more invalid fields; `errors` maps a dotted path to its messages."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(f"{path}: {' '.join(msgs)}" for path, msgs in errors.items()))


class _Errors:
    def __init__(self):
        self.by_path = {}

    def add(self, path, message):
        self.by_path.setdefault(path or "non_field_errors", []).append(message)


def _type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _join(path, key):
    return f"{path}.{key}" if path else str(key)


class Schema:
    description = "a value"

    def check(self, value, path, errors):
        raise NotImplementedError

    def validate(self, value, path=""):
        """The normalized value, or SchemaError naming every bad path."""
        errors = _Errors()
        result = self.check(value, path, errors)
        if errors.by_path:
            raise SchemaError(errors.by_path)
        return result


class Str(Schema):
    description = "a string"

    def __init__(self, identifier=False, non_empty=False, max_length=None):
        self.identifier = identifier
        self.non_empty = non_empty or identifier
        self.max_length = ID_MAX if identifier and max_length is None else max_length

    def check(self, value, path, errors):
        if not isinstance(value, str):
            errors.add(path, f"expected a string, got {_type_name(value)}")
            return value
        problem = NUL_PROBLEM if "\x00" in value else None
        if problem is None and self.identifier:
            problem = id_problem(value)
        if problem is None and self.non_empty and not value:
            problem = "must not be empty"
        if problem is None and self.max_length is not None and len(value) > self.max_length:
            problem = f"must be at most {self.max_length} characters (got {len(value)})"
        if problem:
            errors.add(path, problem)
        return value


def id_problem(value):
    """The upstream id rule: non-empty, at most 256 characters, only [A-Za-z0-9._-]."""
    if not value:
        return "must not be empty"
    if len(value) > ID_MAX:
        return f"must be at most {ID_MAX} characters (got {len(value)})"
    if not ID_PATTERN.match(value):
        return "may contain only letters, digits, '.', '_' and '-'"
    return None


class Bool(Schema):
    description = "a boolean"

    def check(self, value, path, errors):
        if not isinstance(value, bool):
            errors.add(path, f"expected a boolean, got {_type_name(value)}")
        return value


class UInt(Schema):
    """u64 / usize / u32; JSON-safe, because the ledger hashes RFC 8785 JSON."""

    description = "a non-negative integer"

    def __init__(self, maximum=JSON_SAFE_MAX):
        self.maximum = maximum

    def check(self, value, path, errors):
        if isinstance(value, float) and value.is_integer() and not isinstance(value, bool):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            errors.add(path, f"expected a non-negative integer, got {_type_name(value)}")
        elif value < 0:
            errors.add(path, f"must not be negative (got {value})")
        elif value > self.maximum:
            errors.add(path, f"must be at most {self.maximum} (got {value})")
        return value


class Float(Schema):
    description = "a number"

    def __init__(self, minimum=None, maximum=None):
        self.minimum, self.maximum = minimum, maximum

    def check(self, value, path, errors):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.add(path, f"expected a number, got {_type_name(value)}")
            return value
        if not math.isfinite(value):
            errors.add(path, "must be a finite number")
        elif abs(value) > JSON_SAFE_MAX:
            errors.add(path, NUMBER_PROBLEM)
        elif self.minimum is not None and value < self.minimum:
            errors.add(path, f"must be at least {self.minimum} (got {value})")
        elif self.maximum is not None and value > self.maximum:
            errors.add(path, f"must be at most {self.maximum} (got {value})")
        return value


# The ledger hashes RFC 8785 JSON, whose numbers are IEEE doubles: beyond 2**53 they are not exact.
NUMBER_PROBLEM = f"numbers must lie within ±{JSON_SAFE_MAX}; send larger values as strings"


class Any(Schema):
    """serde_json::Value: any JSON (without NUL characters, which PostgreSQL cannot store)."""

    def check(self, value, path, errors):
        if isinstance(value, str):
            if "\x00" in value:
                errors.add(path, NUL_PROBLEM)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if abs(value) > JSON_SAFE_MAX:
                errors.add(path, NUMBER_PROBLEM)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.check(item, _join(path, index), errors)
        elif isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    errors.add(path, f"keys {NUL_PROBLEM}")
                self.check(item, _join(path, key), errors)
        return value


class Enum(Schema):
    """A unit-variant enum: serde spells each variant by its Rust name."""

    def __init__(self, name, variants, default=None):
        self.name, self.variants, self.default = name, tuple(variants), default

    @property
    def description(self):
        return f"one of {', '.join(self.variants)}"

    def check(self, value, path, errors):
        if not isinstance(value, str):
            errors.add(path, f"expected {self.name} ({', '.join(self.variants)}), got {_type_name(value)}")
        elif value not in self.variants:
            errors.add(path, f"unknown {self.name} {value!r}; expected one of {', '.join(self.variants)}")
        return value


class ArtifactKindSchema(Schema):
    """ArtifactKind: unit variants as strings, `Other(String)` externally tagged as {"Other": "…"}."""

    UNIT = ("Adapter", "Pack", "Policy", "TruthFile", "EvalSuite")

    def check(self, value, path, errors):
        if isinstance(value, str):
            if value not in self.UNIT:
                errors.add(
                    path,
                    f'unknown ArtifactKind {value!r}; expected one of {", ".join(self.UNIT)} or {{"Other": "…"}}',
                )
            return value
        if isinstance(value, dict) and list(value) == ["Other"]:
            if not isinstance(value["Other"], str) or not value["Other"]:
                errors.add(_join(path, "Other"), "expected a non-empty string")
            return value
        errors.add(path, f'expected ArtifactKind ({", ".join(self.UNIT)} or {{"Other": "…"}}), got {value!r}')
        return value


def artifact_kind_label(value):
    """ "Adapter", or "Other(name)" for the open variant: one text form for filters and pages."""
    if isinstance(value, dict):
        return f"Other({value.get('Other', '')})"
    return value or ""


class Opt(Schema):
    """Option<T>: null or absent is None."""

    def __init__(self, inner):
        self.inner = inner

    def check(self, value, path, errors):
        if value is None:
            return None
        return self.inner.check(value, path, errors)


class Vec(Schema):
    def __init__(self, inner):
        self.inner = inner

    def check(self, value, path, errors):
        if not isinstance(value, list):
            errors.add(path, f"expected an array, got {_type_name(value)}")
            return value
        return [self.inner.check(item, _join(path, index), errors) for index, item in enumerate(value)]


class Map(Schema):
    """HashMap<K, V>; K a string or an enum (a JSON object key)."""

    def __init__(self, value, key=None):
        self.value, self.key = value, key

    def check(self, value, path, errors):
        if not isinstance(value, dict):
            errors.add(path, f"expected an object, got {_type_name(value)}")
            return value
        result = {}
        for key, item in value.items():
            if "\x00" in key:
                errors.add(path, f"keys {NUL_PROBLEM}")
            if self.key is not None:
                self.key.check(key, _join(path, key), errors)
            result[key] = self.value.check(item, _join(path, key), errors)
        return result


class Field:
    def __init__(self, name, schema, default=_MISSING):
        self.name, self.schema, self.default = name, schema, default

    @property
    def required(self):
        return self.default is _MISSING and not isinstance(self.schema, Opt)


def default(value):
    """A serde default (`#[serde(default)]`): a callable so list defaults are never shared."""
    return lambda: value() if callable(value) else value


class Struct(Schema):
    def __init__(self, name, *fields):
        self.name = name
        self.fields = fields
        self.names = {f.name for f in fields}

    def check(self, value, path, errors, ignore=()):
        if not isinstance(value, dict):
            errors.add(path, f"expected an object ({self.name}), got {_type_name(value)}")
            return value
        result = {}
        for field in self.fields:
            field_path = _join(path, field.name)
            if field.name not in value:
                if isinstance(field.schema, Opt):
                    result[field.name] = None
                elif field.default is not _MISSING:
                    result[field.name] = field.default()
                else:
                    errors.add(field_path, "this field is required")
                continue
            result[field.name] = field.schema.check(value[field.name], field_path, errors)
        for key in value:
            if key not in self.names and key not in ignore:
                errors.add(_join(path, key), f"unknown field of {self.name}; expected {', '.join(sorted(self.names))}")
        return result


class InternallyTagged(Schema):
    """#[serde(tag = "type")]: the variant's fields sit beside the tag."""

    def __init__(self, name, variants, tag="type"):
        self.name, self.variants, self.tag = name, variants, tag

    def check(self, value, path, errors):
        if not isinstance(value, dict):
            errors.add(path, f"expected an object ({self.name}), got {_type_name(value)}")
            return value
        variant = value.get(self.tag, _MISSING)
        if variant is _MISSING:
            errors.add(_join(path, self.tag), f"this field is required ({' or '.join(self.variants)})")
            return value
        if not isinstance(variant, str) or variant not in self.variants:
            errors.add(
                _join(path, self.tag), f"unknown {self.name} variant {variant!r}; expected {' or '.join(self.variants)}"
            )
            return value
        body = self.variants[variant].check(value, path, errors, ignore=(self.tag,))
        return {self.tag: variant, **body} if isinstance(body, dict) else body


class AdjacentlyTagged(Schema):
    """#[serde(tag = "...", content = "...")]: {"<tag>": Variant, "<content>": {...}}."""

    def __init__(self, name, variants, tag="type", content="data"):
        self.name, self.variants, self.tag, self.content = name, variants, tag, content

    def check(self, value, path, errors):
        if not isinstance(value, dict):
            errors.add(path, f"expected an object {{{self.tag!r}, {self.content!r}}}, got {_type_name(value)}")
            return value
        for key in value:
            if key not in (self.tag, self.content):
                errors.add(_join(path, key), f"unknown field; {self.name} has only {self.tag!r} and {self.content!r}")
        variant = value.get(self.tag, _MISSING)
        if variant is _MISSING:
            errors.add(_join(path, self.tag), "this field is required")
            return value
        if not isinstance(variant, str) or variant not in self.variants:
            errors.add(
                _join(path, self.tag),
                f"unknown {self.name} {variant!r}; expected one of {', '.join(self.variants)}",
            )
            return value
        if self.content not in value:
            errors.add(_join(path, self.content), "this field is required")
            return value
        body = self.variants[variant].check(value[self.content], _join(path, self.content), errors)
        return {self.tag: variant, self.content: body}


# --- kernel_boundary.rs ------------------------------------------------------------------------

DecisionStep = Enum("DecisionStep", ["Reasoning", "Evaluation", "Planning"], default="Reasoning")
ProposalKind = Enum("ProposalKind", ["Claims", "Plan", "Classification", "Evaluation", "DraftDocument", "Reasoning"])
Replayability = Enum("Replayability", ["Deterministic", "BestEffort", "None"], default="None")
ReplayabilityDowngradeReason = Enum(
    "ReplayabilityDowngradeReason",
    [
        "RecallEmbedderNotDeterministic",
        "RecallCorpusNotContentAddressed",
        "RemoteBackendUsed",
        "NoSeedProvided",
        "MultipleReasons",
    ],
)
RiskTier = Enum("RiskTier", ["Low", "Medium", "High", "Critical"])
DataClassification = Enum("DataClassification", ["Public", "Internal", "Confidential", "Restricted"])

ContractResult = Struct(
    "ContractResult",
    Field("name", Str()),
    Field("passed", Bool()),
    Field("failure_reason", Opt(Str())),
)

LocalReplayTrace = Struct(
    "LocalReplayTrace",
    Field("base_model_hash", Str()),
    Field(
        "adapter",
        Opt(Struct("AdapterTrace", Field("adapter_id", Str()), Field("adapter_hash", Str()), Field("merged", Bool()))),
    ),
    Field("tokenizer_hash", Str()),
    Field("seed", UInt()),
    Field(
        "sampler",
        Struct(
            "SamplerParams",
            Field("temperature", Float(minimum=0)),
            Field("top_p", Float(minimum=0, maximum=1)),
            Field("top_k", Opt(UInt(maximum=2**32 - 1))),
        ),
    ),
    Field("prompt_version", Str()),
    Field(
        "recall",
        Opt(
            Struct(
                "RecallTrace",
                Field("corpus_fingerprint", Str()),
                Field("candidate_ids", Vec(Str())),
                Field("candidate_scores", Vec(Float())),
                Field("injected_count", UInt()),
            )
        ),
    ),
    Field("weights_mutated", Bool()),
    Field(
        "execution_env",
        Struct("ExecutionEnv", Field("device", Str()), Field("backend", Str()), Field("precision", Str())),
    ),
)

RemoteReplayTrace = Struct(
    "RemoteReplayTrace",
    Field("provider_name", Str()),
    Field("provider_model_id", Str()),
    Field("request_fingerprint", Str()),
    Field("response_fingerprint", Str()),
    Field("temperature", Float(minimum=0)),
    Field("top_p", Float(minimum=0, maximum=1)),
    Field("max_tokens", UInt(maximum=2**32 - 1)),
    Field("provider_metadata", Map(Str())),
    Field("retried", Bool()),
    Field("retry_reasons", Vec(Str())),
    Field("replayability", Replayability),
)

ReplayTrace = InternallyTagged("ReplayTrace", {"Local": LocalReplayTrace, "Remote": RemoteReplayTrace})

KernelProposal = Struct(
    "KernelProposal",
    Field("id", Str(identifier=True)),
    Field("kind", ProposalKind),
    Field("payload", Str()),
    Field("structured_payload", Opt(Any())),
    Field("trace_link", ReplayTrace),
    Field("contract_results", Vec(ContractResult)),
    Field("requires_human", Bool()),
    Field("confidence", Opt(Float(minimum=0, maximum=1))),
)

KernelPolicy = Struct(
    "KernelPolicy",
    Field("adapter_id", Opt(Str())),
    Field("recall_enabled", Bool()),
    Field("recall_max_candidates", UInt()),
    Field("recall_min_score", Float()),
    Field("seed", Opt(UInt())),
    Field("requires_human", Bool()),
    Field("required_truths", Vec(Str())),
)

RoutingPolicy = Struct(
    "RoutingPolicy",
    Field("truth_preferences", Map(Str())),
    Field("risk_tier_backends", Map(Vec(Str()), key=RiskTier)),
    Field("data_classification_backends", Map(Vec(Str()), key=DataClassification)),
    Field("default_backend", Str()),
)

# --- recall.rs ---------------------------------------------------------------------------------

RecallUse = Enum("RecallUse", ["RuntimeAugmentation", "TrainingCandidateSelection"], default="RuntimeAugmentation")
RecallConsumer = Enum("RecallConsumer", ["Kernel", "Analytics", "Trainer"])
StopReason = Enum(
    "StopReason",
    [
        "ReachedTopK",
        "BudgetExhausted",
        "BelowThreshold",
        "TokenLimitReached",
        "LatencyExceeded",
        "EmbedderNotDeterministic",
        "TenantScopeMissing",
    ],
)

RecallQuery = Struct(
    "RecallQuery",
    Field("query_text", Str()),
    Field("top_k", UInt()),
    Field("step_context", Opt(DecisionStep)),
    Field("tenant_scope", Opt(Str())),
)

RecallPolicy = Struct(
    "RecallPolicy",
    Field("enabled", Bool()),
    Field("max_k_total", UInt()),
    Field("max_tokens_injection", UInt()),
    Field("min_score_threshold", Float()),
    Field(
        "budgets",
        Struct(
            "RecallBudgets",
            Field("max_latency_ms", UInt()),
            Field("max_embedding_calls", UInt()),
            Field("max_tokens_per_candidate", UInt()),
        ),
    ),
    Field("allowed_uses", Vec(RecallUse), default=default(lambda: ["RuntimeAugmentation"])),
)

RecallProvenanceEnvelope = Struct(
    "RecallProvenanceEnvelope",
    Field("query_hash", Str()),
    Field("embedding_input_hash", Str()),
    Field("embedding_hash", Str()),
    Field("embedder_id", Str()),
    Field("embedder_settings_hash", Str()),
    Field("corpus_fingerprint", Str()),
    Field("policy_snapshot_hash", Str()),
    Field("purpose", RecallUse, default=default("RuntimeAugmentation")),
    Field("consumers", Vec(RecallConsumer), default=default(list)),
    Field("candidate_scores", Vec(Struct("CandidateScore", Field("id", Str()), Field("score", Float())))),
    Field("candidates_searched", UInt()),
    Field("candidates_returned", UInt()),
    Field("stop_reason", Opt(StopReason)),
    Field("latency_ms", UInt()),
    Field("timestamp", Str()),
    Field("signature", Str(), default=default("unsigned")),
)

# --- governed_artifact.rs ----------------------------------------------------------------------

GovernedArtifactState = Enum(
    "GovernedArtifactState", ["Draft", "Approved", "Active", "Quarantined", "Deprecated", "RolledBack"], default="Draft"
)
RollbackSeverity = Enum("RollbackSeverity", ["Low", "Medium", "High", "Critical"], default="Low")

LifecycleEvent = Struct(
    "LifecycleEvent",
    Field("from_state", GovernedArtifactState),
    Field("to_state", GovernedArtifactState),
    Field("timestamp", Str()),
    Field("actor", Str()),
    Field("reason", Str()),
    Field("ticket_ref", Opt(Str())),
    Field("tenant_id", Opt(Str(identifier=True))),
)

RollbackImpact = Struct(
    "RollbackImpact",
    Field("affected_count", Opt(UInt())),
    Field("quality_issues", Vec(Str())),
    Field("invalidates_outputs", Bool()),
    Field("severity", RollbackSeverity),
    Field("affected_tenants", Vec(Str())),
)

RollbackRecord = Struct(
    "RollbackRecord",
    Field("artifact_id", Str(identifier=True)),
    Field("previous_state", GovernedArtifactState),
    Field("rolled_back_at", Str()),
    Field("actor", Str()),
    Field("reason", Str()),
    Field("impact", RollbackImpact),
    Field("incident_ref", Opt(Str())),
    Field("tenant_id", Opt(Str(identifier=True))),
)

# --- experience_store.rs -----------------------------------------------------------------------

ContractResultSnapshot = Struct(
    "ContractResultSnapshot",
    Field("name", Str()),
    Field("passed", Bool()),
    Field("failure_reason", Opt(Str())),
)

PolicySnapshot = AdjacentlyTagged(
    "PolicySnapshot",
    {"Kernel": KernelPolicy, "Routing": RoutingPolicy, "Recall": RecallPolicy},
    tag="type",
    content="policy",
)

_id = Str(identifier=True)

EVENT_DATA = {
    "ProposalCreated": Struct(
        "ProposalCreated",
        Field("proposal", KernelProposal),
        Field("chain_id", _id),
        Field("step", DecisionStep),
        Field("policy_snapshot_hash", Opt(Str())),
    ),
    "ProposalValidated": Struct(
        "ProposalValidated",
        Field("proposal_id", _id),
        Field("chain_id", _id),
        Field("step", DecisionStep),
        Field("contract_results", Vec(ContractResultSnapshot)),
        Field("all_passed", Bool()),
        Field("validator", Str()),
    ),
    "FactPromoted": Struct(
        "FactPromoted",
        Field("proposal_id", _id),
        Field("fact_id", Str(non_empty=True)),
        Field("promoted_by", Str()),
        Field("reason", Str()),
        Field("requires_human", Bool()),
    ),
    "RecallExecuted": Struct(
        "RecallExecuted",
        Field("query", RecallQuery),
        Field("provenance", RecallProvenanceEnvelope),
        Field("trace_link_id", Opt(_id)),
    ),
    "ReplayTraceRecorded": Struct(
        "ReplayTraceRecorded",
        Field("trace_link_id", _id),
        Field("trace_link", ReplayTrace),
    ),
    "ReplayabilityDowngraded": Struct(
        "ReplayabilityDowngraded",
        Field("trace_link_id", _id),
        Field("from", Replayability),
        Field("to", Replayability),
        Field("reason", ReplayabilityDowngradeReason),
    ),
    "ArtifactStateTransitioned": Struct(
        "ArtifactStateTransitioned",
        Field("artifact_id", _id),
        Field("artifact_kind", ArtifactKindSchema()),
        Field("event", LifecycleEvent),
    ),
    "ArtifactRollbackRecorded": Struct("ArtifactRollbackRecorded", Field("rollback", RollbackRecord)),
    "BackendInvoked": Struct(
        "BackendInvoked",
        Field("backend_name", Str(non_empty=True)),
        Field("adapter_id", Opt(Str())),
        Field("trace_link_id", _id),
        Field("step", DecisionStep),
        Field("policy_snapshot_hash", Opt(Str())),
    ),
    "OutcomeRecorded": Struct(
        "OutcomeRecorded",
        Field("chain_id", _id),
        Field("step", DecisionStep),
        Field("passed", Bool()),
        Field("stop_reason", Opt(Str())),
        Field("latency_ms", Opt(UInt())),
        Field("tokens", Opt(UInt())),
        Field("cost_microdollars", Opt(UInt())),
        Field("backend", Opt(Str())),
    ),
    "BudgetExceeded": Struct(
        "BudgetExceeded",
        Field("chain_id", _id),
        Field("resource", Str(non_empty=True)),
        Field("limit", Str()),
        Field("observed", Opt(Str())),
    ),
    "PolicySnapshotCaptured": Struct(
        "PolicySnapshotCaptured",
        Field("policy_id", Str(non_empty=True)),
        Field("policy", PolicySnapshot),
        Field("snapshot_hash", Str(non_empty=True)),
        Field("captured_by", Str()),
    ),
}

KINDS = tuple(EVENT_DATA)
ExperienceEventSchema = AdjacentlyTagged("event kind", EVENT_DATA, tag="type", content="data")

# The lifecycle table (governed_artifact.rs `validate_transition`); self-transitions are never allowed.
TRANSITIONS = {
    "Draft": ("Approved", "Deprecated"),
    "Approved": ("Active", "Quarantined", "RolledBack"),
    "Active": ("Quarantined", "Deprecated", "RolledBack"),
    "Quarantined": ("Active", "RolledBack", "Deprecated"),
    "Deprecated": (),
    "RolledBack": (),
}
STATES = GovernedArtifactState.variants
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
