"""An array's append runs with the cyclic garbage collector held off, turns it back on whatever the answer, and leaves it nothing."""

import gc
import weakref

import pytest

from enhancelog.models import EnhanceEntry
from enhancelog.tests.conftest import entry_json
from ledgerproject.ledger.memory import collector_paused

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(make_user, client_for):
    return client_for(make_user("root", superuser=True))


@pytest.fixture
def collector_seen(monkeypatch):
    """gc.isenabled() as each entry's validate_append saw it."""
    seen = []
    real = EnhanceEntry.validate_append

    def spy(entry):
        seen.append(gc.isenabled())
        return real(entry)

    monkeypatch.setattr(EnhanceEntry, "validate_append", spy)
    return seen


def test_it_holds_the_collector_off_while_an_array_is_appended(api, collector_seen):
    assert gc.isenabled()
    response = api.post("/api/v1/enhances/", [entry_json("a1"), entry_json("a2"), entry_json("a3")], format="json")
    assert response.status_code == 201, response.content
    assert collector_seen == [False, False, False]
    assert gc.isenabled()


def test_it_leaves_the_collector_on_for_a_single_append(api, collector_seen):
    response = api.post("/api/v1/enhances/", entry_json("one"), format="json")
    assert response.status_code == 201, response.content
    assert collector_seen == [True]


def test_it_turns_the_collector_back_on_after_a_refused_array(api, collector_seen):
    assert api.post("/api/v1/enhances/", [entry_json("k1"), entry_json("k2")], format="json").status_code == 201
    refused = api.post("/api/v1/enhances/", [entry_json("n1"), entry_json("n2", status="maybe")], format="json")
    assert refused.status_code == 400
    assert gc.isenabled()
    conflict = api.post("/api/v1/enhances/", [entry_json("n1"), entry_json("k1")], format="json")
    assert conflict.status_code == 409
    assert gc.isenabled()


def test_it_leaves_a_collector_turned_off_elsewhere_off():
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


# --- what an answered array leaves to the collector ----------------------------------------------


def _batch_routes():
    from ledgerproject.ledger.tests.routes import all_routes

    for route, pattern in all_routes():
        if (getattr(pattern.callback, "actions", None) or {}).get("post") == "batch":
            yield route


def _single_route_of(batch_route):
    return batch_route.replace("batch/$", "$").replace("logs/batch/", "logs/")


def test_every_batch_route_is_held_to_its_garbage():
    from ledgerproject.ledger.tests.test_perf_append import SINGLE_APPEND_ROUTES

    missing = [route for route in _batch_routes() if _single_route_of(route) not in SINGLE_APPEND_ROUTES]
    assert missing == [], "a batch route without items to send (test_perf_append.SINGLE_APPEND_ROUTES)"


def _array_route(route, array_to, make_user, client_for):
    """(a superuser's client, the URL an array goes to, body(i)) for a batch route, the array sent to the list or to
    `batch/`."""
    from ledgerproject.ledger.tests.test_perf_append import SINGLE_APPEND_ROUTES, _new_run

    api = client_for(make_user("root", superuser=True))
    api.budget_run = _new_run(api)
    url_for, body = SINGLE_APPEND_ROUTES[_single_route_of(route)]
    return api, url_for(api, 0) + ("batch/" if array_to == "batch/" else ""), body


@pytest.fixture
def appended_entries(monkeypatch):
    """Weak references to every entry the kernel's append path returns."""
    from ledgerproject.ledger.models import LedgerQuerySet

    refs = []
    real = LedgerQuerySet.append_many

    def spy(self, *args, **kwargs):
        entries = real(self, *args, **kwargs)
        refs.extend(weakref.ref(entry) for entry in entries)
        return entries

    monkeypatch.setattr(LedgerQuerySet, "append_many", spy)
    return refs


@pytest.mark.parametrize("answer", ["entries", "minimal"])
@pytest.mark.parametrize("array_to", ["the list", "batch/"])
@pytest.mark.parametrize("route", sorted(_batch_routes()))
def test_an_answered_array_is_freed_without_the_collector(
    route, array_to, answer, make_user, client_for, appended_entries
):
    # The body, the entries and the answer are freed by reference counting as the request ends (ledger/memory.py):
    # DRF's cycles (view and response, request and parser context, list serializer and child) keep none of them.
    api, url, body = _array_route(route, array_to, make_user, client_for)
    appended_entries.clear()
    gc.collect()
    gc.disable()
    try:
        prefer = {"HTTP_PREFER": "return=minimal"} if answer == "minimal" else {}
        response = api.post(url, [body(i) for i in range(50)], format="json", **prefer)
        assert response.status_code == 201, response.content[:500]
        assert ("Preference-Applied" in response) is (answer == "minimal")
        del response
        assert api.get("/api/v1/").status_code == 200  # a thread may keep its last request until its next one
        alive = sum(ref() is not None for ref in appended_entries)
    finally:
        gc.enable()
    assert len(appended_entries) == 50
    assert alive == 0, f"{route}: {alive} of the 50 appended entries are left for the cycle collector"


class PassesBeforeRelease(list):
    """The generations of the collector passes that started between the kernel's append returning entries and the
    release of an answer (memory.release_answered_data), counted from watch()."""

    def watch(self, appended_entries):
        self.clear()
        appended_entries.clear()
        self.released = False


@pytest.fixture
def passes_before_release(monkeypatch, appended_entries):
    """PassesBeforeRelease, with a threshold that makes any allocation set off a pass while the collector is on."""
    from ledgerproject.ledger import memory

    passes = PassesBeforeRelease()
    passes.watch(appended_entries)
    real = memory.release_answered_data

    def released(response):
        done = real(response)
        passes.released = True
        return done

    def on_pass(phase, info):
        if phase == "start" and appended_entries and not passes.released:
            passes.append(info["generation"])

    monkeypatch.setattr(memory, "release_answered_data", released)
    thresholds = gc.get_threshold()
    gc.set_threshold(1)
    gc.callbacks.append(on_pass)
    try:
        yield passes
    finally:
        gc.callbacks.remove(on_pass)
        gc.set_threshold(*thresholds)


@pytest.mark.parametrize("array_to", ["the list", "batch/"])
@pytest.mark.parametrize("route", sorted(_batch_routes()))
def test_the_collector_resumes_only_once_an_arrays_answer_is_released(
    route, array_to, make_user, client_for, appended_entries, passes_before_release
):
    # Allocations count while the collector is off, so the first one after it is back on sets off a pass. Turned back
    # on while the answer still held the batch, that pass walked every entry and row the request built.
    api, url, body = _array_route(route, array_to, make_user, client_for)
    passes_before_release.watch(appended_entries)
    response = api.post(url, [body(i) for i in range(20)], format="json")
    assert response.status_code == 201, response.content[:500]
    assert gc.isenabled()
    assert passes_before_release == [], f"{route}: collector passes while the answer held the batch"


def test_without_the_middleware_the_collector_resumes_as_the_block_ends():
    from django.test import RequestFactory

    request = RequestFactory().post("/")
    with collector_paused(request):
        assert not gc.isenabled()
    assert gc.isenabled()


def test_it_parses_an_array_with_the_collector_held_off(api, monkeypatch):
    from ledgerproject.ledger.parsers import LedgerJSONParser

    seen = []
    real = LedgerJSONParser.parse

    def spy(self, *args, **kwargs):
        seen.append(gc.isenabled())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(LedgerJSONParser, "parse", spy)
    for index, url in enumerate(("/api/v1/enhances/", "/api/v1/enhances/batch/")):
        response = api.post(url, [entry_json(f"parsed-{index}")], format="json")
        assert response.status_code == 201, response.content
    assert seen == [False, False]
    assert gc.isenabled()


def test_a_rendered_answer_lets_go_of_its_data_and_its_requests_body(api, monkeypatch):
    from rest_framework.response import Response

    from ledgerproject.ledger import memory

    released = []
    real = memory.release_answered_data

    def spy(response):
        context = getattr(response, "renderer_context", None) or {}
        request = context.get("request")
        done = real(response)
        released.append((done, response.data, request and request.__dict__.get("_full_data")))
        return done

    monkeypatch.setattr(memory, "release_answered_data", spy)
    response = api.post("/api/v1/enhances/", [entry_json("released")], format="json")
    assert response.status_code == 201, response.content
    assert response.json()[0]["issue_id"] == "released"  # the bytes the client reads are the answer
    assert released == [(True, None, None)]
    # Neither an answer still to be rendered nor a streamed one: their data is still to be read.
    unrendered = Response({"a": 1})
    assert memory.release_answered_data(unrendered) is False and unrendered.data == {"a": 1}


def _garbage_after(api, url, params):
    """Objects the cycle collector finds unreachable once GET url?params and the thread's next request are done."""
    gc.collect()
    gc.disable()
    try:
        response = api.get(url, params)
        assert response.status_code == 200, response.content[:500]
        del response
        assert api.get("/api/v1/").status_code == 200
        return gc.collect()
    finally:
        gc.enable()


@pytest.mark.parametrize("route", sorted(_batch_routes()))
def test_a_list_page_leaves_the_collector_nothing_that_grows_with_it(route, make_user, client_for):
    api, url, body = _array_route(route, "the list", make_user, client_for)
    assert api.post(url, [body(i) for i in range(60)], format="json").status_code == 201
    _garbage_after(api, url, {"page_size": 2})  # first use: caches, lookups
    small = _garbage_after(api, url, {"page_size": 2})
    large = _garbage_after(api, url, {"page_size": 50})
    assert large - small < 40, f"{route}: a page of 2 left {small} objects to the collector, a page of 50 {large}"
