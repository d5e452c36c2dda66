"""Search: any identifier a ledger stores, found through each ledger's own declaration and its indexes.

Each ledger model declares `search_fields`, a tuple of SearchField: which indexed column holds an
identifier, what a person calls it, and where it leads (the entry's own page, or a page for the id
itself such as a blueprint's trace). The kernel runs one bounded query per declared field, only
the ones the query's shape can match, always through `visible_to(user)`: an exact match, or for a
hex digest a prefix of at least MIN_PREFIX characters (`LIKE 'abc%'`, served on PostgreSQL by a
`varchar_pattern_ops` index and on SQLite by the same condition as a range on the ordinary index).
`ledger#seq` names one entry of one ledger.
"""

import re
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse

from ledgerproject.ledger.ids import safe_reverse
from ledgerproject.ledger.registry import get_ledger, ledger_models

MIN_PREFIX = 8
MIN_QUERY = 3
MAX_QUERY = 256
# Rows read per declared field: a search lands on an entry or lists a few; it never pages a ledger.
LIMIT = 20
HEX = re.compile(r"^[0-9a-f]+$")
LEDGER_SEQ = re.compile(r"^(?P<ledger>[A-Za-z0-9_.-]+)#(?P<seq>[0-9]{1,18})$")
BIGINT_MAX = 2**63 - 1


class SearchError(ValueError):
    """A query that cannot be searched (blank, too short, too long); the message says what to type."""


@dataclass(frozen=True)
class SearchField:
    """One searchable column of a ledger model.

    `page`/`api`: URL names taking the value as their one argument, for ids that name a group of
    entries (a blueprint, a chain, a release name): the result is the id, once, leading there.
    Without them the result is each matching entry (its get_absolute_url / get_api_url).
    `query`: "…?key=" style pages taking the value as a query parameter instead of a path segment.
    `prefix`: a lowercase hex digest, also found by a prefix of at least MIN_PREFIX characters.
    `kind`: "text" (any query), "int" (digits only) or "uuid" (a UUID, with or without dashes).
    """

    field: str
    label: str
    page: str | None = None
    api: str | None = None
    page_query: str | None = None
    api_query: str | None = None
    prefix: bool = False
    kind: str = "text"
    # For ids of one entry: the URL name of its page taking the value (for {% id_link %} anywhere).
    link: str | None = None

    def value_for(self, query):
        """The value to look up for this query, or None when the query cannot be one of these ids."""
        if self.kind == "int":
            return int(query) if query.isdigit() and int(query) <= BIGINT_MAX else None
        if self.kind == "uuid":
            try:
                return uuid.UUID(query) if len(query) in (32, 36) else None
            except ValueError:
                return None
        if self.prefix:
            lowered = query.lower()
            return lowered if HEX.match(lowered) and len(lowered) >= MIN_PREFIX else None
        return query

    def condition(self, value):
        """Filter kwargs: equality, or for a digest prefix LIKE 'v%' plus the same as a range
        (v <= x < v+1) so that an ordinary B-tree serves it where LIKE cannot use one (SQLite)."""
        if self.prefix and len(value) < 64:
            upper = value[:-1] + chr(ord(value[-1]) + 1)
            return {f"{self.field}__startswith": value, f"{self.field}__gte": value, f"{self.field}__lt": upper}
        return {self.field: value}


def _url(name, value, query_key):
    if name is None:
        return None
    if query_key:
        try:
            return f"{reverse(name)}?{urlencode({query_key: value})}"
        except NoReverseMatch:
            return None
    return safe_reverse(name, args=[value])


def id_url(label, value):
    """The page of an id of the kind `label` ("run id", "blob digest", …), or None: the one place
    that knows where an id leads, built from the ledgers' search declarations."""
    if value in (None, ""):
        return None
    for model in ledger_models():
        for declared in getattr(model, "search_fields", ()):
            if declared.label == label:
                if declared.page:
                    return _url(declared.page, str(value), declared.page_query)
                if declared.link:
                    return _url(declared.link, str(value), None)
    return None


def searchable_models(user):
    """The ledgers that declare search fields and whose entries `user` may view."""
    found = []
    for model in ledger_models():
        opts = model._meta
        if getattr(model, "search_fields", ()) and user.has_perm(f"{opts.app_label}.view_{opts.model_name}"):
            found.append(model)
    return found


def clean_query(text):
    """The query stripped; SearchError (with what to type) when blank, too short or too long."""
    query = (text or "").strip()
    if not query:
        raise SearchError(
            "Type an id to search: an issue, blueprint, run, event, correlation, chain, artifact, "
            f"output or node id, a release name or version, a digest or a hex prefix of at least {MIN_PREFIX}, "
            "or ledger#seq."
        )
    if len(query) < MIN_QUERY:
        raise SearchError(f"{query!r} is too short: type at least {MIN_QUERY} characters of an id.")
    if len(query) > MAX_QUERY:
        raise SearchError(f"The query is too long: ids are at most {MAX_QUERY} characters.")
    return query


def entry_result(entry, label=None):
    return {
        "ledger": entry.ledger_name,
        "kind": label or "entry",
        "id": entry.search_id(),
        "title": entry.search_title(),
        "url": entry.get_absolute_url(),
        "api_url": entry.get_api_url(),
    }


def search(user, text):
    """Every visible match of the query: a list of result dicts, grouped by ledger (in ledger order)."""
    query = clean_query(text)
    results = []
    if match := LEDGER_SEQ.match(query):
        try:
            model = get_ledger(match["ledger"])
        except LookupError:
            model = None
        if _may_view(user, model):
            entry = model.objects.visible_to(user).filter(seq=int(match["seq"])).first()
            if entry is not None:
                results.append(entry_result(entry, "seq"))
        return results
    seen = set()
    for model, declared, rows in field_queries(user, query):
        if declared.page is None:
            for entry in rows:
                if (model, entry.seq) not in seen:
                    seen.add((model, entry.seq))
                    results.append(entry_result(entry, declared.label))
            continue
        for found in dict.fromkeys(str(value) for value in rows):
            results.append(
                {
                    "ledger": model.ledger_name,
                    "kind": declared.label,
                    "id": found,
                    "title": f"{declared.label} {found}",
                    "url": _url(declared.page, found, declared.page_query),
                    "api_url": _url(declared.api, found, declared.api_query),
                }
            )
    return results


def field_queries(user, query):
    """(model, SearchField, bounded queryset) for each declared field the query's shape can match:
    the queries search() runs (bench/search_explain.py EXPLAINs these very querysets)."""
    for model in searchable_models(user):
        for declared in model.search_fields:
            value = declared.value_for(query)
            if value is None:
                continue
            rows = model.objects.visible_to(user).filter(**declared.condition(value)).order_by()
            if declared.page is None:
                yield model, declared, rows[:LIMIT]
            else:
                # An id naming a group of entries: its values only, read from the index.
                yield model, declared, rows.values_list(declared.field, flat=True)[:LIMIT]


def _may_view(user, model):
    if model is None:
        return False
    opts = model._meta
    return user.has_perm(f"{opts.app_label}.view_{opts.model_name}")


def grouped(results):
    """[(ledger, [results])] in the order the results came (ledger order)."""
    groups = {}
    for result in results:
        groups.setdefault(result["ledger"], []).append(result)
    return list(groups.items())
