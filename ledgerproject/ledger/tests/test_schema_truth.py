"""The published OpenAPI schema says what the server does: batch arrays, objects, errors, media types."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from ledgerproject.ledger.schema import ERROR_STATUSES


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_batch_operation_takes_and_answers_an_array(schema):
    batches = [(path, op) for path, method, op in _operations(schema) if path.endswith("/batch/") and method == "post"]
    assert len(batches) >= 6, [path for path, _ in batches]  # the five ledgers and the test ledger
    for path, operation in batches:
        assert operation["requestBody"]["content"]["application/json"]["schema"]["type"] == "array", path
        assert operation["responses"]["201"]["content"]["application/json"]["schema"]["type"] == "array", path


def test_artifact_transitions_are_documented_as_an_object(schema):
    response = schema["paths"]["/api/v1/artifacts/{artifact_id}/transitions/"]["get"]["responses"]["200"]
    ref = response["content"]["application/json"]["schema"]["$ref"].rpartition("/")[2]
    component = schema["components"]["schemas"][ref]
    assert component["type"] == "object"
    assert {"state", "transitions", "rollbacks"} <= set(component["properties"])


def test_every_operation_documents_every_error_status_with_the_error_shape(schema):
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]
    for path, method, operation in _operations(schema):
        for status in ERROR_STATUSES:
            content = operation["responses"][status]["content"]
            assert list(content) == ["application/json"], (method, path, status)
            assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_a_list_documents_its_json_lines_rows_and_csv(schema):
    content = schema["paths"]["/api/v1/runs/"]["get"]["responses"]["200"]["content"]
    assert content["application/x-ndjson"]["schema"] == {"$ref": "#/components/schemas/Run"}
    assert content["text/csv"]["schema"]["type"] == "string"


def test_every_create_route_documents_an_object_or_an_array(schema):
    for path in ("/api/v1/enhances/", "/api/v1/events/", "/api/v1/logs/", "/api/v1/runs/", "/api/v1/outputs/"):
        operation = schema["paths"][path]["post"]
        for body in (
            operation["requestBody"]["content"]["application/json"]["schema"],
            operation["responses"]["201"]["content"]["application/json"]["schema"],
        ):
            one, many = body["oneOf"]
            assert "$ref" in one and many["type"] == "array" and many["items"] == one, path
            assert many["minItems"] == 1


def test_created_at_says_whose_time_it_is(schema):
    components = schema["components"]["schemas"]
    assert "client claims" in components["Run"]["properties"]["created_at"]["description"]
    assert "server recorded" in components["Release"]["properties"]["created_at"]["description"]
