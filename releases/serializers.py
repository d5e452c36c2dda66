"""Release JSON: the seed's ReleaseRecord plus the ledger block, and the promote / rollback request bodies."""

from django.apps import apps
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ledgerproject.ledger.chain import timestamp_text
from ledgerproject.ledger.models import ALL_TENANTS, tenant_scope
from ledgerproject.ledger.payloads import Sha256Field
from ledgerproject.ledger.serializers import SERVER_SET, LedgerSerializer, StrictSerializer
from ledgerproject.ledger.validators import sha256_problem
from releases.models import Release


def _blobs():
    """The runs app's Blob manager, or None when that app has no Blob model."""
    try:
        return apps.get_model("runs", "Blob")._default_manager
    except LookupError:
        return None


def _blobs_visible_to(user):
    """The runs app's blobs `user` may see (its tenants' holds: whether another tenant stored a digest's
    bytes is not shown), or None when that app has no Blob model."""
    blobs = _blobs()
    return None if blobs is None else blobs.visible_to(user)


def blob_digests(digests, user):
    """The subset of `digests` stored as blobs by the runs app that `user` may see (empty when that app
    has no Blob model)."""
    digests = {d for d in digests if d}
    rows = _blobs_visible_to(user) if digests else None
    if rows is None:
        return set()
    if tenant_scope(user) is ALL_TENANTS and hasattr(rows, "present_digests"):
        return rows.present_digests(digests)  # every blob: one hand-written query
    if hasattr(rows, "present"):  # the runs app records deletions of a blob's bytes: only link stored ones
        rows = rows.present()
    return set(rows.filter(digest__in=digests).values_list("digest", flat=True))


def spec_blob_presence(user):
    """An expression for a list of releases: whether the row's spec_digest is a stored blob `user` may see
    (runs app), or None when that app has no Blob model. Read in the list's own query instead of one more
    for its page's digests."""
    blobs = _blobs()
    return blobs.presence_visible_to(user, "spec_digest") if hasattr(blobs, "presence_visible_to") else None


def page_blob_digests(items, user):
    """blob_digests() of a page's spec digests: read from the rows' `spec_blob_present` when its query had it."""
    items = list(items)
    if items and all(hasattr(item, "spec_blob_present") for item in items):
        return {item.spec_digest for item in items if item.spec_blob_present}
    return blob_digests((item.spec_digest for item in items), user)


def blob_url(digest):
    return f"/api/v1/blobs/{digest}/"


def runs_url(digest):
    return f"/api/v1/runs/?spec_digest={digest}"


class ReleaseMetadataSerializer(StrictSerializer):
    """The seed's ReleaseMetadata: version_label?, promoted_by, notes?."""

    version_label = serializers.CharField(max_length=128, required=False, allow_blank=True, allow_null=True)
    promoted_by = serializers.CharField(max_length=150)
    notes = serializers.CharField(max_length=10000, required=False, allow_blank=True, allow_null=True)


class RestoredSerializer(serializers.Serializer):
    """The entry a rollback returned to."""

    seq = serializers.IntegerField()
    spec_digest = serializers.CharField()
    version_label = serializers.SerializerMethodField()
    created_at = serializers.SerializerMethodField(
        method_name="get_recorded_at", help_text="When the server recorded the restored entry (its recorded_at)."
    )

    def get_version_label(self, obj) -> str | None:
        return obj.version_label or None

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_recorded_at(self, obj):
        return timestamp_text(obj.recorded_at)


class ReleaseSerializer(LedgerSerializer):
    """A stored release entry (read only: entries are appended through promote and rollback)."""

    metadata = serializers.SerializerMethodField()
    # The seed's ReleaseRecord names the entry's time created_at; here it is always the server's recorded_at.
    created_at = serializers.SerializerMethodField(
        method_name="get_recorded_at",
        help_text=(
            "When the server recorded this entry: its trusted `recorded_at` (the instant in `ledger.recorded_at`),"
            " never a client's claim. (On a run, `created_at` is the client's claimed start.)"
        ),
    )
    rolled_back_to = RestoredSerializer(read_only=True, allow_null=True)
    supersedes = serializers.SerializerMethodField(help_text="seq of the entry that was current before this one.")
    spec_blob = serializers.SerializerMethodField(help_text="URL of the spec's blob when it is stored, else null.")
    runs = serializers.SerializerMethodField(help_text="URL of the runs of this spec digest.")

    class Meta:
        model = Release
        fields = [
            "name",
            "spec_digest",
            "metadata",
            "created_at",
            "action",
            "rolled_back_to",
            "supersedes",
            "spec_blob",
            "runs",
            "ledger",
        ]
        read_only_fields = fields

    # A list page reads plain rows: the methods below read only these columns (and the restored entry's,
    # joined in the same query: `rolled_back_to` is None on a promote).
    reads_plain_rows = True
    plain_row_reads = (
        "version_label",
        "promoted_by",
        "notes",
        "recorded_at",
        "supersedes_id",
        "spec_digest",
        "rolled_back_to__version_label",
        "rolled_back_to__recorded_at",
    )

    @extend_schema_field(ReleaseMetadataSerializer)
    def get_metadata(self, obj):
        return {"version_label": obj.version_label or None, "promoted_by": obj.promoted_by, "notes": obj.notes or None}

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_recorded_at(self, obj):
        # A plain row's recorded_at is already the database's text of it (PostgreSQL).
        return timestamp_text(obj.recorded_at)

    def get_supersedes(self, obj) -> int | None:
        return obj.supersedes_id

    def get_spec_blob(self, obj) -> str | None:
        known = self.context.get("blob_digests")
        if known is None:
            request = self.context.get("request")
            known = blob_digests([obj.spec_digest], getattr(request, "user", None))
        return blob_url(obj.spec_digest) if obj.spec_digest in known else None

    def get_runs(self, obj) -> str:
        return runs_url(obj.spec_digest)


def clean_digest(value):
    """The seed's ContentDigest: 64 hex characters, stored lowercase (as its TryFrom does)."""
    problem = sha256_problem(value)
    if problem:
        raise serializers.ValidationError(f"{problem}.")
    return value.lower()


class RequestBodySerializer(StrictSerializer):
    """A promote/rollback body: server-owned and unknown keys are refused (the kernel's strict body), so a
    typo such as "expected_curent" cannot silently skip the concurrency check; `name` may repeat the URL's."""

    server_owned = {"created_at": SERVER_SET, "action": SERVER_SET, "supersedes": SERVER_SET}

    def to_internal_value(self, data):
        if isinstance(data, dict) and "name" in data:
            if data["name"] != self.context.get("name"):
                self.refuse_fields(data)  # every other refused key in the same 400
                raise serializers.ValidationError(
                    {"name": ["The name is the one in the URL; leave it out of the body or send the same."]}
                )
            data = {key: value for key, value in data.items() if key != "name"}
        return super().to_internal_value(data)


class ExpectationMixin(RequestBodySerializer):
    expected_current = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text='The spec_digest you believe is current; 409 if it is not. "" expects no release yet.',
    )

    def validate_expected_current(self, value):
        return value if value in (None, "") else clean_digest(value)


class PromoteSerializer(ExpectationMixin):
    """POST /releases/{name}/promote/: flat fields, or the seed's nested `metadata` object."""

    spec_digest = Sha256Field()
    version_label = serializers.CharField(max_length=128, required=False, allow_blank=True, allow_null=True)
    promoted_by = serializers.CharField(max_length=150, required=False)
    notes = serializers.CharField(max_length=10000, required=False, allow_blank=True, allow_null=True)
    metadata = ReleaseMetadataSerializer(required=False)

    def validate(self, attrs):
        nested = attrs.pop("metadata", None)
        if nested is not None:
            clash = [name for name in ("version_label", "promoted_by", "notes") if name in attrs]
            if clash:
                raise serializers.ValidationError(
                    {name: ["Given both inside `metadata` and at the top level; send it once."] for name in clash}
                )
            attrs.update(nested)
        if not attrs.get("promoted_by"):
            raise serializers.ValidationError({"promoted_by": ["This field is required: who or what promotes it."]})
        attrs["version_label"] = attrs.get("version_label") or ""
        attrs["notes"] = attrs.get("notes") or ""
        return attrs


class RollbackSerializer(ExpectationMixin):
    """POST /releases/{name}/rollback/: an optional body; promoted_by and notes default to the restored entry's."""

    promoted_by = serializers.CharField(max_length=150, required=False)
    notes = serializers.CharField(max_length=10000, required=False, allow_blank=True, allow_null=True)
