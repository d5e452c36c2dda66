"""Task output events (the seed's OutputEvent and ContentRef) as pydantic models: validated on append, documented in OpenAPI."""

from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError
from pydantic import BeforeValidator, ConfigDict, Field, RootModel
from pydantic.json_schema import WithJsonSchema

from ledgerproject.ledger.payloads import NonEmptyStr, Payload, PayloadError, UInt, validate_payload
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


def _no_file_ref(value):
    # The seed's third variant names a path on the writer's disk: say what to send instead.
    if isinstance(value, dict) and value.get("kind") == "file_ref":
        raise ValueError(FILE_REF_PROBLEM)
    return value


ContentRef = Annotated[InlineContentRef | BlobContentRef, Field(discriminator="kind"), BeforeValidator(_no_file_ref)]


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


class OutputEvent(
    RootModel[Annotated[ProgressOutput | PartialOutput | ArtifactOutput | FinalOutput, Field(discriminator="type")]]
):
    """OutputEvent, tagged by `type`: progress, partial, artifact or final."""

    model_config = ConfigDict(strict=True)


OUTPUT_EVENT_TYPES = ("progress", "partial", "artifact", "final")


def output_event_fields(event):
    """(the event as stored, its type, the blob digest it refers to or None); a ValidationError naming each bad path.

    Fields the client left out stay out (the event is stored as sent, digests in lowercase).
    """
    try:
        stored = validate_payload(OutputEvent, event, "event", exclude_unset=True)
    except PayloadError as exc:
        raise ValidationError(exc.errors) from None
    ref = stored.get("content") or stored.get("chunk") or {}
    return stored, stored["type"], ref.get("digest") if ref.get("kind") == "blob" else None
