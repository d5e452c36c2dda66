"""Verification endpoints (checkpoints, inclusion and consistency proofs, public key, verifiable export) and the entry proof page."""

import json

import orjson
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from ledgerproject.ledger import checkpoints, signing
from ledgerproject.ledger.access import LEDGER_READ, public, requires_permission
from ledgerproject.ledger.api import _ledger_or_404, can_read_ledger
from ledgerproject.ledger.chain import raw_rows, timestamp_text, with_recorded_at_text
from ledgerproject.ledger.exceptions import StateConflictError
from ledgerproject.ledger.hashing import format_timestamp
from ledgerproject.ledger.models import LedgerQuerySet, newest_seq, sees_all_tenants
from ledgerproject.ledger.renderers import JSONLinesRenderer

EXPORT_FORMAT = "ledger-export/1"

# Response shapes, for the OpenAPI schema only (the views build plain dicts).
_HEXES = serializers.ListField(child=serializers.CharField())
CHECKPOINT_SCHEMA = inline_serializer(
    "Checkpoint",
    {
        "ledger": serializers.CharField(),
        "origin": serializers.CharField(),
        "tree_size": serializers.IntegerField(),
        "root_hash": serializers.CharField(),
        "timestamp": serializers.CharField(),
        "key_id": serializers.CharField(),
        "signature": serializers.CharField(),
        "note": serializers.CharField(),
    },
)
INCLUSION_SCHEMA = inline_serializer(
    "InclusionProof",
    {
        "leaf_index": serializers.IntegerField(),
        "tree_size": serializers.IntegerField(),
        "leaf_hash": serializers.CharField(),
        "audit_path": _HEXES,
        "seq": serializers.IntegerField(),
        "entry_hash": serializers.CharField(),
    },
)
CONSISTENCY_SCHEMA = inline_serializer(
    "ConsistencyProof",
    {"first": serializers.IntegerField(), "second": serializers.IntegerField(), "proof": _HEXES},
)
PUBLIC_KEY_SCHEMA = inline_serializer(
    "PublicKey",
    {
        "key_id": serializers.CharField(),
        "algorithm": serializers.CharField(),
        "public_key": serializers.CharField(),
        "note_verifier_key": serializers.CharField(),
    },
)


def _int_param(name, description, required=False):
    return OpenApiParameter(name, OpenApiTypes.INT, OpenApiParameter.QUERY, required=required, description=description)


def _visible(model, user):
    """The entries `user` may see: every one, or only their tenants' (the base queryset, whatever the app's manager does)."""
    return LedgerQuerySet(model=model).visible_to(user)


def _readable_ledger(request, name):
    model = _ledger_or_404(name)
    if not can_read_ledger(request.user, model):
        raise PermissionDenied(f"You may not read ledger {name}.")
    return model


def _size_param(request, name, required=True):
    raw = request.query_params.get(name)
    if raw in (None, ""):
        if required:
            raise ValidationError({name: [f"{name} is required (a whole number)."]})
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [f"{name} must be a whole number, not {raw!r}."]}) from None
    if value < 1:
        raise ValidationError({name: [f"{name} must be at least 1."]})
    return value


def _latest_or_400(ledger):
    latest = checkpoints.latest_checkpoint(ledger)
    if latest is None:
        raise ValidationError(
            {
                "tree_size": [
                    f"Ledger {ledger} has no signed checkpoint yet; an auditor makes one with POST …/checkpoint/."
                ]
            }
        )
    return latest


def _signed_size(ledger, param, size, latest):
    """Proofs are only served for tree sizes that a signed checkpoint committed to."""
    if size > latest.tree_size:
        raise ValidationError(
            {
                param: [
                    f"{param}={size} is beyond the latest signed checkpoint of {ledger} (tree size {latest.tree_size}); "
                    "proofs are only given against signed checkpoints."
                ]
            }
        )
    if size != latest.tree_size and checkpoints.signed_checkpoint_at(ledger, size) is None:
        raise ValidationError(
            {
                param: [
                    f"{param}={size} is not the size of a signed checkpoint of {ledger}; use the size of a checkpoint "
                    f"you hold (the latest is {latest.tree_size})."
                ]
            }
        )


def _proof_sizes(request, ledger, required, signed):
    """What both proofs read first, in this order: the ledger (readable), the `required` number, the latest
    signed checkpoint, and the `signed` tree size (default: the latest's), which must be a signed checkpoint's."""
    model = _readable_ledger(request, ledger)
    value = _size_param(request, required)
    latest = _latest_or_400(model.ledger_name)
    size = _size_param(request, signed, required=False) or latest.tree_size
    _signed_size(ledger, signed, size, latest)
    return model, latest, value, size


class CheckpointView(APIView):
    """GET: the latest signed checkpoint. POST (auditor): sign a new one if the ledger grew."""

    required_permissions = {"GET": LEDGER_READ, "POST": "ledger.checkpoint_ledger"}

    @extend_schema(summary="The latest signed checkpoint of a ledger", responses=CHECKPOINT_SCHEMA)
    def get(self, request, ledger):
        model = _readable_ledger(request, ledger)
        latest = checkpoints.latest_checkpoint(model.ledger_name)
        if latest is None:
            raise Http404(f"Ledger {ledger} has no signed checkpoint yet; an auditor makes one with POST.")
        return Response(latest.as_dict())

    @extend_schema(
        summary="Sign a checkpoint of the ledger's current tree (only when it grew)",
        request=None,
        responses={201: CHECKPOINT_SCHEMA, 200: CHECKPOINT_SCHEMA},
    )
    def post(self, request, ledger):
        model = _ledger_or_404(ledger)
        checkpoint, created = checkpoints.make_checkpoint(model)
        return Response(checkpoint.as_dict(), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class InclusionProofView(APIView):
    """?seq=S&tree_size=N: the audit path of entry S in the signed tree of size N (default: the latest)."""

    required_permissions = {"GET": LEDGER_READ}

    @extend_schema(
        summary="Inclusion proof of one entry against a signed checkpoint's tree",
        parameters=[
            _int_param("seq", "the entry", required=True),
            _int_param("tree_size", "a signed checkpoint's tree size (default: the latest)"),
        ],
        responses=INCLUSION_SCHEMA,
    )
    def get(self, request, ledger):
        model, latest, seq, size = _proof_sizes(request, ledger, "seq", "tree_size")
        if seq > size:
            raise ValidationError({"seq": [f"seq {seq} is beyond tree_size {size}: that tree does not hold it yet."]})
        entry = _visible(model, request.user).filter(seq=seq).values("entry_hash").first()
        if entry is None:
            raise Http404(f"Ledger {ledger} has no entry {seq} you may see.")
        return Response(checkpoints.inclusion_proof(model.ledger_name, seq, size, entry["entry_hash"]))


class ConsistencyProofView(APIView):
    """?first=M&second=N: proof that the signed tree of size M is a prefix of the signed tree of size N."""

    required_permissions = {"GET": LEDGER_READ}

    @extend_schema(
        summary="Consistency proof between two signed checkpoints' trees",
        parameters=[
            _int_param("first", "the earlier signed tree size", required=True),
            _int_param("second", "the later signed tree size (default: the latest)"),
        ],
        responses=CONSISTENCY_SCHEMA,
    )
    def get(self, request, ledger):
        model, latest, first, second = _proof_sizes(request, ledger, "first", "second")
        _signed_size(ledger, "first", first, latest)
        if first > second:
            raise ValidationError({"first": [f"first ({first}) must not exceed second ({second})."]})
        return Response(checkpoints.consistency_proof(model.ledger_name, first, second))


@public
class PublicKeyView(APIView):
    """The checkpoint-signing public key: public by nature, so anyone may fetch it."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(summary="The Ed25519 public key that signs checkpoints", responses=PUBLIC_KEY_SCHEMA)
    def get(self, request):
        return Response({**signing.public_key_info(), "note_verifier_key": signing.verifier_key()})


class ExportRefused(StateConflictError):
    """The entries contradict a signed checkpoint: the server does not hand out an export "consistent" with it."""


def check_before_export(model, checkpoint, using=None):
    """Refuse (ExportRefused, a 409) unless entries 1…checkpoint.tree_size re-walk clean and give the root of
    every signed checkpoint up to it; returns how many entries the ledger holds beyond the checkpoint."""
    from ledgerproject.ledger.chain import verify_links

    links = verify_links(model, using=using)
    if not links.ok and links.first_bad_seq <= checkpoint.tree_size:
        raise ExportRefused(
            f"{model.ledger_name}: seq {links.first_bad_seq}: {links.reason}; no export is consistent with "
            f"checkpoint @{checkpoint.tree_size}",
            first_bad_seq=links.first_bad_seq,
            checkpoint=checkpoint.tree_size,
        )
    signed = checkpoints.verify_against_checkpoints(model, using=using, upto=checkpoint.tree_size)
    if not signed.ok:
        raise ExportRefused(
            f"{model.ledger_name}: {signed.reason}",
            first_bad_seq=signed.first_bad_seq,
            checkpoint=signed.bad_checkpoint,
        )
    manager = model._base_manager.using(using) if using else model._base_manager
    head = newest_seq(manager)
    return max(0, head - checkpoint.tree_size)


def export_lines(model, checkpoint, using=None, progress=None, unsigned_after=0):
    """The verifiable export of a ledger as JSONL lines: a manifest, then entries 1…checkpoint.tree_size."""
    manifest = {
        "format": EXPORT_FORMAT,
        "ledger": model.ledger_name,
        "exported_at": format_timestamp(timezone.now()),
        "entries": checkpoint.tree_size,
        "checkpoint": checkpoint.as_dict(),
        "public_key": signing.public_key_info(),
    }
    if unsigned_after:
        # Not signed, so not exported: say so rather than let a reader take the export for the whole ledger.
        manifest["unsigned_entries_after"] = unsigned_after
        manifest["note"] = (
            f"The ledger holds {unsigned_after} more entries than its latest signed checkpoint "
            f"(@{checkpoint.tree_size}); this export ends there. POST …/checkpoint/ or POST …/export/ signs them."
        )
    yield json.dumps(manifest, ensure_ascii=False, separators=(",", ":")) + "\n"
    manager = model._base_manager.using(using) if using else model._base_manager
    queryset = manager.filter(seq__lte=checkpoint.tree_size).order_by("seq")
    queryset, recorded_at_column = with_recorded_at_text(queryset)
    columns = ("seq", recorded_at_column, "recorded_by_name", "prev_entry_hash", "entry_hash", "canonical")
    rows = raw_rows(queryset.values_list(*columns), queryset.db, 2000)
    last_at = last_at_text = None
    for seq, recorded_at, recorded_by, prev, this, canonical in rows:
        if recorded_at != last_at:  # a batch shares one recorded_at: format it once
            last_at, last_at_text = recorded_at, timestamp_text(recorded_at)
        line = {
            "seq": seq,
            "recorded_at": last_at_text,
            "recorded_by": recorded_by,
            "prev_entry_hash": prev,
            "entry_hash": this,
            "canonical": canonical,
        }
        # orjson (C): the same JSON as json.dumps, several times faster on a whole-ledger export.
        yield orjson.dumps(line).decode() + "\n"
        if progress is not None:
            progress(1)


_EXPORT_SCHEMA = {
    "parameters": [OpenApiParameter("format", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=["jsonl"])],
    "responses": {(200, "application/x-ndjson"): OpenApiTypes.STR},
}


class ExportView(APIView):
    """Auditor: the whole ledger as verifiable JSONL, consistent with a signed checkpoint.

    GET (and HEAD) read the latest checkpoint and write nothing; POST first signs a checkpoint if the
    ledger grew. Both refuse (409) when the entries contradict a signed checkpoint.
    """

    required_permissions = {"GET": "ledger.export_ledger", "POST": "ledger.export_ledger"}
    renderer_classes = [JSONRenderer, JSONLinesRenderer]

    def _model(self, request, ledger):
        model = _ledger_or_404(ledger)
        fmt = request.query_params.get("format", "jsonl")
        if fmt != "jsonl":
            raise ValidationError(
                {"format": [f"the verifiable export is JSON Lines only (format=jsonl), not {fmt!r}."]}
            )
        if not sees_all_tenants(request.user):
            raise PermissionDenied("A verifiable export covers every tenant; tenant-bound accounts cannot make one.")
        return model

    def _export(self, model, checkpoint):
        # The entries are checked and read where the checkpoint was read (a lagging replica could miss some).
        db = checkpoint._state.db
        unsigned = check_before_export(model, checkpoint, using=db)
        body = export_lines(model, checkpoint, using=db, unsigned_after=unsigned)
        response = StreamingHttpResponse(body, content_type="application/x-ndjson")
        response["Content-Disposition"] = f'attachment; filename="{model.ledger_name}-{checkpoint.tree_size}.jsonl"'
        response["X-Ledger-Checkpoint-Size"] = str(checkpoint.tree_size)
        response["X-Ledger-Unsigned-Entries"] = str(unsigned)
        return response

    @extend_schema(
        summary="Verifiable JSONL export up to the latest signed checkpoint (writes nothing)", **_EXPORT_SCHEMA
    )
    def get(self, request, ledger):
        model = self._model(request, ledger)
        checkpoint = checkpoints.latest_checkpoint(model.ledger_name)
        if checkpoint is None:
            if not model._base_manager.exists():
                raise ValidationError({"ledger": [f"Ledger {ledger} is empty: there is nothing to export."]})
            raise StateConflictError(
                f"Ledger {ledger} has no signed checkpoint yet: POST …/export/ (or POST …/checkpoint/) signs one first."
            )
        return self._export(model, checkpoint)

    @extend_schema(summary="Sign a checkpoint if the ledger grew, then export up to it", request=None, **_EXPORT_SCHEMA)
    def post(self, request, ledger):
        model = self._model(request, ledger)
        try:
            checkpoint, _ = checkpoints.make_checkpoint(model)
        except checkpoints.EmptyLedgerError:
            raise ValidationError({"ledger": [f"Ledger {ledger} is empty: there is nothing to export."]}) from None
        return self._export(model, checkpoint)


@requires_permission(LEDGER_READ)
def entry_page(request, ledger, seq):
    """One entry: its canonical form and its inclusion proof against the latest checkpoint, checkable in the browser."""
    model = _ledger_or_404(ledger)
    if not can_read_ledger(request.user, model):
        raise PermissionDenied(f"You may not read ledger {ledger}.")
    visible = _visible(model, request.user)
    entry = visible.filter(seq=seq).first()
    if entry is None:
        raise Http404(f"Ledger {ledger} has no entry {seq} you may see.")
    # The neighbours this reader may see: no link past the last entry (it would be a 404).
    previous_seq = visible.filter(seq__lt=seq).order_by("-seq").values_list("seq", flat=True).first()
    next_seq = visible.filter(seq__gt=seq).order_by("seq").values_list("seq", flat=True).first()
    latest = checkpoints.latest_checkpoint(ledger)
    proof = None
    if latest is not None and seq <= latest.tree_size:
        proof = checkpoints.inclusion_proof(ledger, seq, latest.tree_size, entry.entry_hash)
    try:
        pretty = json.dumps(json.loads(entry.canonical), indent=2, ensure_ascii=False)
    except ValueError:
        pretty = entry.canonical
    context = {
        "ledger": ledger,
        "entry": entry,
        # Not "block": a template variable of that name is shadowed by the {% block %} tag's own.
        "ledger_block": entry.ledger_block,
        "previous_seq": previous_seq,
        "next_seq": next_seq,
        "pretty": pretty,
        "checkpoint": latest.as_dict() if latest else None,
        "proof": proof,
        "verify_data": {
            "ledger": ledger,
            "seq": entry.seq,
            "prev_entry_hash": entry.prev_entry_hash,
            "entry_hash": entry.entry_hash,
            "canonical": entry.canonical,
            "checkpoint": latest.as_dict() if latest else None,
            "proof": proof,
            "public_key": signing.public_key_info()["public_key"],
        },
    }
    return render(request, "ledger/entry.html", context)


@requires_permission("ledger.checkpoint_ledger")
@require_POST
def checkpoint_now(request, ledger):
    """Home page button: sign a checkpoint of one ledger if it grew."""
    model = _ledger_or_404(ledger)
    try:
        checkpoint, created = checkpoints.make_checkpoint(model)
    except checkpoints.StateConflictError as exc:
        messages.error(request, f"{ledger}: no checkpoint: {exc.message}")
        return redirect("ledgers")
    if created:
        messages.success(request, f"{ledger}: signed checkpoint of {checkpoint.tree_size} entries.")
    else:
        messages.info(request, f"{ledger}: unchanged since the checkpoint of {checkpoint.tree_size} entries.")
    return redirect("ledgers")
