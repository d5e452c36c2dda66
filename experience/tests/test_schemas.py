"""Every field of every kind keeps its rule: missing, wrong type, out of range and unknown fields are named by path."""

import copy

import pytest

from experience import schemas
from experience.tests.conftest import VALID
from ledgerproject.ledger.payloads import PayloadError
from ledgerproject.ledger.validators import MAX_JSON_INT

# Fields whose value is any JSON (serde_json::Value): no type of their own to get wrong.
ANY_JSON = {("proposal", "structured_payload")}


def leaves(value, path=()):
    """(path, value) of every field of the payload's objects, nested objects included (not list items)."""
    if isinstance(value, dict):
        for key, member in value.items():
            yield (*path, key), member
            if path + (key,) not in ANY_JSON:
                yield from leaves(member, (*path, key))


def objects(value, path=()):
    """The path of every object in the payload (where an unknown field can be added)."""
    if isinstance(value, dict) and path not in ANY_JSON:
        yield path
        for key, member in value.items():
            yield from objects(member, (*path, key))


def at(data, path):
    for key in path:
        data = data[key]
    return data


def errors_of(kind, data):
    with pytest.raises(PayloadError) as caught:
        schemas.validate_event(kind, data)
    return caught.value.errors


def dotted(path):
    return ".".join(["event.data", *map(str, path)])


def wrong_type(value):
    if isinstance(value, bool):
        return "true"
    if isinstance(value, (int, float)):
        return "7"
    if isinstance(value, str):
        return 12345
    if isinstance(value, list):
        return {"not": "a list"}
    if isinstance(value, dict):
        return ["not", "an object"]
    return None


CASES = [(kind, path) for kind in VALID for path, _ in leaves(VALID[kind]) if path not in ANY_JSON]


TYPED = [(kind, path) for kind, path in CASES if at(VALID[kind], path) is not None]


@pytest.mark.parametrize(("kind", "path"), TYPED, ids=[f"{k}:{'.'.join(p)}" for k, p in TYPED])
def test_it_names_a_field_of_the_wrong_type(kind, path):
    data = copy.deepcopy(VALID[kind])
    value = at(data, path)
    at(data, path[:-1])[path[-1]] = wrong_type(value)
    assert dotted(path) in errors_of(kind, data)


@pytest.mark.parametrize(("kind", "path"), CASES, ids=[f"{k}:{'.'.join(p)}" for k, p in CASES])
def test_a_missing_field_is_named_as_required_or_filled_in_as_serde_would(kind, path):
    data = copy.deepcopy(VALID[kind])
    del at(data, path[:-1])[path[-1]]
    try:
        stored = schemas.validate_event(kind, data)
    except PayloadError as exc:
        assert exc.errors.get(dotted(path)) == ["this field is required"], exc.errors
    else:
        # An Option becomes null, a #[serde(default)] field its default: never silently absent.
        filled = at(stored, path)
        assert filled is None or filled in ("unsigned", "RuntimeAugmentation", [], ["RuntimeAugmentation"])


def test_every_kind_has_required_fields_that_are_refused_when_missing():
    for kind in VALID:
        required = [path for k, path in CASES if k == kind and len(path) == 1]
        refused = 0
        for path in required:
            data = copy.deepcopy(VALID[kind])
            del data[path[0]]
            try:
                schemas.validate_event(kind, data)
            except PayloadError:
                refused += 1
        assert refused >= 1, kind


NUMBERS = [
    (kind, path)
    for kind, path in CASES
    if isinstance(at(VALID[kind], path), (int, float)) and not isinstance(at(VALID[kind], path), bool)
]


@pytest.mark.parametrize(("kind", "path"), NUMBERS, ids=[f"{k}:{'.'.join(p)}" for k, p in NUMBERS])
def test_it_refuses_a_number_beyond_the_json_safe_range(kind, path):
    data = copy.deepcopy(VALID[kind])
    at(data, path[:-1])[path[-1]] = MAX_JSON_INT + 1
    assert dotted(path) in errors_of(kind, data)


def test_the_numbers_cover_every_kind_that_has_one():
    assert {kind for kind, _ in NUMBERS} >= {"ProposalCreated", "RecallExecuted", "ReplayTraceRecorded"}


INTEGERS = [(kind, path) for kind, path in NUMBERS if type(at(VALID[kind], path)) is int and path[-1] != "temperature"]


@pytest.mark.parametrize(("kind", "path"), INTEGERS, ids=[f"{k}:{'.'.join(p)}" for k, p in INTEGERS])
def test_it_refuses_a_negative_count_and_a_fraction(kind, path):
    data = copy.deepcopy(VALID[kind])
    at(data, path[:-1])[path[-1]] = -1
    assert dotted(path) in errors_of(kind, data)
    at(data, path[:-1])[path[-1]] = 1.5
    assert dotted(path) in errors_of(kind, data)
    # serde reads 3.0 as 3, as the hand-written validation did.
    at(data, path[:-1])[path[-1]] = 3.0
    assert at(schemas.validate_event(kind, data), path) == 3


OBJECTS = [(kind, path) for kind in VALID for path in objects(VALID[kind])]


@pytest.mark.parametrize(("kind", "path"), OBJECTS, ids=[f"{k}:{'.'.join(p) or '-'}" for k, p in OBJECTS])
def test_it_names_an_unknown_field_wherever_it_is_added(kind, path):
    data = copy.deepcopy(VALID[kind])
    at(data, path)["zz_unknown"] = "x" if path and path[-1] in ("provider_metadata", "truth_preferences") else 1
    errors = errors_of(kind, data)
    assert dotted((*path, "zz_unknown")) in errors, errors


def test_an_unknown_field_names_the_fields_the_object_has():
    data = copy.deepcopy(VALID["BudgetExceeded"])
    data["tokens"] = 5
    message = errors_of("BudgetExceeded", data)["event.data.tokens"][0]
    assert message == "unknown field of BudgetExceeded; expected chain_id, limit, observed, resource"


def test_messages_say_what_was_expected_and_what_came():
    data = copy.deepcopy(VALID["ReplayabilityDowngraded"])
    data["to"] = "Sometimes"
    assert errors_of("ReplayabilityDowngraded", data)["event.data.to"] == [
        "unknown Replayability 'Sometimes'; expected one of Deterministic, BestEffort, None"
    ]
    data = copy.deepcopy(VALID["OutcomeRecorded"])
    data["tokens"] = -1
    assert errors_of("OutcomeRecorded", data)["event.data.tokens"] == ["must not be negative (got -1)"]
    data = copy.deepcopy(VALID["ProposalCreated"])
    data["proposal"]["trace_link"]["type"] = "Cloud"
    errors = errors_of("ProposalCreated", data)
    assert errors["event.data.proposal.trace_link.type"] == ["unknown variant 'Cloud'; expected 'Local', 'Remote'"]


def test_an_id_with_a_trailing_newline_is_refused():
    # `$` matched before a final newline in the old pattern: "chain-1\n" was an accepted id.
    data = copy.deepcopy(VALID["OutcomeRecorded"])
    data["chain_id"] = "chain-1\n"
    assert errors_of("OutcomeRecorded", data)["event.data.chain_id"] == [
        "may contain only letters, digits, '.', '_' and '-'"
    ]


def test_numbers_are_stored_as_sent():
    data = copy.deepcopy(VALID["ProposalCreated"])
    data["proposal"]["confidence"] = 1
    data["proposal"]["trace_link"]["sampler"]["temperature"] = 0.5
    stored = schemas.validate_event("ProposalCreated", data)
    assert type(stored["proposal"]["confidence"]) is int
    assert stored["proposal"]["trace_link"]["sampler"]["temperature"] == 0.5


# --- the published schema shows the rules the models enforce -----------------------------------


@pytest.mark.django_db
def test_the_openapi_schema_shows_each_kind_and_the_enforced_rules(reader_api):
    schema = reader_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]
    envelope = components["ExperienceEventRequest"]["properties"]
    assert envelope["occurred_at"]["format"] == "date-time"
    assert envelope["event_id"]["pattern"] == schemas.ID_PATTERN_TEXT
    body = components[envelope["event"]["$ref"].rsplit("/", 1)[1]]
    assert body["discriminator"]["propertyName"] == "type"
    assert set(body["discriminator"]["mapping"]) == set(schemas.KINDS)
    for kind in schemas.KINDS:
        event = components[f"{kind}Event"]
        assert event["additionalProperties"] is False
        assert components[kind]["additionalProperties"] is False  # unknown data fields are refused
    assert components["OutcomeRecorded"]["properties"]["chain_id"]["pattern"] == schemas.ID_PATTERN_TEXT
    sampler = components["SamplerParams"]["properties"]
    assert (sampler["top_p"]["minimum"], sampler["top_p"]["maximum"]) == (0, 1)
    assert (sampler["top_k"]["minimum"], sampler["top_k"]["maximum"]) == (0, 2**32 - 1)
    assert sampler["top_k"]["nullable"] is True
    assert components["RecallQuery"]["properties"]["top_k"]["maximum"] == MAX_JSON_INT
    transition = schema["paths"]["/api/v1/artifacts/{artifact_id}/transitions/"]["post"]["requestBody"]
    assert transition["content"]["application/json"]["schema"]["$ref"].endswith("/ArtifactTransitionRequest")
    # Runs: output events by type, and digests with their pattern.
    output_event = components[components["OutputRequest"]["properties"]["event"]["$ref"].rsplit("/", 1)[1]]
    assert set(output_event["discriminator"]["mapping"]) == {"progress", "partial", "artifact", "final"}
    assert components["BlobContentRef"]["properties"]["digest"]["pattern"] == "^[0-9a-fA-F]{64}$"
    assert components["BlobContentRef"]["additionalProperties"] is False
    assert components["RunRequest"]["properties"]["spec_digest"]["pattern"] == "^[0-9a-fA-F]{64}$"
