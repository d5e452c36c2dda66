"""An array's append runs with the cyclic garbage collector held off, and turns it back on whatever the answer."""

import gc

import pytest

from enhancelog.models import EnhanceEntry
from enhancelog.tests.conftest import entry_json
from ledgerproject.ledger.fast_batch import collector_paused

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
