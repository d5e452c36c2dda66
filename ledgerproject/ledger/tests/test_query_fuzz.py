"""Every query parameter of every list route, fed crafted values: a 4xx with a `detail` or a normal page, never 500.

The routes come from the URL configuration (every GET route but the admin's forms and the public
probes), the parameters from what each view declares (its FilterSet, its paginator, the admin's
filters) and from what it actually reads from the query string, recorded on a first plain request —
so a new route or a new parameter is fuzzed without anyone listing it here.
"""

import logging
import time
from urllib.parse import quote

import pytest
from django.contrib import admin
from django.core.handlers.wsgi import WSGIRequest
from django.http import QueryDict
from django.test import Client, RequestFactory

from ledgerproject.ledger.access import PUBLIC, declaration_of, iter_routes
from ledgerproject.ledger.tests.test_route_walk import real_path, stored, stored_world  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

# Raw (already percent-encoded) values: a lone surrogate and invalid UTF-8 cannot be spelled otherwise.
CRAFTED = [
    "abc",
    "-1",
    "0",
    "99999999999999999999999999",
    "-99999999999999999999",
    "1e999",
    quote("²"),
    quote("٣"),
    "%25",
    "%25s",
    "%25(x)s",
    "%00",
    "a%00b",
    "%ED%A0%80",  # a lone surrogate, UTF-8-encoded
    "%FF%FE",
    quote("0001-01-01T00:00:00+14:00"),
    quote("9999-12-31T23:59:59-14:00"),
    "2026-02-30",
    quote("2026-02-30T00:00:00+00:00_1"),  # a page's keyset cursor with an impossible date
    "1.%C2%B2",  # a keyset cursor with a digit outside ASCII
    "0000-00-00",
    "x" * 3000,
    quote("'\"<>;--"),
]
# The admin's own forms and pages that list nothing, and the schema/docs (no parameters of theirs).
NOT_LISTS = ("/add/", "/change/", "/delete/", "/history/", "/password/", "autocomplete/", "jsi18n/", "logout/")


class RecordingQueryDict(QueryDict):
    """A query dict that remembers the names a view asked it for."""

    asked: set = set()

    def get(self, key, default=None):
        RecordingQueryDict.asked.add(key)
        return super().get(key, default)

    def getlist(self, key, default=None):
        RecordingQueryDict.asked.add(key)
        return super().getlist(key, default)

    def __getitem__(self, key):
        RecordingQueryDict.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        RecordingQueryDict.asked.add(key)
        return super().__contains__(key)


@pytest.fixture
def recording(monkeypatch):
    original = WSGIRequest.GET

    def get(request):
        if "_recorded_get" not in request.__dict__:
            request.__dict__["_recorded_get"] = RecordingQueryDict(request.META.get("QUERY_STRING", ""))
        return request.__dict__["_recorded_get"]

    monkeypatch.setattr(WSGIRequest, "GET", property(get))
    yield RecordingQueryDict.asked
    monkeypatch.setattr(WSGIRequest, "GET", original)


def list_routes():
    """(kind, route, pattern) of every GET route that lists or looks things up with query parameters."""
    for route, pattern, in_admin in iter_routes():
        if any(part in route for part in NOT_LISTS) or "(?P<url>" in route or "<format>" in route:
            continue
        if route in ("api/schema/", "api/docs/", "admin/login/") or route.endswith("/<path:object_id>/"):
            continue
        callback = pattern.callback
        if not in_admin and declaration_of(callback) == PUBLIC:
            continue
        actions = getattr(callback, "actions", None)
        if actions is not None and actions.get("get") in (None, "retrieve"):
            continue  # a viewset's detail route takes no list parameters
        if "get" not in getattr(getattr(callback, "cls", None), "http_method_names", ["get"]):
            continue
        kind = "admin" if in_admin else "api" if route.startswith("api/") else "page"
        yield kind, route, pattern


def declared_params(kind, pattern, superuser):
    """The parameters a view declares: FilterSet fields, the paginator's, the admin's filters and search."""
    names = set()
    cls = getattr(pattern.callback, "cls", None)
    if cls is not None:
        initkwargs = getattr(pattern.callback, "initkwargs", {}) or {}
        filterset = initkwargs.get("filterset_class", getattr(cls, "filterset_class", None))
        if filterset is not None:
            names |= set(filterset.base_filters)
        paginator = initkwargs.get("pagination_class", getattr(cls, "pagination_class", None))
        for attribute in ("cursor_query_param", "page_size_query_param", "page_query_param", "limit_query_param"):
            if paginator is not None and getattr(paginator, attribute, None):
                names.add(getattr(paginator, attribute))
        names.add("format")
    model_admin = getattr(getattr(pattern.callback, "model_admin", None), "__self__", None) or getattr(
        pattern.callback, "model_admin", None
    )
    if kind == "admin" and model_admin is None:
        func = getattr(pattern.callback, "__wrapped__", pattern.callback)
        model_admin = getattr(func, "__self__", None)
    if isinstance(model_admin, admin.ModelAdmin):
        request = RequestFactory().get("/")
        request.user = superuser
        changelist = model_admin.get_changelist_instance(request)
        for spec in changelist.filter_specs:
            names |= set(spec.expected_parameters())
        names |= {"q", "o", "p", "all"}
    return names


def _client_for(kind, superuser, token):
    client = (
        Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")
        if kind == "api"
        else Client(raise_request_exception=False)
    )
    if kind != "api":
        client.force_login(superuser)
    return client


def _problem(kind, response):
    status = response.status_code
    if status >= 500:
        error = getattr(response, "exc_info", None)
        return f"server error {error[1]!r:.200}" if error else "server error"
    if kind == "api" and status >= 400 and status != 406:
        try:
            body = response.json()
        except ValueError:
            return "an API error that is not JSON"
        if not isinstance(body, dict) or not body.get("detail"):
            return "an API error without a detail"
    if kind != "api" and status not in (200, 302, 400, 404):
        return "not a normal page"
    return None


@pytest.fixture
def superuser(make_user):
    return make_user("fuzz-root", roles=["reader", "writer", "reviewer", "auditor", "admin"], superuser=True)


def test_it_never_answers_500_to_a_crafted_query_parameter_on_any_list_route(stored, superuser, recording, monkeypatch):  # noqa: F811
    # Thousands of refused requests: their log lines would dominate the run.
    for name in ("django.request", "django.security"):
        monkeypatch.setattr(logging.getLogger(name), "disabled", True)
    from ledgerproject.ledger.models import ApiToken

    _, token = ApiToken.objects.issue(superuser)
    started = time.monotonic()
    problems, covered = [], []
    for kind, route, pattern in list_routes():
        base = real_path(route, stored["values"])
        client = _client_for(kind, superuser, token)
        recording.clear()
        first = client.get(base)
        assert first.status_code < 500, f"GET {base} → {first.status_code} before any crafted value"
        names = (set(recording) | declared_params(kind, pattern, superuser)) - {"_recorded_get"}
        covered.append((base, len(names)))

        keys = [quote(name, safe="") for name in sorted(names)]
        if kind == "admin":
            # Django's changelist reads every lookup parameter the same way: one request per value
            # carrying all of them keeps thirty changelists within the time budget.
            queries = ["&".join(f"{key}={value}" for key in keys) for value in CRAFTED]
        else:
            queries = [f"{key}={value}" for key in keys for value in [*CRAFTED, f"1&{key}=x"]]
        for query in queries:
            url = f"{base}?{query}"
            response = client.get(url)
            if problem := _problem(kind, response):
                problems.append(f"GET {url[:160]} → {response.status_code}: {problem}")
    assert len(covered) > 30, covered
    assert not problems, "\n".join(problems)
    print(f"{len(covered)} list routes fuzzed in {time.monotonic() - started:.1f} s")
