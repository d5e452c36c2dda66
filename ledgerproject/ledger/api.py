"""API bases shared by every ledger (append-only viewset, streaming exports) and the kernel's endpoints."""

import collections
import functools
import itertools

from django.core.exceptions import ImproperlyConfigured
from django.db.models import JSONField
from django.db.models.query import ValuesListIterable
from django.db.models.sql.constants import MULTI
from django.http import Http404, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from ledgerproject.ledger import memory, rollups
from ledgerproject.ledger.access import LEDGER_READ
from ledgerproject.ledger.chain import _json_loader as json_loader
from ledgerproject.ledger.chain import raw_rows, record_check, timestamp_text, verify_ledger, with_recorded_at_text
from ledgerproject.ledger.exceptions import BatchValidationError
from ledgerproject.ledger.models import ChainCheck, Checkpoint, sees_all_tenants
from ledgerproject.ledger.permissions import LedgerRolePermission
from ledgerproject.ledger.registry import get_ledger, ledger_models
from ledgerproject.ledger.renderers import csv_columns, stream_csv, stream_jsonl
from ledgerproject.ledger.search import SearchError, search
from ledgerproject.ledger.tenancy import visible_or_404

MAX_BATCH = 5000
STREAM_FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


EXPORT_CHUNK = 2000


class PlainRow:
    """A row of a ledger's columns with the kernel's `ledger` block: what a serializer that reads
    only columns (`reads_plain_rows = True`) is handed on exports instead of a model instance,
    whose construction cost more than everything else an exported row needs. Its recorded_at is
    the text the API shows (PostgreSQL writes it: no datetime is parsed per row). On exports it
    holds only the serializer's fields' columns and the ledger block's (plain_rows)."""

    @property
    def ledger_block(self):
        return {
            "seq": self.seq,
            "recorded_at": timestamp_text(self.recorded_at),
            "recorded_by": self.recorded_by_name,
            "prev_entry_hash": self.prev_entry_hash,
            "entry_hash": self.entry_hash,
        }

    __slots__ = ()  # the values live in the tuple of a maker() class, or in _DictRow's __dict__

    @property
    def pk(self):
        return self.seq

    @classmethod
    def of(cls, names, values):
        return cls.maker(names)(values)

    @staticmethod
    def maker(names):
        """values -> a PlainRow with attributes `names`: a named tuple made once per set of names (an
        export builds one row per entry, and a tuple is several times cheaper to build than an object
        with a __dict__), or, for names a named tuple cannot carry, an object with a __dict__."""
        return _plain_row_class(tuple(names))


class _DictRow(PlainRow):
    """A PlainRow holding its values in a __dict__ (for names a named tuple refuses)."""

    def __init__(self, names, values):
        self.__dict__ = dict(zip(names, values, strict=True))


@functools.lru_cache(maxsize=128)
def _plain_row_class(names):
    try:
        values = collections.namedtuple("PlainRowValues", names)
    except ValueError:  # a name that is a keyword or starts with an underscore
        return functools.partial(_DictRow, names)
    return type("PlainRowOf", (values, PlainRow), {"__slots__": ()})._make


# The columns PlainRow.ledger_block and PlainRow.pk read.
LEDGER_BLOCK_COLUMNS = frozenset(("seq", "recorded_at", "recorded_by_name", "prev_entry_hash", "entry_hash"))


def _plain_columns(queryset, only=None):
    """(queryset, columns, names): `queryset` annotated to read every column of its model (or those of
    `only`, names or attnames, and the ledger block's), `columns` the values_list() names to read
    (recorded_at as the database's text of it on PostgreSQL), `names` the PlainRow attribute each becomes."""
    names = [
        field.attname
        for field in queryset.model._meta.concrete_fields
        if only is None or field.attname in LEDGER_BLOCK_COLUMNS or field.name in only or field.attname in only
    ]
    columns = list(names)
    queryset, columns[names.index("recorded_at")] = with_recorded_at_text(queryset)
    return queryset, columns, names


def _related_columns(model, related):
    """values_list() lookups of the related rows a plain row carries: {relation: column names} → for each
    relation its primary key first (None there: no related row) and then its columns, as `relation__column`."""
    lookups = []
    for relation, names in sorted(related.items()):
        target = model._meta.get_field(relation).related_model
        pk = target._meta.pk.attname
        wanted = [pk]
        for field in target._meta.concrete_fields:
            if field.attname != pk and (field.name in names or field.attname in names):
                wanted.append(field.attname)
        lookups += [f"{relation}__{name}" for name in wanted]
    return lookups


_PLAIN_READS = {}


def plain_shape(queryset, serializer, also=()):
    """(queryset, columns): `queryset` and the values_list() names that read what `serializer` (an instance
    or a class) shows: its own columns (read_columns()), the ledger block's, the queryset's annotations (a
    cursor's position may be one) and the related rows' columns its fields and `plain_row_reads` name
    (`relation__column`). What a serializer class reads is worked out once: its fields do not depend on the
    request. `also`: more of the model's columns to read (a list's ordering: the cursor reads its position
    from the page's last row)."""
    serializer_class = serializer if isinstance(serializer, type) else type(serializer)
    key = (serializer_class, queryset.model)
    reads = _PLAIN_READS.get(key)
    if reads is None:
        instance = serializer_class() if serializer is serializer_class else serializer
        reads = _PLAIN_READS[key] = plain_reads(instance, queryset.model)
    own, related = reads
    queryset, columns, _ = _plain_columns(queryset, only=own if own is None else own | set(also))
    annotations = [name for name in queryset.query.annotations if name != "recorded_at_text" and name not in columns]
    return queryset, columns + annotations + _related_columns(queryset.model, related)


@functools.lru_cache(maxsize=256)
def _row_maker(fields):
    """values (in the order of values_list `fields`) → a PlainRow: `recorded_at_text` is recorded_at, and the
    `relation__column` values become one PlainRow under `relation` (None when its primary key is None)."""
    flat = [name for name in fields if "__" not in name]
    groups = {}
    for position, name in enumerate(fields):
        if "__" in name:
            relation, column = name.split("__", 1)
            groups.setdefault(relation, []).append((position, column))
    make = PlainRow.maker(["recorded_at" if name == "recorded_at_text" else name for name in flat] + list(groups))
    if not groups:
        return make
    # values_list() orders the selected columns as asked: the plain ones first, each group's after them.
    width = len(flat)
    nested = [
        (positions[0][0], positions[-1][0] + 1, PlainRow.maker([column for _, column in positions]))
        for positions in groups.values()
    ]

    def make_nested(values):
        return make(
            (
                *values[:width],
                *(None if values[start] is None else sub(values[start:end]) for start, end, sub in nested),
            )
        )

    return make_nested


class PlainRowIterable(ValuesListIterable):
    """A values_list() queryset's rows as PlainRow objects, named by its fields (recorded_at_text is
    recorded_at, `relation__column` a related row's column): slicing, ordering and the cursor pager keep
    working on it as on any queryset."""

    def __iter__(self):
        # ValuesListIterable's rows (compiler.results_iter), with a JSON column parsed by orjson (falling back
        # to the field's own decoder for what orjson refuses): a page's JSON payloads took a third of its time.
        queryset = self.queryset
        compiler = queryset.query.get_compiler(queryset.db)
        results = compiler.execute_sql(MULTI, chunked_fetch=self.chunked_fetch, chunk_size=self.chunk_size)
        converters = {
            position: (_faster_converters(converters, expression), expression)
            for position, (converters, expression) in compiler.get_converters(
                [column[0] for column in compiler.select[: compiler.col_count]]
            ).items()
        }
        rows = itertools.chain.from_iterable(results)
        if converters:
            rows = compiler.apply_converters(rows, converters)
        make = _row_maker(tuple(queryset._fields))
        for values in rows:
            yield make(values)


def _faster_converters(converters, expression):
    field = getattr(expression, "target", None)
    if isinstance(field, JSONField) and field.decoder is None and converters == [field.from_db_value]:
        return [json_loader(field)]
    return converters


def plain_row_queryset(queryset, serializer=None, also=()):
    """`queryset` yielding PlainRow objects: of every column (recorded_at as text on PostgreSQL), or of
    what `serializer` (an instance or a class) shows and the columns `also` names (plain_shape())."""
    if serializer is None:
        queryset, columns, _ = _plain_columns(queryset)
    else:
        queryset, columns = plain_shape(queryset, serializer, also)
    queryset = queryset.values_list(*columns)
    queryset._iterable_class = PlainRowIterable
    return queryset


def _readable_sources(serializer):
    """(source steps, field) of every readable field, a nested serializer's reading the same object
    (source="*") walked into."""
    for name, field in serializer.fields.items():
        if field.write_only:
            continue
        source = field.source or name
        if source == "*":
            if isinstance(field, serializers.BaseSerializer) and not isinstance(field, serializers.ListSerializer):
                yield from _readable_sources(field)
            continue
        yield source.split("."), field


def plain_reads(serializer, model=None):
    """(own, related): the model attributes a plain-row serializer reads — each readable field's source
    (its first step; a nested serializer reading the same object, source="*", walked into) and its
    `plain_row_reads` — and, for a source through a relation (`entry.issue_id`, a nested serializer of a
    related row, a declared `outcome__status`), {relation: the related row's columns}."""
    model = model or serializer.Meta.model
    own, related = set(), {}

    def relation_of(name):
        try:
            field = model._meta.get_field(name)
        except Exception:  # noqa: BLE001 - not a model field (a property, an annotation): read as it is
            return None
        return field if field.is_relation and (field.many_to_one or field.one_to_one) else None

    for steps, field in _readable_sources(serializer):
        own.add(steps[0])
        if relation_of(steps[0]) is None:
            continue
        if len(steps) > 1:
            related.setdefault(steps[0], set()).add(steps[1])
        elif isinstance(field, serializers.Serializer):
            related.setdefault(steps[0], set()).update(nested[0] for nested, _ in _readable_sources(field))
    for lookup in getattr(serializer, "plain_row_reads", ()):
        first, _, rest = lookup.partition("__")
        if rest and relation_of(first) is not None:
            related.setdefault(first, set()).add(rest)
        else:
            own.add(first)
    # A relation read as a related row is not also the model's attribute of that name (its id column is).
    own -= set(related)
    return own, related


def read_columns(serializer):
    """The model attributes a plain-row serializer's fields read (plain_reads()'s own): an export reads only
    these and the ledger block's columns: the stored canonical text and derived columns, the largest part
    of a row, are not sent when no field shows them."""
    return plain_reads(serializer)[0]


def plain_rows(queryset, serializer):
    """The queryset's rows for `serializer`: PlainRow objects when it reads only columns, else
    model instances; either way streamed, EXPORT_CHUNK rows at a time from a cursor or by COPY.

    `reads_plain_rows = True` promises that to_representation reads only its fields' columns, the
    related rows' columns they and `plain_row_reads` name (plain_reads()) and the ledger block: a row
    carries nothing else."""
    if not getattr(serializer, "reads_plain_rows", False):
        return queryset.iterator(chunk_size=EXPORT_CHUNK)
    queryset, columns = plain_shape(queryset, serializer)
    values = raw_rows(queryset.values_list(*columns), queryset.db, EXPORT_CHUNK)
    return map(_row_maker(tuple(columns)), values)


class StreamingListMixin:
    """`?format=jsonl|csv` streams the whole filtered list, row by row, in constant memory."""

    cursor_ordering = ("seq",)

    def get_csv_columns(self):
        """The list's CSV columns, the same for every row (override to spell a field as several columns)."""
        columns = csv_columns(self.get_serializer_class()(context=self.get_serializer_context()))
        if not columns:
            # A CSV without columns would drop every field: the serializer must declare its fields.
            raise ImproperlyConfigured(f"{self.get_serializer_class().__name__} declares no fields to export as CSV")
        return columns

    def stream_response(self, queryset, rows=None):
        fmt = self.request.accepted_renderer.format
        if rows is None:
            # One serializer for every row: building its fields per row would dominate an export.
            serializer = self.get_serializer_class()(context=self.get_serializer_context())
            rows = (serializer.to_representation(obj) for obj in plain_rows(queryset, serializer))
        body = stream_jsonl(rows) if fmt == "jsonl" else stream_csv(rows, self.get_csv_columns())
        response = StreamingHttpResponse(body, content_type=STREAM_FORMATS[fmt])
        response["Content-Disposition"] = f'attachment; filename="{self.basename or "export"}.{fmt}"'
        return response

    def wants_stream(self):
        renderer = getattr(self.request, "accepted_renderer", None)
        return renderer is not None and renderer.format in STREAM_FORMATS

    def list(self, request, *args, **kwargs):
        if self.wants_stream():
            queryset = self.filter_queryset(self.get_queryset()).order_by(*self.cursor_ordering)
            return self.stream_response(queryset)
        return super().list(request, *args, **kwargs)

    def paginate_queryset(self, queryset):
        # A page of a serializer that reads only columns is plain rows, as exports are: building its
        # hundred model instances cost more than serializing them.
        # Its related rows' columns are read in the same query (plain_reads()), its select_related() unused.
        serializer_class = self.get_serializer_class()
        if getattr(serializer_class, "reads_plain_rows", False) and not queryset._prefetch_related_lookups:
            ordering = [name.lstrip("-") for name in self.cursor_ordering]
            queryset = plain_row_queryset(queryset, serializer_class, also=ordering)
        return super().paginate_queryset(queryset)


# RFC 7240: a writer that does not need its entries echoed back asks for `Prefer: return=minimal`.
RETURN_MINIMAL = "return=minimal"


def prefers_minimal(request):
    """Whether the request's Prefer header asks for return=minimal (RFC 7240: comma-separated preferences, the
    preference's name and this value compared without regard to case, a quoted value as plain, parameters after
    `;` ignored). Any other preference, return=representation among them, leaves the full answer."""
    for preference in request.META.get("HTTP_PREFER", "").split(","):
        name, _, value = preference.split(";", 1)[0].partition("=")
        if name.strip().lower() == "return" and value.strip().strip('"').lower() == "minimal":
            return True
    return False


def appended_summary(entries):
    """The minimal answer to an append: how many entries were stored and where, in the ledger's own terms. An
    append is atomic and its entries take consecutive seqs in the order sent, so first_seq..last_seq are they;
    entry_hash is the last one's, the ledger's head as this append left it."""
    return {
        "appended": len(entries),
        "first_seq": entries[0].seq,
        "last_seq": entries[-1].seq,
        "entry_hash": entries[-1].entry_hash,
    }


def item_errors(errors):
    """(index, messages) of each refused item, from a list serializer's errors: DRF reports a list
    aligned with the input, or (newer, and the kernel's own cross-item checks) only the failed indexes."""
    pairs = errors.items() if isinstance(errors, dict) else enumerate(errors)
    return [(int(index), messages) for index, messages in pairs if messages]


class AppendMixin:
    """The one create path of every ledger: POST an object (201, the entry) or a JSON array of them
    (201, the entries in order; atomic: all are stored or none, each refused item named by its index).

    `POST …/batch/` is the same path for arrays only (kept for the clients that use it). What an item
    is, and how a ledger stores a list of them, is its serializer's business (`LedgerSerializer`). With
    `Prefer: return=minimal` the answer is appended_summary() instead of the entries.
    """

    def create(self, request, *args, **kwargs):
        # An array is parsed, validated, appended and answered with the collector held off: what it builds is freed
        # by reference counting once it is answered (memory.py), so a pass would only walk it while it is in use.
        with memory.collector_paused(request) as paused:
            data = request.data
            many = isinstance(data, list)
            if many:
                if not data:
                    raise ValidationError({"non_field_errors": ["An array of entries needs at least one entry."]})
                if len(data) > MAX_BATCH:
                    raise ValidationError(
                        {"non_field_errors": [f"An array holds at most {MAX_BATCH} entries; got {len(data)}."]}
                    )
                return self._append(data, many)
            paused.resume()  # one entry: appended with the collector on
        return self._append(data, many)

    def _append(self, data, many):
        serializer = self.get_serializer(data=data, many=many)
        if not serializer.is_valid():
            if many:
                raise BatchValidationError(item_errors(serializer.errors))
            raise ValidationError(serializer.errors)
        serializer.save()
        if prefers_minimal(self.request):
            # No entry is rendered: the answer says where they were stored (appended_summary), and the serializer lets
            # go of the body and the entries, which no answer keeps for memory.py to release.
            summary = appended_summary(serializer.instance if many else [serializer.instance])
            memory.release_serializer_data(serializer)
            return Response(summary, status=status.HTTP_201_CREATED, headers={"Preference-Applied": RETURN_MINIMAL})
        # The answer comes from the serializer that validated the body (DRF's own create does the same):
        # its fields are built already, and a second serializer would build them again for every request.
        # Once it is rendered, the answer lets go of this serializer's body and entries (memory.py).
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Append many entries atomically: all are stored, or none (same as POSTing an array)")
    @action(detail=False, methods=["post"])
    def batch(self, request, *args, **kwargs):
        with memory.collector_paused(request):  # request.data parses the body here; create's block is then a no-op
            if not isinstance(request.data, list):
                raise ValidationError({"non_field_errors": ["A batch is a JSON array of entries."]})
            return self.create(request, *args, **kwargs)


class LedgerViewSet(
    StreamingListMixin,
    AppendMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """list / retrieve / create (append one or an array) and `POST …/batch/`; PUT, PATCH and DELETE are 405."""

    http_method_names = ["get", "post", "head", "options"]
    # One path segment, dots included: the detail route carries every id the URL id rule allows
    # (DRF's default [^/.]+ would leave "v1.2" stored but unreachable).
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return super().get_queryset().visible_to(self.request.user)

    def get_object(self):
        # visible_or_404 filters through visible_to() itself: one 404 for absent and not yours,
        # and ?tenant_id= where the principal sees the id in several tenants.
        lookup = {self.lookup_field: self.kwargs[self.lookup_url_kwarg or self.lookup_field]}
        queryset = self.filter_queryset(self.get_queryset())
        entry = visible_or_404(queryset, self.request, what=queryset.model._meta.verbose_name, **lookup)
        self.check_object_permissions(self.request, entry)
        return entry


def visible_size(model, user):
    """The entries of `model` this tenant-bound principal may see, from the rollups (a ledger
    whose visibility is its own rule, not a tenant column, is counted through it)."""
    if model.tenant_field is None:
        return model._base_manager.visible_to(user).count()
    return rollups.sizes(user, [model.ledger_name])[model.ledger_name]


def ledger_summary(model, user=None):
    """A ledger's size, head and checks; for a tenant-bound principal only the count of what it
    can see (no head seq or hash, whose gaps and growth would show other tenants' volume)."""
    if user is not None and not sees_all_tenants(user):
        return {
            "name": model.ledger_name,
            "model": model._meta.label,
            "size": visible_size(model, user),
            "head_seq": None,
            "head_entry_hash": None,
            "last_check": None,
            "checkpoint": None,
        }
    head = model._base_manager.order_by("-seq").values_list("seq", "entry_hash").first()
    check = ChainCheck.objects.filter(ledger=model.ledger_name).order_by("-checked_at").first()
    checkpoint = Checkpoint.objects.latest_for(model.ledger_name)
    return {
        "name": model.ledger_name,
        "model": model._meta.label,
        "size": head[0] if head else 0,
        "head_seq": head[0] if head else None,
        "head_entry_hash": head[1] if head else None,
        "last_check": (
            {
                "ok": check.ok,
                "checked": check.checked,
                "first_bad_seq": check.first_bad_seq,
                "reason": check.reason,
                "checked_at": check.checked_at,
            }
            if check
            else None
        ),
        "checkpoint": (
            {
                "tree_size": checkpoint.tree_size,
                "root_hash": checkpoint.root_hash,
                "timestamp": checkpoint.timestamp,
                "key_id": checkpoint.key_id,
                "created_at": checkpoint.created_at,
            }
            if checkpoint
            else None
        ),
    }


def can_read_ledger(user, model):
    """Whether this principal may read the ledger (its roles' view permission on the model)."""
    return user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}")


def readable_ledgers(user):
    """The ledgers this principal may read."""
    return [model for model in ledger_models() if can_read_ledger(user, model)]


def _ledger_or_404(name):
    try:
        return get_ledger(name)
    except LookupError as exc:
        raise Http404(str(exc)) from None


_CHAIN_CHECK = inline_serializer(
    "ChainCheck",
    {
        "ok": serializers.BooleanField(),
        "checked": serializers.IntegerField(),
        "first_bad_seq": serializers.IntegerField(allow_null=True),
        "reason": serializers.CharField(),
        "checkpoints_checked": serializers.IntegerField(help_text="signed checkpoints the entries were compared with"),
        "bad_checkpoint": serializers.IntegerField(
            allow_null=True, help_text="tree size of the first checkpoint the entries contradict"
        ),
        "recorded": serializers.BooleanField(help_text="whether this check was stored (POST only)"),
    },
)
_LEDGER_SUMMARY = inline_serializer(
    "LedgerSummary",
    {
        "name": serializers.CharField(),
        "model": serializers.CharField(),
        "size": serializers.IntegerField(),
        "head_seq": serializers.IntegerField(allow_null=True),
        "head_entry_hash": serializers.CharField(allow_null=True),
        "last_check": serializers.DictField(allow_null=True, help_text="the latest chain check, or null"),
        "checkpoint": serializers.DictField(allow_null=True, help_text="the latest signed checkpoint, or null"),
    },
)

_LEDGER_SUMMARY_LIST = serializers.ListSerializer(child=_LEDGER_SUMMARY)


class LedgerListView(APIView):
    """Every ledger: name, size, head seq and hash, last chain check."""

    required_permissions = {"GET": LEDGER_READ}

    def get_csv_columns(self):
        # ledger_summary()'s shape: a ledger without a check or checkpoint leaves those columns empty.
        return [
            "name",
            "model",
            "size",
            "head_seq",
            "head_entry_hash",
            *(f"last_check.{key}" for key in ("ok", "checked", "first_bad_seq", "reason", "checked_at")),
            *(f"checkpoint.{key}" for key in ("tree_size", "root_hash", "timestamp", "key_id", "created_at")),
        ]

    @extend_schema(responses={200: _LEDGER_SUMMARY_LIST})
    def get(self, request):
        return Response([ledger_summary(model, request.user) for model in readable_ledgers(request.user)])


class LedgerVerifyView(APIView):
    """Auditor: re-walk one ledger's chain and compare it with its signed checkpoints now.

    GET computes and answers, writing nothing (a safe method); POST also records the result as the
    ledger's last check (what the home page and /api/v1/ledgers/ show).
    """

    required_permissions = {"GET": "ledger.verify_ledger", "POST": "ledger.verify_ledger"}

    def _answer(self, result, recorded):
        return Response(
            {
                "ok": result.ok,
                "checked": result.checked,
                "first_bad_seq": result.first_bad_seq,
                "reason": result.reason,
                "checkpoints_checked": result.checkpoints_checked,
                "bad_checkpoint": result.bad_checkpoint,
                "recorded": recorded,
            }
        )

    @extend_schema(summary="Verify a ledger now (nothing is recorded)", responses=_CHAIN_CHECK)
    def get(self, request, ledger):
        return self._answer(verify_ledger(_ledger_or_404(ledger)), recorded=False)

    @extend_schema(
        summary="Verify a ledger now and record the result as its last check", request=None, responses=_CHAIN_CHECK
    )
    def post(self, request, ledger):
        result = verify_ledger(_ledger_or_404(ledger))
        record_check(result, checked_by=request.user.get_username())
        return self._answer(result, recorded=True)


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema, for principals who may read some ledger."""

    permission_classes = [LedgerRolePermission]
    required_permissions = {"GET": LEDGER_READ}


class SwaggerView(SpectacularSwaggerSplitView):
    """The interactive API documentation, for principals who may read some ledger.

    The split view serves its start-up script as a file (?script), so the CSP needs no inline script."""

    permission_classes = [LedgerRolePermission]
    required_permissions = {"GET": LEDGER_READ}
    # Its only renderer is an HTML template: DRF's OPTIONS metadata has no template to render (a 500).
    http_method_names = ["get", "head"]


def _list_routes(patterns, prefix=""):
    """Routes among `patterns` that take no parameter and answer GET: each ledger's lists."""
    from ledgerproject.ledger.access import iter_routes

    found = []
    for route, pattern, _admin in iter_routes(patterns, prefix):
        text = route.lstrip("^").rstrip("$")
        if "<" in text or "(?P" in text or "\\" in text or not text:
            continue
        callback = pattern.callback
        actions = getattr(callback, "actions", None)
        cls = getattr(callback, "cls", None)
        # A viewset's list (not its extra actions, which want parameters); any other GET view that
        # answers without a query parameter (search needs its ?q=; the index names it on its own).
        answers_get = actions.get("get") == "list" if actions is not None else cls is not None and hasattr(cls, "get")
        answers_get = answers_get and not getattr(cls, "required_query_params", ())
        if answers_get and text not in found:
            found.append(text)
    return found


class ApiIndexView(APIView):
    """The API's parts: each ledger's list routes, the kernel's, the schema and the docs."""

    required_permissions = {"GET": LEDGER_READ}

    @extend_schema(
        summary="An index of the API: each ledger's list routes, the schema and the docs",
        responses={
            200: inline_serializer(
                "ApiIndex",
                {
                    "title": serializers.CharField(),
                    "version": serializers.CharField(),
                    "schema": serializers.URLField(),
                    "docs": serializers.URLField(),
                    "home": serializers.URLField(),
                    "search": serializers.CharField(help_text="the search route; append an id"),
                    "ledgers": serializers.ListField(
                        child=inline_serializer(
                            "ApiIndexPart",
                            {
                                "app": serializers.CharField(),
                                "title": serializers.CharField(),
                                "routes": serializers.DictField(child=serializers.URLField()),
                            },
                        )
                    ),
                },
            )
        },
    )
    def get(self, request):
        from importlib import import_module

        from django.conf import settings
        from django.urls import reverse

        from ledgerproject.ledger import urls as kernel_urls
        from ledgerproject.ledger.schema import KERNEL_TAG, app_title

        base = reverse("api-index")

        def links(patterns):
            return {route.rstrip("/"): request.build_absolute_uri(base + route) for route in _list_routes(patterns)}

        parts = [{"app": "ledger", "title": KERNEL_TAG, "routes": links(kernel_urls.api_urlpatterns)}]
        for label in settings.LEDGER_APPS:
            patterns = getattr(import_module(f"{label}.urls"), "api_urlpatterns", [])
            parts.append({"app": label, "title": app_title(label), "routes": links(patterns)})
        return Response(
            {
                "title": settings.SPECTACULAR_SETTINGS["TITLE"],
                "version": settings.SPECTACULAR_SETTINGS["VERSION"],
                "schema": request.build_absolute_uri(reverse("schema")),
                "docs": request.build_absolute_uri(reverse("swagger-ui")),
                "home": request.build_absolute_uri(reverse("home")),
                # Any stored id after ?q= (it needs one, so it is not among the lists below).
                "search": request.build_absolute_uri(base + "search/") + "?q=",
                "ledgers": parts,
            }
        )


_SEARCH_RESULT = inline_serializer(
    "SearchResult",
    {
        "ledger": serializers.CharField(),
        "kind": serializers.CharField(help_text="what the id is: issue id, run id, blob digest, seq, …"),
        "id": serializers.CharField(),
        "title": serializers.CharField(),
        "url": serializers.CharField(allow_null=True, help_text="the page"),
        "api_url": serializers.CharField(allow_null=True),
    },
)


class SearchView(APIView):
    """Any identifier a ledger stores → the entries (or ids) it names, grouped by ledger, tenant-scoped."""

    required_permissions = {"GET": LEDGER_READ}
    required_query_params = ("q",)

    def get_csv_columns(self):
        return ["ledger", "kind", "id", "title", "url", "api_url"]

    @extend_schema(
        summary="Search every ledger for an id",
        parameters=[
            OpenApiParameter(
                "q", str, required=True, description="an id, a hex digest prefix of at least 8, or ledger#seq"
            )
        ],
        responses={
            200: inline_serializer(
                "SearchResults",
                {"query": serializers.CharField(), "results": serializers.ListSerializer(child=_SEARCH_RESULT)},
            )
        },
    )
    def get(self, request):
        text = request.query_params.get("q", "")
        try:
            results = search(request.user, text)
        except SearchError as exc:
            raise ValidationError({"q": [str(exc)]}) from None
        return Response({"query": text.strip(), "results": results})
