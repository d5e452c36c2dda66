"""The OpenAPI schema as the server behaves (batch arrays, the error shape on every operation, export types),
with operations grouped by the ledger that serves them (one tag per app) in the API docs."""

from django.apps import apps
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

KERNEL_TAG = "Ledgers and verification"
# Apps without a verbose_name of their own get these titles; SPECTACULAR_SETTINGS["TAGS"] orders them.
TITLES = {"runs": "Runs, blobs and outputs", "logchain": "Node logs"}

# Every status the kernel may answer with an error body, and when.
ERROR_STATUSES = {
    "400": "Invalid input: a body, path or query value the server refuses (`detail` says which and why).",
    "401": "No credentials, or a token that is unknown, expired or revoked.",
    "403": "The principal lacks the permission this operation declares.",
    "404": "No such entry, or one the principal's tenants may not see (the two are identical).",
    "405": "The method is not allowed here (ledger entries are never changed or deleted).",
    "409": "A natural key already stored (`existing`, `identical`) or a state that forbids the append.",
    "411": "A request body sent chunked, without Content-Length.",
    "413": "The request body is larger than the configured limit.",
    "429": "Too many requests (see Retry-After).",
    "503": "The database is unavailable (see Retry-After).",
}
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error body: a human-readable `detail`, plus per-field messages or conflict details.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "additionalProperties": True,
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}


PREFER_PARAMETER = OpenApiParameter(
    "Prefer",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=(
        "`return=minimal` (RFC 7240): answer 201 with `{appended, first_seq, last_seq, entry_hash}` instead of the "
        "stored entries: how many were appended, the seqs they took (consecutive, in the order sent) and the last "
        "one's entry_hash, and `Preference-Applied: return=minimal`. Ids the server mints (an output's, an event's "
        "left out) come only in the full answer. Refusals answer as without it."
    ),
    required=False,
)


def app_title(label):
    if label in TITLES:
        return TITLES[label]
    try:
        return str(apps.get_app_config(label).verbose_name)
    except LookupError:
        return label


def one_or_many(schema):
    """An entry, or a non-empty array of entries (the kernel's one create path takes and answers both)."""
    from ledgerproject.ledger.api import MAX_BATCH

    return {"oneOf": [schema, {"type": "array", "items": schema, "minItems": 1, "maxItems": MAX_BATCH}]}


class LedgerAutoSchema(AutoSchema):
    """Each operation tagged by its ledger app; `POST …/batch/` takes and answers a JSON array of the
    list's entries (201); the kernel's create path (AppendMixin) takes and answers an entry or an array."""

    def get_tags(self):
        label = type(self.view).__module__.split(".")[0]
        if label == "ledgerproject":
            return [KERNEL_TAG]
        return [app_title(label)]

    def _is_batch(self):
        return getattr(self.view, "action", None) == "batch" and hasattr(self.view, "get_serializer_class")

    def get_request_serializer(self):
        if self._is_batch():
            return self.view.get_serializer_class()(many=True)
        return super().get_request_serializer()

    def get_response_serializers(self):
        if self._is_batch():
            return {201: self.view.get_serializer_class()(many=True)}
        return super().get_response_serializers()

    def _is_append(self):
        from ledgerproject.ledger.api import AppendMixin

        # A viewset names its action; a generic view's POST is its create.
        action = getattr(self.view, "action", "create" if self.method == "POST" else None)
        return action == "create" and isinstance(self.view, AppendMixin)

    def _get_request_for_media_type(self, serializer, direction="request"):
        schema, required = super()._get_request_for_media_type(serializer, direction)
        if self._is_append() and schema:
            schema = one_or_many(schema)
        return schema, required

    def _get_response_for_code(self, serializer, status_code, media_types=None, direction="response"):
        response = super()._get_response_for_code(serializer, status_code, media_types, direction)
        if self._is_append() and status_code == "201":
            for content in response.get("content", {}).values():
                content["schema"] = one_or_many(content["schema"])
        return response

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if self._is_append() or self._is_batch():
            parameters = [*parameters, PREFER_PARAMETER]
        return parameters

    def _get_paginator(self):
        return None if self._is_batch() else super()._get_paginator()  # a batch answers every entry, unpaged


def _export_content(content, schemas):
    """`?format=jsonl` is one JSON value per line (a list's rows, unpaged); `?format=csv` is text."""
    row = content.get("application/json", {}).get("schema", {})
    page = schemas.get(row.get("$ref", "").rpartition("/")[2], {})
    row = row.get("items") or page.get("properties", {}).get("results", {}).get("items") or row
    if "application/x-ndjson" in content:
        content["application/x-ndjson"] = {"schema": row}
    if "text/csv" in content:
        content["text/csv"] = {"schema": {"type": "string", "description": "RFC 4180 CSV with a header row."}}
    return content


def document_errors(result, generator, request, public):
    """Postprocessing hook: the shared error component, referenced by every operation's error statuses;
    each `?format=` media type with the shape it really has (errors are always JSON)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for item in result.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for response in responses.values():
                if "content" in response:
                    response["content"] = _export_content(response["content"], result["components"]["schemas"])
            for code, description in ERROR_STATUSES.items():
                responses.setdefault(
                    code, {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}
                )
    return result
