"""GET and HEAD never write: no route stores a row when read (checkpoints are signed and checks recorded on POST).

A cross-site top-level link carries the session cookie on GET: if reading a URL signed a checkpoint
or recorded a check, anyone could make an auditor's browser write. Rows of every table are counted
before and after each GET/HEAD.
"""

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client

from ledgerproject.ledger.checkpoints import Checkpoint, MerkleTile
from ledgerproject.ledger.models import ChainCheck
from ledgerproject.ledger.registry import ledger_models
from ledgerproject.ledger.tests.conftest import insert_raw_row
from ledgerproject.ledger.tests.routes import all_routes, sample_path
from ledgerproject.ledger.tests.test_checkpoint_support import (
    append_notes,
    checkpoint_now,
    note_model,
    signing_key,  # noqa: F401  (fixture)
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("signing_key")]

LEDGER_ROUTES = [
    "/api/v1/ledgers/{ledger}/verify/",
    "/api/v1/ledgers/{ledger}/export/",
    "/api/v1/ledgers/{ledger}/export/?format=jsonl",
    "/api/v1/ledgers/{ledger}/checkpoint/",
    "/api/v1/ledgers/{ledger}/proofs/inclusion/?seq=1",
    "/api/v1/ledgers/{ledger}/proofs/consistency/?first=1",
    "/ledgers/{ledger}/verify/",
    "/ledgers/{ledger}/checkpoint/",
    "/ledgers/{ledger}/entries/1/",
    "/api/v1/ledgers/",
    "/",
]


def _counted_models():
    return [model for model in apps.get_models() if model._meta.managed and not model._meta.proxy]


def row_counts():
    return {model._meta.label: model._base_manager.count() for model in _counted_models()}


def row_counts_at_once():
    """row_counts() in one statement (one COUNT(*) subquery per table): the route sweep counts after
    each of a few hundred requests."""
    models = _counted_models()
    quote = connection.ops.quote_name
    counts = ", ".join(f"(SELECT COUNT(*) FROM {quote(model._meta.db_table)})" for model in models)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        row = cursor.fetchone()
    return {model._meta.label: count for model, count in zip(models, row, strict=True)}


def read(client, method, url):
    response = getattr(client, method)(url)
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)  # a stream runs its code only when consumed
    return response


@pytest.fixture
def root_api(make_user, client_for):
    api = client_for(make_user("root", superuser=True))
    api.raise_request_exception = False
    return api


@pytest.fixture
def root_browser(django_user_model):
    browser = Client(raise_request_exception=False)
    browser.force_login(django_user_model.objects.get(username="root"))
    return browser


@pytest.mark.parametrize("model", ledger_models(), ids=[m.ledger_name for m in ledger_models()])
@pytest.mark.parametrize("method", ["get", "head"])
def test_reading_a_ledger_writes_nothing(model, method, root_api, root_browser):
    insert_raw_row(model)
    insert_raw_row(model)
    checkpoint_now(model)
    insert_raw_row(model)  # grown past its checkpoint: a GET that signed would sign now
    before = row_counts()
    for template in LEDGER_ROUTES:
        url = template.format(ledger=model.ledger_name)
        client = root_api if url.startswith("/api/") else root_browser
        response = read(client, method, url)
        assert response.status_code < 500, (url, response.status_code)
        assert row_counts() == before, f"{method.upper()} {url} wrote rows"


def test_get_export_reads_the_latest_checkpoint_and_signs_nothing(auditor_api):
    Note = note_model()
    append_notes(3)
    checkpoint_now(Note)
    append_notes(2, start=3)
    response = auditor_api.get("/api/v1/ledgers/testnotes/export/")
    assert response.status_code == 200 and response["X-Ledger-Checkpoint-Size"] == "3"
    b"".join(response.streaming_content)
    assert list(Checkpoint.objects.values_list("tree_size", flat=True)) == [3]


def test_get_export_without_a_checkpoint_is_a_409_that_says_how_to_make_one(auditor_api):
    append_notes(2)
    response = auditor_api.get("/api/v1/ledgers/testnotes/export/")
    assert response.status_code == 409 and "POST" in response.json()["detail"]
    assert not Checkpoint.objects.exists() and not MerkleTile.objects.exists()


def test_post_export_signs_a_checkpoint_of_a_grown_ledger(auditor_api):
    Note = note_model()
    append_notes(3)
    checkpoint_now(Note)
    append_notes(2, start=3)
    response = auditor_api.post("/api/v1/ledgers/testnotes/export/")
    assert response.status_code == 200 and response["X-Ledger-Checkpoint-Size"] == "5"
    assert sorted(Checkpoint.objects.values_list("tree_size", flat=True)) == [3, 5]


def test_get_verify_records_nothing_and_post_records_the_check(auditor_api):
    append_notes(2)
    assert auditor_api.get("/api/v1/ledgers/testnotes/verify/").json()["recorded"] is False
    assert auditor_api.head("/api/v1/ledgers/testnotes/verify/").status_code == 200
    assert not ChainCheck.objects.exists()
    response = auditor_api.post("/api/v1/ledgers/testnotes/verify/")
    assert response.status_code == 200 and response.json()["recorded"] is True
    check = ChainCheck.objects.get()
    assert check.ok and check.checked == 2 and check.checked_by == "dave"


ALL_GET_ROUTES = sorted(
    {sample_path(route) for route, pattern in all_routes() if "logout" not in route and not route.startswith("static")}
)


@pytest.mark.parametrize("method", ["get", "head"])
def test_no_route_writes_on_get_or_head(method, root_api, root_browser):
    """Every URL pattern, filled with sample values, read by a superuser: the row counts stay the same."""
    append_notes(2)
    before = row_counts()
    assert row_counts_at_once() == before  # the one-statement count sees what the managers see
    for url in ALL_GET_ROUTES:
        client = root_api if url.startswith("/api/") else root_browser
        read(client, method, url)
        assert row_counts_at_once() == before, f"{method.upper()} {url} wrote rows"
    assert row_counts() == before
