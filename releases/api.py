"""Release registry API: names with their current release, current (as of T), history, promote, rollback."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import MethodNotAllowed, NotFound, ValidationError
from rest_framework.response import Response

from ledgerproject.ledger import api as ledger_api
from ledgerproject.ledger import hashing
from ledgerproject.ledger.api import LedgerViewSet
from ledgerproject.ledger.params import parse_int
from ledgerproject.ledger.tenancy import named_tenant
from releases.asof import parse_as_of
from releases.filters import ReleaseFilterSet
from releases.models import Release, validate_name
from releases.serializers import (
    PromoteSerializer,
    ReleaseSerializer,
    RollbackSerializer,
    page_blob_digests,
    spec_blob_presence,
)

MAX_HISTORY = 1000
AS_OF = OpenApiParameter(
    "as_of", OpenApiTypes.DATETIME, description="ISO 8601 time (UTC if no offset): the release current at that time."
)


def _rollback(name, **fields):
    """Release.objects.rollback, with "nothing to roll back to" as a 404."""
    try:
        return Release.objects.rollback(name, **fields)
    except Release.DoesNotExist as exc:
        raise NotFound(str(exc)) from None


def checked_name(name):
    """The name from the URL, or a 400 saying what a name may be."""
    try:
        validate_name(name)
    except DjangoValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    return name


def checked_as_of(request):
    text = request.query_params.get("as_of")
    if text is None:
        return None
    try:
        return parse_as_of(text)
    except ValueError as exc:
        raise ValidationError({"as_of": [str(exc)]}) from None


def with_spec_blob_presence(queryset, user):
    """`queryset` with whether each release's spec is a stored blob `user` may see, read in the same query
    (spec_blob_present; no second round trip for a page's digests)."""
    presence = spec_blob_presence(user)
    return queryset if presence is None else queryset.annotate(spec_blob_present=presence)


def listed_releases():
    """Each name's current release, ordered by the current-release row's name."""
    return Release.objects.currents().select_related("rolled_back_to").annotate(current_name=F("current_row__name"))


class ReleaseViewSet(LedgerViewSet):
    """`GET /releases/` lists each agent name's current release; entries are appended only through
    `POST /releases/{name}/promote/` and `POST /releases/{name}/rollback/`."""

    # Ordered by the current-release row's copy of the name (the entry's own): its (name, tenant) index, or a
    # filter's (column, name) index, then serves the page in order instead of every current release being sorted.
    queryset = listed_releases()
    serializer_class = ReleaseSerializer
    filterset_class = ReleaseFilterSet
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    cursor_ordering = ("current_name",)
    # One write path per entry kind: the generic append and batch make no sense for a registry.
    batch = None

    def get_queryset(self):
        user = self.request.user
        return with_spec_blob_presence(super().get_queryset().on_rows_visible_to(user), user)

    def get_serializer(self, *args, **kwargs):
        instance = args[0] if args else kwargs.get("instance")
        if instance is not None and not isinstance(instance, QuerySet):
            items = instance if isinstance(instance, (list, tuple)) else [instance]
            context = kwargs.setdefault("context", self.get_serializer_context())
            # One lookup of the runs app's blobs for the whole page instead of one per entry (none for a list
            # page, whose query read it).
            context["blob_digests"] = page_blob_digests(items, self.request.user)
        return super().get_serializer(*args, **kwargs)

    @extend_schema(exclude=True)
    def create(self, request, *args, **kwargs):
        raise MethodNotAllowed(
            "POST", detail="Releases are appended with POST /api/v1/releases/{name}/promote/ or …/rollback/."
        )

    @extend_schema(summary="The current release of a name, or the one current at `as_of`", parameters=[AS_OF])
    def retrieve(self, request, name=None):
        name = checked_name(name)
        moment = checked_as_of(request)
        mine = Release.objects.visible_to(request.user).of_tenant(named_tenant(request))
        # The spec blob's presence in the entry's own query (one round trip).
        shown = with_spec_blob_presence(mine.select_related("rolled_back_to"), request.user)
        history = shown.history(name)
        if moment is None:
            entry = shown.current(name)
            if entry is None:
                raise NotFound(f"There is no release called {name!r}.")
        else:
            entry = history.filter(recorded_at__lte=moment).first()
            if entry is None:
                first = mine.for_name(name).order_by("seq").first()
                if first is None:
                    raise NotFound(f"There is no release called {name!r}.")
                raise NotFound(
                    f"No release of {name!r} was current at {hashing.format_timestamp(moment)}: "
                    f"its first release was recorded at {hashing.format_timestamp(first.recorded_at)}."
                )
        return Response(self.get_serializer(entry).data)

    @extend_schema(
        summary="Every entry of a name, newest first ([] for an unknown name)",
        parameters=[
            AS_OF,
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"At most this many entries (≤ {MAX_HISTORY})."),
        ],
        responses=ReleaseSerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def history(self, request, name=None):
        name = checked_name(name)
        moment = checked_as_of(request)
        text = request.query_params.get("limit", str(MAX_HISTORY))
        limit = parse_int(text, minimum=1, maximum=MAX_HISTORY)
        if limit is None:
            raise ValidationError({"limit": [f"limit is a whole number from 1 to {MAX_HISTORY}; got {text!r}."]})
        mine = Release.objects.visible_to(request.user).of_tenant(named_tenant(request))
        entries = with_spec_blob_presence(mine.select_related("rolled_back_to").history(name), request.user)
        if moment is not None:
            entries = entries.filter(recorded_at__lte=moment)
        # Plain rows, as the list's pages: the restored entries and the spec blobs in the same query.
        rows = ledger_api.plain_row_queryset(entries, ReleaseSerializer)[:limit]
        return Response(self.get_serializer(list(rows), many=True).data)

    @extend_schema(
        summary="Promote a new current release of a name",
        request=PromoteSerializer,
        responses={201: ReleaseSerializer},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def promote(self, request, name=None):
        return self._append_to(request, name, PromoteSerializer, request.data, Release.objects.promote)

    @extend_schema(
        summary="Roll back: re-append the release before the current one",
        request=RollbackSerializer,
        responses={201: ReleaseSerializer},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def rollback(self, request, name=None):
        return self._append_to(request, name, RollbackSerializer, request.data if request.data else {}, _rollback)

    def _append_to(self, request, name, body_class, data, append):
        """A name's action that appends one release: its body validated, then `append(name, ...)` (201)."""
        name = checked_name(name)
        body = body_class(data=data, context={"name": name})
        body.is_valid(raise_exception=True)
        entry = append(name, recorded_by=request.user, tenant_id=named_tenant(request), **body.validated_data)
        return Response(self.get_serializer(entry).data, status=status.HTTP_201_CREATED)
