"""API fuzz: whatever JSON arrives at any append endpoint, the answer is a 4xx with a detail, never a 500,
and a refused request stores nothing."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerproject.ledger.registry import ledger_models
from ledgerproject.ledger.tests.routes import all_routes, sample_path

pytestmark = pytest.mark.django_db

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", "applied", "rejected", "pass", "deny", "0" * 64, "x" * 300]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def _post_routes():
    routes = []
    for route, pattern in all_routes():
        actions = getattr(pattern.callback, "actions", None) or {}
        view_class = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
        posts = "post" in actions or (view_class is not None and hasattr(view_class, "post"))
        if route.startswith("api/v1/") and posts and "(?P<format>" not in route:
            routes.append(sample_path(route))
    return sorted(set(routes))


POST_ROUTES = _post_routes()


def _field_names():
    names = set()
    for model in ledger_models():
        names.update(f.name for f in model._meta.concrete_fields)
    return sorted(names | {"event", "type", "data", "metadata", "verdicts", "seq", "kind", "payload"})


def payloads():
    keyed = st.dictionaries(st.sampled_from(_field_names()), json_values, max_size=8)
    return st.one_of(keyed, st.lists(keyed, max_size=3), json_values)


def _ledger_sizes():
    return {m.ledger_name: m._base_manager.count() for m in ledger_models()}


def test_there_are_append_routes_to_fuzz():
    assert "/api/v1/notes/" in POST_ROUTES and len(POST_ROUTES) >= 2


@pytest.mark.parametrize("route", POST_ROUTES)
def test_no_json_body_makes_an_append_endpoint_fail_with_a_500(route, make_user, client_for):
    api = client_for(make_user(f"fuzz{abs(hash(route)) % 10**6}", superuser=True))

    @settings(max_examples=25, deadline=None)
    @given(body=payloads())
    def post(body):
        before = _ledger_sizes()
        response = api.post(route, body, format="json")
        assert response.status_code < 500, (route, body, response.content[:300])
        if response.status_code >= 400:
            assert response.json().get("detail"), (route, body, response.content[:300])
            assert _ledger_sizes() == before

    post()
