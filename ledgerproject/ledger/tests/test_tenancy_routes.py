"""Every URL pattern, for every ledger, asked by a principal of another tenant: no byte of the first
tenant's entries, and the same answer as for something absent. A route without a sample fails."""

import re

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import Client, override_settings

from ledgerproject.ledger.registry import ledger_models, ledger_names
from ledgerproject.ledger.tests.routes import all_routes
from ledgerproject.ledger.tests.tenant_world import build_world

# Route text (as all_routes() spells it) → path with ids filled from an Ids (red's, or absent ones).
# "{ledger}" routes are walked once per registered ledger.
SAMPLES = {
    "api/v1/^notes/$": lambda i: "/api/v1/notes/",
    "api/v1/^notes/batch/$": lambda i: "/api/v1/notes/batch/",
    "api/v1/^notes/(?P<key>[^/]+)/$": lambda i: f"/api/v1/notes/{i.note}/",
    "api/v1/": lambda i: "/api/v1/",
    "api/v1/ledgers/": lambda i: "/api/v1/ledgers/",
    "api/v1/search/": lambda i: f"/api/v1/search/?q={i.issue}",
    "api/v1/ledgers/public-key/": lambda i: "/api/v1/ledgers/public-key/",
    "api/v1/ledgers/<str:ledger>/checkpoint/": lambda i, ledger: f"/api/v1/ledgers/{ledger}/checkpoint/",
    "api/v1/ledgers/<str:ledger>/proofs/inclusion/": lambda i, ledger: (
        f"/api/v1/ledgers/{ledger}/proofs/inclusion/?seq={i.seq.get(ledger, 1)}"
    ),
    "api/v1/ledgers/<str:ledger>/proofs/consistency/": lambda i, ledger: (
        f"/api/v1/ledgers/{ledger}/proofs/consistency/?first=1"
    ),
    "api/v1/ledgers/<str:ledger>/export/": lambda i, ledger: f"/api/v1/ledgers/{ledger}/export/",
    "api/v1/ledgers/<str:ledger>/verify/": lambda i, ledger: f"/api/v1/ledgers/{ledger}/verify/",
    "api/v1/enhances/<str:issue_id>/reviews/": lambda i: f"/api/v1/enhances/{i.issue}/reviews/",
    "api/v1/blueprints/<str:blueprint_id>/trace/": lambda i: f"/api/v1/blueprints/{i.blueprint}/trace/",
    "api/v1/^enhances/$": lambda i: "/api/v1/enhances/",
    "api/v1/^enhances/batch/$": lambda i: "/api/v1/enhances/batch/",
    "api/v1/^enhances/(?P<issue_id>[^/]+)/$": lambda i: f"/api/v1/enhances/{i.issue}/",
    "api/v1/^events/$": lambda i: f"/api/v1/events/?tenant_id={i.tenant}",
    "api/v1/^events/batch/$": lambda i: "/api/v1/events/batch/",
    "api/v1/^events/(?P<event_id>[^/]+)/$": lambda i: f"/api/v1/events/{i.event}/",
    "api/v1/^artifacts/$": lambda i: f"/api/v1/artifacts/?artifact_id={i.artifact}",
    "api/v1/artifacts/<str:artifact_id>/transitions/": lambda i: f"/api/v1/artifacts/{i.artifact}/transitions/",
    "api/v1/trace-links/<str:trace_link_id>/": lambda i: f"/api/v1/trace-links/{i.trace}/",
    "api/v1/^blobs/$": lambda i: "/api/v1/blobs/",
    "api/v1/^blobs/(?P<digest>[^/]+)/$": lambda i: f"/api/v1/blobs/{i.digest}/",
    "api/v1/^runs/$": lambda i: f"/api/v1/runs/?spec_digest={i.digest}",
    "api/v1/^runs/batch/$": lambda i: "/api/v1/runs/batch/",
    "api/v1/^runs/(?P<run_id>[^/]+)/$": lambda i: f"/api/v1/runs/{i.run_id}/",
    "api/v1/^runs/(?P<run_id>[^/]+)/cancel/$": lambda i: f"/api/v1/runs/{i.run_id}/cancel/",
    "api/v1/^runs/(?P<run_id>[^/]+)/complete/$": lambda i: f"/api/v1/runs/{i.run_id}/complete/",
    "api/v1/^runs/(?P<run_id>[^/]+)/fail/$": lambda i: f"/api/v1/runs/{i.run_id}/fail/",
    "api/v1/^runs/(?P<run_id>[0-9a-fA-F-]{32,36})/events/$": lambda i: f"/api/v1/runs/{i.run_id}/events/",
    "api/v1/^runs/(?P<run_id>[0-9a-fA-F-]{32,36})/events/batch/$": lambda i: f"/api/v1/runs/{i.run_id}/events/batch/",
    "api/v1/^runs/(?P<run_id>[0-9a-fA-F-]{32,36})/events/(?P<seq>[0-9]+)/$": lambda i: (
        f"/api/v1/runs/{i.run_id}/events/1/"
    ),
    "api/v1/^outputs/$": lambda i: f"/api/v1/outputs/?task_id={i.task}",
    "api/v1/^outputs/batch/$": lambda i: "/api/v1/outputs/batch/",
    "api/v1/^outputs/latest/$": lambda i: f"/api/v1/outputs/latest/?producer_agent={i.prefix}-producer",
    "api/v1/^outputs/(?P<id>[^/]+)/$": lambda i: f"/api/v1/outputs/{i.output_id}/",
    # Probes open to anyone: they name no tenant's data.
    "healthz": lambda i: "/healthz",
    "readyz": lambda i: "/readyz",
    "metrics": lambda i: "/metrics",
    "api/v1/^releases/$": lambda i: f"/api/v1/releases/?name={i.release}",
    "api/v1/^releases/(?P<name>[^/]+)/$": lambda i: f"/api/v1/releases/{i.release}/",
    "api/v1/^releases/(?P<name>[^/]+)/history/$": lambda i: f"/api/v1/releases/{i.release}/history/",
    "api/v1/^releases/(?P<name>[^/]+)/promote/$": lambda i: f"/api/v1/releases/{i.release}/promote/",
    "api/v1/^releases/(?P<name>[^/]+)/rollback/$": lambda i: f"/api/v1/releases/{i.release}/rollback/",
    "api/v1/logs/": lambda i: f"/api/v1/logs/?node_id={i.node_id}",
    "api/v1/logs/batch/": lambda i: "/api/v1/logs/batch/",
    "api/v1/logs/appender/": lambda i: "/api/v1/logs/appender/",
    "api/v1/logs/<str:node_id>/<str:seq>/": lambda i: f"/api/v1/logs/{i.node_id}/1/",
    "api/schema/": lambda i: "/api/schema/",
    "api/docs/": lambda i: "/api/docs/",
    "accounts/login/": lambda i: "/accounts/login/",
    "accounts/logout/": lambda i: "/accounts/logout/",
    "": lambda i: "/",
    "search/": lambda i: f"/search/?q={i.issue}",
    "ledgers/": lambda i: "/ledgers/",
    "trail/": lambda i: f"/trail/?id={i.corr}",
    "ledgers/<str:ledger>/verify/": lambda i, ledger: f"/ledgers/{ledger}/verify/",
    "ledgers/<str:ledger>/entries/<int:seq>/": lambda i, ledger: f"/ledgers/{ledger}/entries/{i.seq.get(ledger, 1)}/",
    "ledgers/<str:ledger>/checkpoint/": lambda i, ledger: f"/ledgers/{ledger}/checkpoint/",
    "enhances/": lambda i: "/enhances/",
    "enhances/entries/": lambda i: f"/enhances/entries/?blueprint_id={i.blueprint}",
    "enhances/entries/<str:issue_id>/": lambda i: f"/enhances/entries/{i.issue}/",
    "enhances/entries/<str:issue_id>/review/": lambda i: f"/enhances/entries/{i.issue}/review/",
    "enhances/blueprints/<str:blueprint_id>/": lambda i: f"/enhances/blueprints/{i.blueprint}/",
    "events/": lambda i: f"/events/?tenant_id={i.tenant}",
    "events/chains/<str:chain_id>/": lambda i: f"/events/chains/{i.chain}/",
    "events/correlations/<str:correlation_id>/": lambda i: f"/events/correlations/{i.corr}/",
    "events/<str:event_id>/": lambda i: f"/events/{i.event}/",
    "artifacts/": lambda i: f"/artifacts/?artifact_id={i.artifact}",
    "artifacts/<str:artifact_id>/": lambda i: f"/artifacts/{i.artifact}/",
    "trace-links/<str:trace_link_id>/": lambda i: f"/trace-links/{i.trace}/",
    "runs/": lambda i: f"/runs/?spec_digest={i.digest}",
    "runs/tasks/": lambda i: f"/runs/tasks/?task_id={i.task}",
    "runs/tasks/<path:task_id>/<int:attempt>/": lambda i: f"/runs/tasks/{i.task}/1/",
    "runs/blobs/<str:digest>/": lambda i: f"/runs/blobs/{i.digest}/",
    "runs/<uuid:run_id>/": lambda i: f"/runs/{i.run_id}/",
    "releases/": lambda i: f"/releases/?q={i.release}",
    "releases/<str:name>/": lambda i: f"/releases/{i.release}/",
    "logs/": lambda i: f"/logs/?node={i.node_id}",
}
# Entries are addressed by seq here: there is no "absent" id of the same shape, so these are held
# to "404 and no byte" rather than compared with an absent one.
BY_SEQ = {"ledgers/<str:ledger>/entries/<int:seq>/", "api/v1/ledgers/<str:ledger>/proofs/inclusion/"}
ADMIN_ROUTE = re.compile(r"^admin/(?P<app>\w+)/(?P<model>\w+)/(?P<rest>.*)$")
ADMIN_FIXED = {
    "admin/": "/admin/",
    "admin/login/": "/admin/login/",
    "admin/logout/": "/admin/logout/",
    "admin/password_change/": "/admin/password_change/",
    "admin/password_change/done/": "/admin/password_change/done/",
    "admin/autocomplete/": "/admin/autocomplete/",
    "admin/jsi18n/": "/admin/jsi18n/",
    "admin/r/<path:content_type_id>/<path:object_id>/": "/admin/r/1/1/",
    "admin/(?P<url>.*)$": "/admin/nothing-here/",
}


def _admin_models():
    return {(m._meta.app_label, m._meta.model_name): m for m in admin.site._registry}


def _admin_sample(route, ids):
    """Admin pages of every registered model: a ledger's entry by red's seq (absent: a seq nobody has)."""
    if route in ADMIN_FIXED:
        return ADMIN_FIXED[route]
    if route.startswith("admin/^("):  # the app index
        return "/admin/enhancelog/"
    match = ADMIN_ROUTE.match(route)
    model = _admin_models().get((match["app"], match["model"])) if match else None
    if model is None:
        return None
    name = getattr(model, "ledger_name", None)
    if name is None:
        # Not a ledger (users, groups, tokens, bindings): no tenant's entry to address; the same
        # object for "theirs" and "absent", held to "no byte of the other tenant".
        object_id = "1"
    else:
        object_id = str(ids.seq[name] if ids.prefix != "nxq" else 999999)
    rest = match["rest"].replace("<path:object_id>", object_id)
    return f"/admin/{match['app']}/{match['model']}/{rest}"


def walk():
    """(route, ledger or None) for every URL pattern; "<str:ledger>" routes once per ledger."""
    for route, _pattern in all_routes():
        if "<str:ledger>" in route:
            for name in ledger_names():
                yield route, name
        else:
            yield route, None


def sample(route, ledger, ids):
    if route.startswith("admin/"):
        return _admin_sample(route, ids)
    make = SAMPLES.get(route)
    if make is None:
        return None
    return make(ids, ledger) if ledger is not None else make(ids)


# The CSRF token in a page's forms (the nav's log-out form) is masked afresh on every response.
CSRF_VALUE = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*(")')


def _body(response):
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return CSRF_VALUE.sub(r"\1…\2", response.content.decode("utf-8", "replace"))


def _fetch(client, path, fmt=None):
    if fmt:
        path = f"{path}{'&' if '?' in path else '?'}format={fmt}"
    response = client.get(path)
    return response.status_code, _body(response), response.get("Location", "")


def _leaks(body, path, secrets):
    """Red's strings in the body that the caller did not itself send in the URL.

    A short secret (the bare three-letter prefix) counts only as a word of its own: inside a run of
    letters and digits it is chance, not a leak (a checkpoint's base64 signature and root hash, which
    change with every world, spell any three letters now and then)."""
    for sent in re.split(r"[/?&=]", path):
        if len(sent) > 3:
            body = body.replace(sent, "")
    return [secret for secret in secrets if secret and _shows(body, secret)]


def _shows(body, secret):
    if len(secret) > 4:
        return secret in body
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", body) is not None


@pytest.fixture(scope="module")
def built_world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Built once for the module (a few hundred routes), inside a transaction rolled back after."""
    media = tmp_path_factory.mktemp("media")
    with override_settings(MEDIA_ROOT=str(media)), django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


@pytest.fixture
def world(built_world, db):
    red, mine, absent, blue = built_world
    client = Client()
    client.force_login(blue)
    return red, mine, absent, client


ROUTES = sorted(set(walk()), key=lambda item: (item[0], item[1] or ""))


def test_every_route_has_a_sample_so_a_new_route_cannot_skip_the_walk():
    # Built without the database: ids that only shape the paths.
    from ledgerproject.ledger.tests.tenant_world import Ids

    ids = Ids("rdx", "tnt-rdx", run_id="00000000-0000-0000-0000-000000000001", digest="0" * 64, output_id="o")
    ids.seq = {name: 1 for name in ledger_names()}
    missing = [route for route, ledger in ROUTES if sample(route, ledger, ids) is None]
    assert not missing, f"routes with no tenancy sample (add one to SAMPLES): {missing}"


def test_every_registered_ledger_is_in_the_world(world):
    red, mine, _, _ = world
    assert set(red.seq) == set(mine.seq) == set(ledger_names())
    assert {m.ledger_name for m in ledger_models()} <= set(red.seq)


@pytest.mark.parametrize(("route", "ledger"), ROUTES, ids=[f"{r} {ledger or ''}".strip() for r, ledger in ROUTES])
def test_another_tenants_principal_gets_no_byte_and_the_absent_answer(world, route, ledger):
    red, _mine, absent, client = world
    theirs, nothing = sample(route, ledger, red), sample(route, ledger, absent)
    assert theirs is not None, f"no tenancy sample for {route}"
    formats = [None, "jsonl", "csv"] if theirs.startswith("/api/v1/") else [None]
    for fmt in formats:
        status, body, location = _fetch(client, theirs, fmt)
        leaks = _leaks(body, theirs, red.secrets)
        assert not leaks, f"{theirs} (format={fmt}) shows another tenant's {leaks}"
        assert status != 500
        if route in BY_SEQ:
            assert status in (403, 404), f"{theirs}: {status} for another tenant's entry"
            continue
        other_status, other_body, other_location = _fetch(client, nothing, fmt)
        assert status == other_status, f"{theirs}: {status}, but {other_status} for absent {nothing}"
        if status in (302, 303):
            assert location.replace(theirs, nothing) == other_location
        if status in (400, 404):
            for red_part, absent_part in zip(re.split(r"[/?&=]", theirs), re.split(r"[/?&=]", nothing), strict=True):
                body = body.replace(red_part, absent_part) if len(red_part) > 3 else body
            assert body == other_body, f"{theirs} and absent {nothing} answer differently"


def test_the_walk_sees_a_tenants_own_strings(world):
    """The check can fail: a principal of the red tenant does get red's strings on these routes."""
    red, _mine, _absent, _client = world
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username="rdx-writer"))
    for path in ("/api/v1/enhances/", "/api/v1/runs/", "/admin/experience/experienceevent/", "/logs/"):
        status, body, _ = _fetch(client, path)
        assert status == 200 and _leaks(body, path, red.secrets), path


# Writes that name an existing entry in the URL: into another tenant's entry they must be refused
# exactly as for an absent one (and append nothing).
SUMMARY = {"total_events": 1, "final_state_digest": None, "duration_ms": 1, "success": True}
POSTS = [
    ("run complete", lambda i: f"/api/v1/runs/{i.run_id}/complete/", SUMMARY),
    ("run fail", lambda i: f"/api/v1/runs/{i.run_id}/fail/", {**SUMMARY, "success": False}),
    ("run cancel", lambda i: f"/api/v1/runs/{i.run_id}/cancel/", {**SUMMARY, "success": False}),
    ("run events", lambda i: f"/api/v1/runs/{i.run_id}/events/", {"kind": "step", "payload": {}}),
    ("run events batch", lambda i: f"/api/v1/runs/{i.run_id}/events/batch/", [{"kind": "step", "payload": {}}]),
    ("enhance reviews", lambda i: f"/api/v1/enhances/{i.issue}/reviews/", {"decision": "acknowledged"}),
    ("release rollback", lambda i: f"/api/v1/releases/{i.release}/rollback/", {}),
    ("review page", lambda i: f"/enhances/entries/{i.issue}/review/", None),
]


@pytest.mark.parametrize(("name", "make", "body"), POSTS, ids=[name for name, _, _ in POSTS])
def test_writing_into_another_tenants_entry_is_answered_as_for_an_absent_one(world, name, make, body):
    red, _mine, absent, client = world
    sizes = {model: model._base_manager.count() for model in ledger_models()}
    theirs, nothing = make(red), make(absent)

    def post(path):
        if body is None:
            response = client.post(path, {"decision": "acknowledged", "comment": ""})
        else:
            response = client.post(path, body, content_type="application/json")
        return response.status_code, _body(response)

    status, text = post(theirs)
    other_status, other_text = post(nothing)
    assert status == other_status and status in (400, 404), (status, other_status)
    for red_part, absent_part in zip(re.split(r"[/?&=]", theirs), re.split(r"[/?&=]", nothing), strict=True):
        text = text.replace(red_part, absent_part) if len(red_part) > 3 else text
    assert text == other_text
    assert not _leaks(text, nothing, red.secrets)
    assert {model: model._base_manager.count() for model in ledger_models()} == sizes
