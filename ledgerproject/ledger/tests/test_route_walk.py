"""Every URL pattern, tried anonymously and by signed-in principals with no role, over real data in every ledger."""

import re
from urllib.parse import quote

import pytest
from django.db import transaction
from django.test import Client, override_settings
from django.urls import path

from ledgerproject.ledger import checkpoints
from ledgerproject.ledger.access import PUBLIC, declaration_of, iter_routes
from ledgerproject.ledger.management.commands.load_demo import demo_modules
from ledgerproject.ledger.registry import ledger_models

pytestmark = pytest.mark.django_db

METHODS = ("get", "head", "options", "post", "delete")
HEX_RUN = re.compile(r"[0-9a-f]{16,}")
# Formats a list streams in: an export must be refused like the list itself.
STREAM_SUFFIXES = ("", "?format=jsonl", "?format=csv")
LEDGER_NAMES = [model.ledger_name for model in ledger_models()]


@pytest.fixture(scope="module")
def stored_world(django_db_setup, django_db_blocker, tmp_path_factory):
    """`stored`'s data, built once per module inside a transaction rolled back after it (each test
    still rolls back its own writes, to a savepoint inside that transaction)."""
    media = tmp_path_factory.mktemp("media")
    with override_settings(MEDIA_ROOT=str(media)), django_db_blocker.unblock(), transaction.atomic():
        yield store_world()
        transaction.set_rollback(True)


@pytest.fixture
def stored(stored_world, db):
    """Every ledger holds real entries (the apps' demo sets and a few test notes), each signed by a
    checkpoint; returns the markers of stored data (hash prefixes and ids) and route argument values.
    A module that imports this fixture imports `stored_world` with it."""
    return stored_world


def store_world():
    """The body of `stored`, for a fixture that builds the world once for several tests."""
    from enhancelog.models import EnhanceEntry
    from experience.models import ExperienceEvent
    from logchain.models import LogRecord
    from releases.models import Release
    from runs.models import Blob, Output, Run
    from tests.ledger_testapp.models import Note

    for _app, module in demo_modules():
        module.load(seed=20261121)
    for key in ("note-walk-1", "note-walk-2"):
        Note.objects.append(recorded_by="walker", key=key, topic="walk", body={"secret": key})
    hashes, ids = set(), set()
    for model in ledger_models():
        assert model._base_manager.exists(), f"{model.ledger_name} holds no entries for the walk"
        checkpoints.make_checkpoint(model)
        hashes.update(h[:16] for h in model._base_manager.values_list("entry_hash", flat=True))
        for name in model.natural_key_fields:
            values = model._base_manager.values_list(name, flat=True)
            ids.update(str(v) for v in values if isinstance(v, str) and len(v) >= 6)
    rejected = EnhanceEntry.objects.filter(status=EnhanceEntry.REJECTED).first()
    event = lambda **kw: ExperienceEvent.objects.filter(**kw).exclude(**{list(kw)[0].split("__")[0]: ""}).first()  # noqa: E731
    output = Output.objects.first()
    record = LogRecord.objects.order_by("seq").first()
    values = {
        "ledger": "enhancelog",
        "seq": "1",
        "issue_id": rejected.issue_id,
        "blueprint_id": rejected.blueprint_id,
        "event_id": ExperienceEvent.objects.first().event_id,
        "chain_id": event(chain_id__isnull=False).chain_id,
        "correlation_id": event(correlation_id__isnull=False).correlation_id,
        "artifact_id": event(artifact_id__isnull=False).artifact_id,
        "trace_link_id": event(trace_link_id__isnull=False).trace_link_id,
        "run_id": str(Run.objects.first().run_id),
        "task_id": output.task_id,
        "attempt": str(output.attempt),
        "id": output.output_id,
        "digest": Blob.objects.first().digest,
        "name": Release.objects.first().name,
        "node_id": str(record.node_id),
        "key": "note-walk-1",
    }
    return {"hashes": hashes, "ids": ids, "values": values}


def real_path(route, values):
    """A URL for the route with each argument a stored value (so an unguarded view would answer with data)."""

    def value(name, fallback):
        return quote(values[name], safe="") if name in values else fallback

    text = route.replace("^", "").replace("$", "")
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: value(m.group(1), "x"), text)
    text = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: value(m.group(1), "x"), text)
    return "/" + text


def leaked(response, url, stored):
    """Stored data in a response body: hash prefixes, or ids that the request did not itself name."""
    if response.streaming:
        body = b"".join(response.streaming_content).decode("utf-8", "replace")
    else:
        body = response.content.decode("utf-8", "replace")
    found = {run[:16] for run in HEX_RUN.findall(body)} & stored["hashes"]
    found |= {i for i in stored["ids"] if i in body and i not in url and quote(i, safe="") not in url}
    return sorted(found)[:3]


def walk(client, stored, expect, only=None):
    """Try every route (or the routes named in `only`) with every method; `expect(kind, route, method,
    response)` names a problem or None."""
    problems = []
    for route, pattern, in_admin in iter_routes():
        if only is not None and route not in only:
            continue
        declared = declaration_of(pattern.callback)
        if not in_admin and declared is None:
            problems.append(f"{route}: declares no permission")
            continue
        if declared == PUBLIC:
            continue
        kind = "admin" if in_admin else "api" if route.startswith("api/") else "page"
        base = real_path(route, stored["values"])
        tries = [(method, base) for method in METHODS]
        if kind == "api":
            tries += [("get", base + suffix) for suffix in STREAM_SUFFIXES[1:]]
        if "<str:ledger>" in route:  # a kernel route: every ledger's, not only the one in `values`
            for name in LEDGER_NAMES:
                tries.append(("get", real_path(route, {**stored["values"], "ledger": name})))
        for method, url in tries:
            response = getattr(client, method)(url)
            problem = expect(kind, route, method, response)
            if problem and kind == "api" and "format=" in url and response.status_code == 404:
                problem = None  # DRF refuses a format the route does not render before anything else
            if problem is None and (data := leaked(response, url, stored)):
                problem = f"answered with stored data {data}"
            if problem:
                problems.append(f"{method.upper()} {url} → {response.status_code}: {problem}")
    return problems


def _anonymous_expectation(kind, route, method, response):
    status = response.status_code
    if kind == "api":
        return None if status in (401, 403) else "an anonymous API call must be 401/403"
    login = "/admin/login/" if kind == "admin" else "/accounts/login/"
    if kind == "admin" and route == "admin/login/":
        return None  # the admin's own sign-in form (no data: checked by the caller)
    if status == 302 and response["Location"].startswith(login):
        return None
    if kind == "admin" and status == 302 and response["Location"] == "/admin/":
        return None  # the admin's logout sends a visitor to its index, which asks for the sign-in
    return f"an anonymous {kind} request must be redirected to {login}"


def _no_role_expectation(kind, route, method, response):
    status = response.status_code
    if kind == "api":
        # 405: a method the route does not take at all (checked after the role on every handled method).
        return None if status in (403, 405) else "a principal with no role must get 403"
    if kind == "admin":
        if status == 302 and response["Location"].startswith("/admin/login/"):
            return None  # not staff: the admin sends it to its own sign-in
        return None if status != 200 or route == "admin/login/" else "the admin must not serve a non-staff account"
    return None if status == 403 else "a principal with no role must get 403 for every page"


def _staff_no_role_expectation(kind, route, method, response):
    if kind != "admin":
        return _no_role_expectation(kind, route, method, response)
    # A staff account with no permission may see the admin's index (empty); never a ledger's rows.
    return None if response.status_code < 500 else "server error"


def test_the_walk_sees_stored_data_where_a_role_allows_it(stored, make_user, client_for):
    """The markers are meaningful: a reader's pages and API answers do contain them."""
    reader = Client()
    reader.force_login(make_user("walk-reader", roles=["reader"]))
    api = client_for(make_user("walk-reader-api", roles=["reader"]))
    for client, url in [
        (reader, "/events/"),
        (reader, "/enhances/entries/"),
        (api, "/api/v1/logs/"),
        (api, "/api/v1/enhances/?format=jsonl"),
        (api, f"/api/v1/releases/{stored['values']['name']}/"),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert leaked(response, url, stored), f"{url} showed none of the stored markers"


def test_anonymous_callers_get_no_route_but_the_public_ones(stored):
    problems = walk(Client(), stored, _anonymous_expectation)
    assert not problems, "\n".join(problems)


def test_a_signed_in_account_with_no_role_gets_403_from_every_page_and_api_route(stored, make_user, client_for):
    nobody = make_user("walk-nobody")
    pages = Client()
    pages.force_login(nobody)
    api = client_for(nobody)

    class Both:
        """Pages and the admin through the session; the API through a token (no CSRF in the way)."""

        def __getattr__(self, method):
            def call(url):
                return getattr(api if url.startswith("/api/") else pages, method)(url)

            return call

    problems = walk(Both(), stored, _no_role_expectation)
    assert not problems, "\n".join(problems)


def test_a_staff_account_with_no_role_sees_no_ledger_data_in_the_admin(stored, make_user):
    staff = make_user("walk-staff")
    staff.is_staff = True
    staff.save()
    client = Client()
    client.force_login(staff)
    problems = [p for p in walk(client, stored, _staff_no_role_expectation) if "/admin/" in p]
    assert not problems, "\n".join(problems)


def _loose_page(request):
    from django.http import HttpResponse

    from enhancelog.models import EnhanceEntry

    return HttpResponse(" ".join(EnhanceEntry.objects.values_list("entry_hash", flat=True)[:5]))


def _walk_with_extra_route(stored, view):
    """The anonymous walk over the added route alone (the whole walk runs in
    test_anonymous_callers_get_no_route_but_the_public_ones): what it reports for that route."""
    import sys
    import types

    from ledgerproject.urls import urlpatterns

    module = types.ModuleType("walk_extra_urls")
    module.urlpatterns = [path("loose/", view), *urlpatterns]
    sys.modules[module.__name__] = module
    try:
        with override_settings(ROOT_URLCONF=module.__name__):
            return walk(Client(), stored, _anonymous_expectation, only={"loose/"})
    finally:
        del sys.modules[module.__name__]


def test_the_walk_fails_for_a_route_added_without_a_declaration(stored):
    assert _walk_with_extra_route(stored, _loose_page) == ["loose/: declares no permission"]


def test_the_walk_fails_for_a_route_that_declares_a_permission_but_does_not_enforce_it(stored):
    def claims_but_leaks(request):
        return _loose_page(request)

    claims_but_leaks.ledger_permissions = ("enhancelog.view_enhanceentry",)
    problems = _walk_with_extra_route(stored, claims_but_leaks)
    assert problems == [
        f"{method.upper()} /loose/ → 200: an anonymous page request must be redirected to /accounts/login/"
        for method in METHODS
    ]
