"""CSV exports lose nothing: every list that offers `?format=csv` has one fixed column set, derived from
its serializer, with every JSONL field in it, as many rows as JSONL, and a header even when empty."""

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from ledgerproject.ledger.api import StreamingListMixin
from ledgerproject.ledger.renderers import flatten, nested_prefixes
from ledgerproject.ledger.tests.routes import all_routes, sample_path
from ledgerproject.ledger.tests.test_checkpoint_support import signing_key  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def _csv_list_routes():
    found = []
    for route, pattern in all_routes():
        view_class = getattr(pattern.callback, "cls", None)
        actions = getattr(pattern.callback, "actions", None) or {}
        if view_class and issubclass(view_class, StreamingListMixin) and actions.get("get") == "list":
            found.append(pytest.param(route, id=route.replace("api/v1/", "").strip("^$/")))
    return found


CSV_ROUTES = _csv_list_routes()


def test_every_streaming_list_is_covered():
    assert len(CSV_ROUTES) >= 9  # notes, enhances, events, artifacts, blobs, runs, run events, outputs, releases, logs


def _url(route):
    from runs.models import RunEvent

    run_id = RunEvent.objects.order_by("seq").values_list("run__run_id", flat=True).first()
    path = sample_path(route)
    if "(?P<run_id>" in route:
        path = path.replace("00000000-0000-0000-0000-000000000001", str(run_id))
    return path


def _body(response):
    assert response.status_code == 200, (response.status_code, getattr(response, "content", b"")[:300])
    return b"".join(response.streaming_content).decode()


@pytest.fixture(scope="class")
def demo_loaded(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo data, loaded once for a class of tests inside a transaction rolled back after it (each
    test rolls back its own writes to a savepoint inside it). Class-scoped: the empty-export tests
    outside the class never see it."""
    from tests.ledger_testapp.models import Note

    media = tmp_path_factory.mktemp("media")
    with override_settings(MEDIA_ROOT=str(media)), django_db_blocker.unblock(), transaction.atomic():
        call_command("load_demo", "--no-progress", stdout=io.StringIO())
        # The test ledger: rows whose nested body differs, and one whose first row lacks what later ones have.
        Note.objects.append(key="plain", topic="general", body={})
        Note.objects.append(
            key="rich", topic="general", body={"text": "=SUM(A1)", "tags": ["a", "b"], "deep": {"x": 1}}
        )
        yield
        transaction.set_rollback(True)


@pytest.fixture
def demo(demo_loaded, db):
    """The demo data in every ledger, and notes whose bodies differ."""


class TestWithTheDemo:
    @pytest.mark.parametrize("route", CSV_ROUTES)
    def test_csv_has_every_jsonl_field_and_row(self, route, demo, make_user, client_for):
        api = client_for(make_user("root", superuser=True))
        url = _url(route)
        jsonl = [json.loads(line) for line in _body(api.get(url, {"format": "jsonl"})).splitlines()]
        text = _body(api.get(url, {"format": "csv"}))
        reader = csv.DictReader(io.StringIO(text))
        rows = list(reader)
        assert jsonl, f"{url}: the demo data should give this list rows"
        assert len(rows) == len(jsonl)
        header = reader.fieldnames
        nested = nested_prefixes(header)
        for line, row in zip(jsonl, rows, strict=True):
            flat = flatten(line, nested=nested)
            missing = set(flat) - set(header)
            assert not missing, f"{url}: JSONL fields missing from the CSV header: {sorted(missing)}"
            for column, value in flat.items():
                # Every value of the JSONL row is in its CSV row (objects and arrays as JSON cells).
                assert row[column] == ("" if value == "" else str(value)), (url, column)
                if isinstance(value, str) and value[:1] in ("[", "{"):
                    assert json.loads(row[column]) == json.loads(value)

    def test_the_outputs_csv_keeps_every_event_payload(self, demo, make_user, client_for):
        """The report that started this: outputs' events differ per row and the CSV dropped them all."""
        api = client_for(make_user("root", superuser=True))
        rows = list(csv.DictReader(io.StringIO(_body(api.get("/api/v1/outputs/", {"format": "csv"})))))
        assert rows and all(json.loads(row["event"]) for row in rows)


@pytest.mark.parametrize("route", CSV_ROUTES)
def test_an_empty_csv_export_still_has_its_header(route, make_user, client_for):
    api = client_for(make_user("root", superuser=True))
    url = sample_path(route)
    response = api.get(url, {"format": "csv"})
    if response.status_code == 404:
        pytest.skip(f"{url} needs a parent that does not exist here")
    text = _body(response)
    lines = text.splitlines()
    assert len(lines) == 1 and lines[0], f"{url}: expected a header row alone, got {text!r}"
    assert len(next(csv.reader(lines))) >= 3, lines[0]


def test_the_ledger_summary_csv_keeps_fields_the_first_row_lacks(make_user, client_for, make_note):
    api = client_for(make_user("root", superuser=True))
    make_note()
    api.post("/api/v1/ledgers/testnotes/verify/")  # only this ledger gets a last_check object
    text = api.get("/api/v1/ledgers/", {"format": "csv"}).content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    notes = next(row for row in rows if row["name"] == "testnotes")
    assert notes["last_check.ok"] == "True" and notes["last_check.checked"] == "1"


def test_the_ledger_summary_csv_lists_only_the_readable_ledgers_under_its_header(make_user, client_for):
    from django.contrib.auth.models import Permission

    reader_of_notes = make_user("notes-only")
    reader_of_notes.user_permissions.add(Permission.objects.get(codename="view_note"))
    lines = client_for(reader_of_notes).get("/api/v1/ledgers/", {"format": "csv"}).content.decode().splitlines()
    assert lines[0].startswith("name,model,size,head_seq")
    assert len(lines) == 2 and lines[1].startswith("testnotes,")
    # A principal who may read no ledger is refused by the route's declared permission, CSV or not.
    assert client_for(make_user("nobody")).get("/api/v1/ledgers/", {"format": "csv"}).status_code == 403


@pytest.mark.usefixtures("signing_key")
def test_the_ledger_summary_csv_columns_are_every_summary_field(make_user, client_for, make_note):
    api = client_for(make_user("root", superuser=True))
    make_note()
    api.post("/api/v1/ledgers/testnotes/verify/")
    api.post("/api/v1/ledgers/testnotes/checkpoint/")
    header = api.get("/api/v1/ledgers/", {"format": "csv"}).content.decode().splitlines()[0].split(",")
    summary = next(row for row in api.get("/api/v1/ledgers/").json() if row["name"] == "testnotes")
    assert set(flatten(summary)) <= set(header)
