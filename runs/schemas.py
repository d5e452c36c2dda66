"""Task output events (the seed's OutputEvent and ContentRef) as pydantic models: validated on append, documented in OpenAPI."""

from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError
from pydantic import ConfigDict, Field, RootModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from pydantic.json_schema import WithJsonSchema

from ledgerproject.ledger.payloads import NonEmptyStr, Payload, UInt, errors_by_path
from ledgerproject.ledger.validators import Sha256

FILE_REF_PROBLEM = (
    "file_ref paths mean nothing to the server; upload the bytes to /api/v1/blobs/ "
    "and send {'kind': 'blob', 'digest': …} instead"
)


class InlineContentRef(Payload):
    """ContentRef::Inline: the content itself, any JSON."""

    kind: Literal["inline"]
    value: Annotated[Any, WithJsonSchema({})]


class BlobContentRef(Payload):
    """ContentRef::Blob: bytes stored at /api/v1/blobs/ (replaces the seed's file_ref path); the digest is stored lowercase."""

    kind: Literal["blob"]
    digest: Sha256
    mime: str | None = None
    size_hint: UInt() | None = None


ContentRef = Annotated[InlineContentRef | BlobContentRef, Field(discriminator="kind")]


class ProgressOutput(Payload):
    type: Literal["progress"]
    stage: str
    note: str | None = None


class PartialOutput(Payload):
    type: Literal["partial"]
    chunk: ContentRef


class ArtifactOutput(Payload):
    type: Literal["artifact"]
    name: NonEmptyStr
    content: ContentRef


class FinalOutput(Payload):
    """Exactly one per attempt, emitted last; `ok` is a transport flag (domain verdicts live in `content`)."""

    type: Literal["final"]
    content: ContentRef
    ok: bool


_OutputEventUnion = Annotated[
    ProgressOutput | PartialOutput | ArtifactOutput | FinalOutput, Field(discriminator="type")
]


class OutputEvent(RootModel[_OutputEventUnion]):
    """OutputEvent, tagged by `type`: progress, partial, artifact or final."""

    model_config = ConfigDict(strict=True)


OUTPUT_EVENT_TYPES = ("progress", "partial", "artifact", "final")
# Validating the union directly skips building a RootModel around every event.
_OUTPUT_EVENT = TypeAdapter(_OutputEventUnion, config=OutputEvent.model_config)


def output_event_fields(event):
    """(the event as stored, its type, the blob digest it refers to or None); a ValidationError naming each bad path.

    Fields the client left out stay out (the event is stored as sent, digests in lowercase).
    """
    try:
        model = _OUTPUT_EVENT.validator.validate_python(event)
    except PydanticValidationError as exc:
        errors = errors_by_path(OutputEvent, exc, "event")
        for path in [p for p in errors if p.endswith(".kind")]:
            if any(isinstance(e["input"], dict) and e["input"].get("kind") == "file_ref" for e in exc.errors()):
                # The seed's third variant names a path on the writer's disk: say what to send instead.
                errors[path] = [FILE_REF_PROBLEM]
        raise ValidationError(errors) from None
    # Valid: store it as sent (no defaults added), with the one normalization the model made.
    ref_field = "chunk" if model.type == "partial" else "content"
    ref = getattr(model, ref_field, None)
    if isinstance(ref, BlobContentRef):
        return {**event, ref_field: {**event[ref_field], "digest": ref.digest}}, model.type, ref.digest
    return event, model.type, None
