"""Hand-written validation of task-output payloads (OutputEvent and ContentRef) and the u32 attempt bound."""

from django.core.exceptions import ValidationError

from runs.models.digests import normalize_digest

U32_MAX = 2**32 - 1
OUTPUT_EVENT_TYPES = ("progress", "partial", "artifact", "final")


def _validate_content_ref(ref, where):
    """ContentRef: inline{value} or blob{digest, mime?, size_hint?} (a blob digest replaces file_ref's path)."""
    if not isinstance(ref, dict):
        raise ValidationError({"event": [f"{where} must be a ContentRef object with a 'kind'"]})
    kind = ref.get("kind")
    if kind == "inline":
        if "value" not in ref:
            raise ValidationError({"event": [f"{where}: an inline ContentRef needs a 'value'"]})
        _only(ref, {"kind", "value"}, where)
        return None
    if kind == "blob":
        _only(ref, {"kind", "digest", "mime", "size_hint"}, where)
        try:
            digest = normalize_digest(ref.get("digest"))
        except ValidationError as exc:
            raise ValidationError({"event": [f"{where}.digest: {msg}" for msg in exc.messages]}) from None
        ref["digest"] = digest
        if ref.get("mime") is not None and not isinstance(ref["mime"], str):
            raise ValidationError({"event": [f"{where}.mime must be a string or null"]})
        size_hint = ref.get("size_hint")
        if size_hint is not None and (isinstance(size_hint, bool) or not isinstance(size_hint, int) or size_hint < 0):
            raise ValidationError({"event": [f"{where}.size_hint must be a non-negative integer or null"]})
        return digest
    if kind == "file_ref":
        raise ValidationError(
            {
                "event": [
                    f"{where}: file_ref paths mean nothing to the server; upload the bytes to /api/v1/blobs/ "
                    "and send {'kind': 'blob', 'digest': …} instead"
                ]
            }
        )
    raise ValidationError({"event": [f"{where}.kind must be 'inline' or 'blob', not {kind!r}"]})


def _only(obj, allowed, where):
    extra = sorted(set(obj) - allowed)
    if extra:
        raise ValidationError({"event": [f"{where} has unknown fields: {', '.join(extra)}"]})


def validate_output_event(event):
    """Check an OutputEvent (tagged by `type`); returns (type, blob digest or None)."""
    if not isinstance(event, dict):
        raise ValidationError({"event": ["event must be an OutputEvent object with a 'type'"]})
    kind = event.get("type")
    if kind == "progress":
        _only(event, {"type", "stage", "note"}, "event")
        if not isinstance(event.get("stage"), str):
            raise ValidationError({"event": ["a progress event needs a string 'stage'"]})
        if event.get("note") is not None and not isinstance(event["note"], str):
            raise ValidationError({"event": ["a progress event's 'note' is a string or null"]})
        return kind, None
    if kind == "partial":
        _only(event, {"type", "chunk"}, "event")
        return kind, _validate_content_ref(event.get("chunk"), "event.chunk")
    if kind == "artifact":
        _only(event, {"type", "name", "content"}, "event")
        if not isinstance(event.get("name"), str) or not event["name"]:
            raise ValidationError({"event": ["an artifact event needs a non-empty string 'name'"]})
        return kind, _validate_content_ref(event.get("content"), "event.content")
    if kind == "final":
        _only(event, {"type", "content", "ok"}, "event")
        if not isinstance(event.get("ok"), bool):
            raise ValidationError({"event": ["a final event needs a boolean 'ok'"]})
        return kind, _validate_content_ref(event.get("content"), "event.content")
    raise ValidationError({"event": [f"event.type must be one of {', '.join(OUTPUT_EVENT_TYPES)}, not {kind!r}"]})
