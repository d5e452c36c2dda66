"""`Prefer: return=minimal` on every route of the kernel's append path: the answer says how many entries were
stored, at which seqs and with which head hash, instead of echoing them; what is stored is the same."""

import itertools

import pytest
from django.test import RequestFactory

from enhancelog.tests.conftest import entry_json
from ledgerproject.ledger.api import AppendMixin, prefers_minimal
from ledgerproject.ledger.registry import ledger_models
from ledgerproject.ledger.tests.test_batch_collector import _single_route_of
from ledgerproject.ledger.tests.test_perf_append import NOT_SINGLE_APPENDS, SINGLE_APPEND_ROUTES, _new_run

pytestmark = pytest.mark.django_db

MINIMAL = {"HTTP_PREFER": "return=minimal"}
REVIEWS = "api/v1/enhances/<str:issue_id>/reviews/"
_issues = itertools.count()


def _append_routes():
    """Every route whose POST is the kernel's append path (AppendMixin: a viewset's create or batch, a generic view's
    POST), as the URL resolver spells it."""
    from ledgerproject.ledger.tests.routes import all_routes

    for route, pattern in all_routes():
        cls = getattr(pattern.callback, "cls", None)
        if cls is None or not issubclass(cls, AppendMixin) or route in NOT_SINGLE_APPENDS:
            continue
        actions = getattr(pattern.callback, "actions", None)
        if actions is None or actions.get("post") in ("create", "batch"):
            yield route


def _reviewed_url(api, i):
    issue = f"minimal-{next(_issues)}"
    response = api.post("/api/v1/enhances/", entry_json(issue, status="rejected"), format="json")
    assert response.status_code == 201, response.content
    return f"/api/v1/enhances/{issue}/reviews/"


# The kernel's append routes that SINGLE_APPEND_ROUTES does not hold (no single-append query budget of their own).
MORE_ROUTES = {REVIEWS: (_reviewed_url, lambda i: {"decision": "acknowledged", "comment": f"seen {i}"})}


def _url_and_body(route, api):
    batch = route.endswith("batch/$") or route.endswith("batch/")
    url_for, body = {**SINGLE_APPEND_ROUTES, **MORE_ROUTES}[_single_route_of(route)]
    return url_for(api, 0) + ("batch/" if batch else ""), body


@pytest.fixture
def api(make_user, client_for):
    client = client_for(make_user("root", superuser=True))
    client.budget_run = _new_run(client)
    return client


def _stored(first_seq, last_seq, entry_hash):
    """The ledger model whose entries first_seq..last_seq are stored, the last with entry_hash."""
    for model in ledger_models():
        if model._base_manager.filter(seq=last_seq, entry_hash=entry_hash).exists():
            return model, list(model._base_manager.filter(seq__gte=first_seq, seq__lte=last_seq).order_by("seq"))
    raise AssertionError(f"no ledger holds seq {last_seq} with entry_hash {entry_hash}")


def test_every_append_route_is_held_to_the_minimal_answer():
    routes = set(_append_routes())
    missing = {route for route in routes if _single_route_of(route) not in {**SINGLE_APPEND_ROUTES, **MORE_ROUTES}}
    assert missing == set(), "an append route without a body to send (SINGLE_APPEND_ROUTES or MORE_ROUTES)"
    assert REVIEWS in routes and any(route.endswith("batch/$") for route in routes)


@pytest.mark.parametrize("route", sorted(_append_routes()))
def test_an_array_answered_minimally_says_where_its_entries_were_stored(route, api):
    url, body = _url_and_body(route, api)
    response = api.post(url, [body(i) for i in range(1, 4)], format="json", **MINIMAL)
    assert response.status_code == 201, response.content[:500]
    assert response["Preference-Applied"] == "return=minimal"
    answer = response.json()
    assert set(answer) == {"appended", "first_seq", "last_seq", "entry_hash"}
    assert answer["appended"] == 3 and answer["last_seq"] - answer["first_seq"] == 2
    _, entries = _stored(answer["first_seq"], answer["last_seq"], answer["entry_hash"])
    assert [entry.seq for entry in entries] == list(range(answer["first_seq"], answer["last_seq"] + 1))
    # A chain of the three, in the order sent, ending at the head the answer names.
    assert [entry.prev_entry_hash for entry in entries[1:]] == [entry.entry_hash for entry in entries[:-1]]


@pytest.mark.parametrize("route", sorted(route for route in _append_routes() if "batch/" not in route))
def test_one_entry_answered_minimally_names_its_seq_and_hash(route, api):
    url, body = _url_and_body(route, api)
    response = api.post(url, body(1), format="json", **MINIMAL)
    assert response.status_code == 201, response.content[:500]
    answer = response.json()
    assert answer["appended"] == 1 and answer["first_seq"] == answer["last_seq"]
    _, [entry] = _stored(answer["first_seq"], answer["last_seq"], answer["entry_hash"])
    # Without the preference, the same append answers the entry itself, with its ledger block.
    full = api.post(url, body(2), format="json")
    assert full.status_code == 201, full.content[:500]
    assert "Preference-Applied" not in full and full.json()["ledger"]["seq"] == entry.seq + 1


@pytest.mark.parametrize("route", sorted(route for route in _append_routes() if "batch/" in route))
def test_a_refused_array_answers_as_without_the_preference(route, api):
    url, body = _url_and_body(route, api)
    items = [body(1), {"not": "an entry"}]
    minimal = api.post(url, items, format="json", **MINIMAL)
    full = api.post(url, items, format="json")
    assert minimal.status_code == full.status_code == 400
    assert minimal.json() == full.json() and "Preference-Applied" not in minimal
    # Nothing was stored: the first item still appends.
    assert api.post(url, [body(1)], format="json", **MINIMAL).status_code == 201


@pytest.mark.parametrize(
    ("header", "minimal"),
    [
        ("return=minimal", True),
        ("RETURN=Minimal", True),
        ('return="minimal"', True),
        ("respond-async, return=minimal; foo=bar", True),
        ("return = minimal", True),
        ("return=representation", False),
        ("handling=lenient", False),
        ("return-minimal", False),
        ("", False),
    ],
)
def test_it_reads_the_prefer_header_as_rfc_7240_writes_it(header, minimal):
    request = RequestFactory().post("/", HTTP_PREFER=header) if header else RequestFactory().post("/")
    assert prefers_minimal(request) is minimal


def test_the_schema_documents_the_preference_on_every_append_operation():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    posts = {
        path: item["post"]
        for path, item in schema["paths"].items()
        if "post" in item and (path.endswith("/batch/") or path in ("/api/v1/enhances/", "/api/v1/logs/"))
    }
    assert len(posts) >= 8
    for path, operation in posts.items():
        headers = [p for p in operation.get("parameters", []) if p["in"] == "header" and p["name"] == "Prefer"]
        assert headers and "return=minimal" in headers[0]["description"], path
