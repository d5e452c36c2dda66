"""One keyset cursor for every list: `?cursor=` and `?page_size=` on the API (DRF) and on the pages (KeysetPager).

Both follow DRF's CursorPagination: an opaque cursor names the boundary row of the page it came
from and a direction; next and previous links are the current URL with only the cursor replaced,
so every filter is kept and the query string is URL-encoded by QueryDict. No page numbers and no
OFFSET: the cost of a page never depends on how deep it is, and appends never shift a page.
A cursor that cannot be decoded, or whose position does not fit the ordering's field, is a 400
naming `cursor` (never a 404 for a query parameter, never a 500 from the database).
"""

import base64
import binascii
import json
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.core.exceptions import BadRequest, FieldDoesNotExist
from django.db import models
from django.db.models import Q
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

from ledgerproject.ledger.params import parse_instant, parse_int
from ledgerproject.ledger.validators import MAX_JSON_INT

CURSOR_PARAM = "cursor"
PAGE_SIZE_PARAM = "page_size"
MAX_PAGE_SIZE = 1000
INVALID_CURSOR = "Invalid cursor: follow a next or previous link as it was given, or leave the cursor out."
# The longest cursor either kind ever writes is far below this; a longer one is refused unread.
MAX_CURSOR_LENGTH = 2000


def mark_paged(request, rows):
    """Record on the request the keys of the rows its page served: the kernel's convention test asserts
    that every route reading a paging parameter went through this module (and round-trips its links)."""
    target = getattr(request, "_request", request)
    target.ledger_paged_keys = [getattr(row, "pk", None) for row in rows]


def _field(model, name):
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def position_value(model_field, raw):
    """The value a cursor's position holds for an ordering field, or None when it cannot be one.

    Checked here because the database would otherwise meet it: a word compared with an integer
    column raises ValueError, an integer beyond BIGINT raises OverflowError, NUL fails PostgreSQL.
    """
    if isinstance(model_field, (models.IntegerField, models.AutoField)):
        return parse_int(raw if isinstance(raw, str) else str(raw) if type(raw) is int else None)
    if isinstance(model_field, models.DateTimeField):
        return parse_instant(raw) if isinstance(raw, str) else None
    if isinstance(raw, str) and "\x00" not in raw and len(raw) <= MAX_CURSOR_LENGTH:
        return raw
    return None


class LedgerCursorPagination(CursorPagination):
    """The API's list cursor: stable under appends, no page counts, page_size up to 1000."""

    page_size = 100
    cursor_query_param = CURSOR_PARAM
    page_size_query_param = PAGE_SIZE_PARAM
    max_page_size = MAX_PAGE_SIZE
    ordering = "seq"
    invalid_cursor_message = INVALID_CURSOR

    def get_ordering(self, request, queryset, view):
        return getattr(view, "cursor_ordering", None) or ("seq",)

    def paginate_queryset(self, queryset, request, view=None):
        self._model = getattr(queryset, "model", None)
        # An ordering by an annotation (the releases list orders by its joined current-release row's name,
        # whose index serves the page): its output field checks a cursor's position.
        query = getattr(queryset, "query", None)
        self._annotations = dict(query.annotations) if query is not None else {}
        rows = super().paginate_queryset(queryset, request, view)
        mark_paged(request, rows or [])
        return rows

    def decode_cursor(self, request):
        if len(request.query_params.get(self.cursor_query_param) or "") > MAX_CURSOR_LENGTH:
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]})
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
        if cursor is not None and cursor.position is not None and self._model is not None:
            name = self.ordering[0].lstrip("-")
            annotation = self._annotations.get(name)
            model_field = annotation.output_field if annotation is not None else _field(self._model, name)
            if model_field is not None and position_value(model_field, cursor.position) is None:
                raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]})
        return cursor


@dataclass
class KeysetPage:
    """One page of rows in the pager's order, and the query strings (with `?`) of its neighbours."""

    rows: list
    next_query: str | None = None
    previous_query: str | None = None
    first_query: str = "?"
    is_first: bool = True
    page_size: int = 0
    extra: dict = field(default_factory=dict)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)


def refuse_cursor(request, message=INVALID_CURSOR, name=CURSOR_PARAM):
    """The 400 for a cursor: DRF's (JSON, naming the parameter) under the API, BadRequest (the 400 page) elsewhere."""
    if hasattr(request, "query_params"):
        raise ValidationError({name: [message]})
    raise BadRequest(message)


class KeysetPager:
    """The keyset pager of pages (and of the API's object-shaped pages): `?cursor=` and `?page_size=`.

    `ordering` names model fields, `-` for descending; its last field must make the order total
    (every ledger ends it with `seq`). A bad cursor is a 400 (see refuse_cursor). `legacy` maps an
    older parameter an API client may still send to a parser of it (text → ordering values, or None
    when malformed); the links this pager writes always use `cursor` and drop the older names.
    """

    def __init__(self, ordering, page_size, max_page_size=MAX_PAGE_SIZE, legacy=None):
        self.ordering = tuple(ordering)
        self.page_size = page_size
        self.max_page_size = max(max_page_size, page_size)
        self.legacy = dict(legacy or {})

    def _names(self):
        return [(name.lstrip("-"), name.startswith("-")) for name in self.ordering]

    def encode(self, row=None, reverse=False, values=None):
        """The cursor pointing past `row` (or past explicit ordering `values`) in one direction."""
        if values is None:
            values = [getattr(row, name) for name, _ in self._names()]
        position = [value.isoformat() if hasattr(value, "isoformat") else value for value in values]
        payload = json.dumps({"p": position, "r": 1 if reverse else 0}, separators=(",", ":"))
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    def decode(self, request, model, token):
        """(values, reverse) from a cursor token; a 400 for anything this pager did not write."""
        try:
            if len(token) > MAX_CURSOR_LENGTH:
                raise ValueError(token)
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
            position, reverse = data["p"], data["r"]
            if not isinstance(position, list) or len(position) != len(self.ordering) or reverse not in (0, 1):
                raise ValueError(token)
        except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
            refuse_cursor(request)
        values = []
        for (name, _), raw in zip(self._names(), position, strict=True):
            value = position_value(_field(model, name), raw)
            if value is None:
                refuse_cursor(request)
            values.append(value)
        return values, bool(reverse)

    def _position(self, request, model):
        """(values or None, reverse) named by `cursor`, or else by a legacy parameter."""
        token = request.GET.get(CURSOR_PARAM) or ""
        if token:
            return self.decode(request, model, token)
        for name, parse in self.legacy.items():
            if (text := request.GET.get(name)) is not None:
                values = parse(text)
                if values is None:
                    refuse_cursor(request, f"{name} is not a position this list wrote; follow its next link.", name)
                return list(values), False
        return None, False

    def _beyond(self, values, backwards, constants=None):
        """Rows strictly after `values` in the pager's order (before them when `backwards`).

        `constants` holds ordering names that are the same for every row of this queryset (a ledger's
        name when several ledgers are merged): their comparisons are decided here, not in SQL.
        """
        constants = constants or {}
        names = self._names()
        clauses = []
        for index, (name, descending) in enumerate(names):
            lookup = "lt" if descending != backwards else "gt"
            equal, possible = {}, True
            for position, (other, _) in enumerate(names[:index]):
                if other in constants:
                    possible = possible and constants[other] == values[position]
                else:
                    equal[other] = values[position]
            if name in constants:
                mine, theirs = constants[name], values[index]
                if possible and (mine < theirs if lookup == "lt" else mine > theirs):
                    clauses.append(Q(**equal))
            elif possible:
                clauses.append(Q(**equal, **{f"{name}__{lookup}": values[index]}))
        if not clauses:
            return Q(pk__in=[])
        beyond = reduce(or_, clauses)
        (lead, descending), lead_value = names[0], values[0]
        if len(clauses) > 1 and lead not in constants:
            # Every clause keeps the leading column at or past the cursor's value. Said on its own it is an index
            # condition, where the OR is only a filter: the read then seeks to the cursor instead of walking (and
            # dropping) every row of the pages before it, which made a late page of a big ledger take seconds.
            beyond &= Q(**{f"{lead}__{'lte' if descending != backwards else 'gte'}": lead_value})
        return beyond

    def before(self, row):
        """The rows strictly before `row` in the pager's order (a Q), read as a previous page's are: from `row` on."""
        return self._beyond([getattr(row, name) for name, _ in self._names()], backwards=True)

    def position(self, request, model):
        """(ordering values or None for the first page, backwards) that the request's cursor names: for a
        list that narrows its queryset to what the page can hold before paginate() reads it."""
        return self._position(request, model)

    def page_size_of(self, request):
        """The number of rows the request's page holds (`?page_size=`, capped, or the pager's own)."""
        return self._page_size(request)

    def _page_size(self, request):
        size = parse_int(request.GET.get(PAGE_SIZE_PARAM), minimum=1, maximum=MAX_JSON_INT)
        return min(size, self.max_page_size) if size else self.page_size

    def _query(self, request, token):
        params = request.GET.copy()
        for name in (CURSOR_PARAM, *self.legacy):
            params.pop(name, None)
        if token is not None:
            params[CURSOR_PARAM] = token
        return "?" + params.urlencode()

    def paginate(self, request, queryset):
        """The page the request's cursor names (the first page without one), in the pager's order."""
        return self.paginate_merged(request, [queryset])

    def paginate_merged(self, request, querysets, constant="ledger_name"):
        """One page over several querysets (one per ledger) merged in the pager's order.

        Each queryset reads at most a page and one row past the cursor; `constant` names the
        ordering field each queryset's model holds as a class attribute (a ledger's name).
        """
        size = self._page_size(request)
        model = querysets[0].model if querysets else None
        values, reverse = self._position(request, model)
        order = (
            [name[1:] if name.startswith("-") else f"-{name}" for name in self.ordering] if reverse else self.ordering
        )
        sql_order = [name for name in order if name.lstrip("-") != constant]
        rows = []
        for queryset in querysets:
            constants = {constant: getattr(queryset.model, constant)} if hasattr(queryset.model, constant) else {}
            if values is not None:
                queryset = queryset.filter(self._beyond(values, backwards=reverse, constants=constants))
            rows.extend(queryset.order_by(*sql_order)[: size + 1])
        if len(querysets) > 1:
            descending = order[0].startswith("-")
            rows.sort(key=lambda row: tuple(getattr(row, name) for name, _ in self._names()), reverse=descending)
        more, rows = len(rows) > size, rows[:size]
        if reverse:
            rows.reverse()
            has_next, has_previous = True, more
        else:
            has_next, has_previous = more, values is not None
        mark_paged(request, rows)
        return KeysetPage(
            rows=rows,
            next_query=self._query(request, self.encode(rows[-1])) if has_next and rows else None,
            previous_query=self._query(request, self.encode(rows[0], reverse=True)) if has_previous and rows else None,
            first_query=self._query(request, None),
            is_first=not has_previous,
            page_size=size,
        )

    def query_past(self, request, values):
        """The query string of the page that starts right after the ordering `values` (a jump link)."""
        return self._query(request, self.encode(values=values))
