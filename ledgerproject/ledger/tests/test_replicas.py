"""Read-replica routing on either engine: a replica alias that reads the test database itself shows which
connection each request used (the real streaming standby is in test_replica_streaming.py)."""

import copy
import importlib.util
import io
import logging
import socket
import time
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connections

from ledgerproject.ledger import routers
from ledgerproject.ledger.checkpoints import Checkpoint
from ledgerproject.ledger.models import ChainCheck
from ledgerproject.ledger.tests.replicas import configure_replicas, logged_queries, remove_replicas
from ledgerproject.ledger.tests.test_checkpoint_support import signing_key  # noqa: F401  (fixture)

NOTES = "ledger_testapp_note"
REPLICA = "replica1"
pytestmark = pytest.mark.django_db(transaction=True)


def _replica_config(**changes):
    config = copy.deepcopy(connections["default"].settings_dict)
    config.update(changes)
    return config


@pytest.fixture
def replica(transactional_db, settings):
    """A replica alias that reads the primary's own test database (what a caught-up standby would show)."""
    configure_replicas(settings, {REPLICA: _replica_config()})
    yield REPLICA
    remove_replicas([REPLICA])


@pytest.fixture
def unreachable_replica(transactional_db, settings):
    """A replica alias whose server cannot be reached."""
    if connections["default"].vendor == "sqlite":
        config = _replica_config(NAME="/nonexistent-ledger-dir/replica.sqlite3")
    else:
        with socket.socket() as probe:  # a loopback port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config = _replica_config(HOST="127.0.0.1", PORT=port)
    configure_replicas(settings, {REPLICA: config})
    yield REPLICA
    remove_replicas([REPLICA])


def _post_notes(api, *keys):
    for key in keys:
        response = api.post("/api/v1/notes/", {"key": key, "body": {"k": key}}, format="json")
        assert response.status_code == 201, response.content


def _keys(response):
    return {row["key"] for row in response.json()["results"]}


def test_it_reads_api_lists_from_the_replica_and_authenticates_on_the_primary(replica, writer_api, reader_api):
    _post_notes(writer_api, "a", "b", "c")
    with logged_queries("default", replica) as log:
        response = reader_api.get("/api/v1/notes/")
    assert response.status_code == 200 and _keys(response) == {"a", "b", "c"}
    assert NOTES in log.tables(replica)
    assert NOTES not in log.tables("default")
    assert "ledger_apitoken" in log.tables("default")  # a revoked token or role takes effect at once
    assert not {"ledger_apitoken", "auth_user", "ledger_tenantbinding"} & log.tables(replica)


def test_it_appends_on_the_primary_and_pins_the_writer_there_for_its_next_reads(replica, writer_api, reader_api):
    with logged_queries("default", replica) as log:
        _post_notes(writer_api, "fresh")
    assert log.count(replica) == 0 and NOTES in log.tables("default")

    with logged_queries("default", replica) as log:
        assert writer_api.get("/api/v1/notes/fresh/").status_code == 200
    assert log.count(replica) == 0 and NOTES in log.tables("default")

    with logged_queries("default", replica) as log:  # another client is not pinned
        assert reader_api.get("/api/v1/notes/fresh/").status_code == 200
    assert NOTES in log.tables(replica)


def test_the_writer_reads_the_replica_again_when_the_sticky_seconds_are_over(replica, settings, writer_api):
    settings.LEDGER_REPLICA_STICKY_SECONDS = 1
    _post_notes(writer_api, "n1")
    with logged_queries("default", replica) as log:
        writer_api.get("/api/v1/notes/")
    assert NOTES not in log.tables(replica)
    time.sleep(1.2)
    with logged_queries("default", replica) as log:
        writer_api.get("/api/v1/notes/")
    assert NOTES in log.tables(replica)


def test_with_no_sticky_seconds_only_the_writing_request_reads_the_primary(replica, settings, writer_api):
    settings.LEDGER_REPLICA_STICKY_SECONDS = 0
    _post_notes(writer_api, "n1")
    with logged_queries("default", replica) as log:
        writer_api.get("/api/v1/notes/")
    assert NOTES in log.tables(replica)


def test_pages_read_the_replica_and_a_page_write_pins_that_session(replica, client, make_user, dave):
    reader = make_user("erin", roles=["reader"])
    client.force_login(reader)
    with logged_queries("default", replica) as log:
        assert client.get("/").status_code == 200
    # The home page's counts come from the rollups kept on append; ledger rows only on lists.
    assert "ledger_rollup" in log.tables(replica) and "ledger_rollup" not in log.tables("default")
    assert "django_session" in log.tables("default")

    auditor = type(client)()
    auditor.force_login(dave)
    with logged_queries("default", replica) as log:
        auditor.post("/ledgers/testnotes/verify/")
    assert log.count(replica) == 0 and ChainCheck.objects.filter(ledger="testnotes").exists()
    with logged_queries("default", replica) as log:  # the auditor sees the check it just recorded
        assert "chain intact" in auditor.get("/ledgers/").content.decode()
    assert log.count(replica) == 0 and "ledger_chaincheck" in log.tables("default")


def test_the_admin_changelist_reads_the_replica(replica, client, make_user):
    client.force_login(make_user("root", superuser=True))
    with logged_queries("default", replica) as log:
        assert client.get("/admin/logchain/logrecord/").status_code == 200
    assert "logchain_logrecord" in log.tables(replica) and "logchain_logrecord" not in log.tables("default")


def test_a_streamed_list_export_reads_the_replica_while_the_body_is_sent(replica, writer_api, reader_api):
    _post_notes(writer_api, "x", "y")
    response = reader_api.get("/api/v1/notes/?format=jsonl")
    assert response.streaming
    with logged_queries("default", replica) as log:  # the rows are read only now, after the view returned
        body = b"".join(response.streaming_content).decode()
    assert body.count("\n") == 2
    assert NOTES in log.tables(replica) and NOTES not in log.tables("default")


def test_verification_reads_the_primary_even_in_a_read_request(replica, writer_api, auditor_api):
    _post_notes(writer_api, "v1", "v2")
    with logged_queries("default", replica) as log:
        response = auditor_api.get("/api/v1/ledgers/testnotes/verify/")
    assert response.json()["ok"] is True and response.json()["checked"] == 2
    assert NOTES not in log.tables(replica) and NOTES in log.tables("default")


@pytest.mark.usefixtures("signing_key")
def test_the_verifiable_export_reads_its_entries_where_its_checkpoint_was_read(
    replica, writer_api, auditor_api, make_user, client_for
):
    _post_notes(writer_api, "e1", "e2")
    with logged_queries("default", replica) as log:  # POST signs a checkpoint: the primary, entries included
        response = auditor_api.post("/api/v1/ledgers/testnotes/export/")
        body = b"".join(response.streaming_content).decode()
    assert response.status_code == 200 and body.count("\n") == 3  # the manifest, then two entries
    assert log.count(replica) == 0 and {NOTES, "ledger_checkpoint"} <= log.tables("default")

    # GET writes nothing: another auditor (not pinned to the primary by a write) reads the latest
    # checkpoint and the entries it covers from one replica, a consistent state of both.
    other_auditor = client_for(make_user("erin", roles=["auditor"]))
    with logged_queries("default", replica) as log:
        response = other_auditor.get("/api/v1/ledgers/testnotes/export/")
        body = b"".join(response.streaming_content).decode()
    assert response.status_code == 200 and body.count("\n") == 3
    assert {NOTES, "ledger_checkpoint"} <= log.tables(replica) and NOTES not in log.tables("default")


def test_reads_inside_a_transaction_on_the_primary_stay_on_it(replica):
    from django.db import transaction

    from tests.ledger_testapp.models import Note

    state = routers.RequestRouting([replica])
    token = routers._current.set(state)
    try:
        assert routers.PrimaryReplicaRouter().db_for_read(Note) == replica
        with transaction.atomic():
            assert routers.PrimaryReplicaRouter().db_for_read(Note) == "default"
    finally:
        routers._current.reset(token)


def test_an_unreachable_replica_falls_back_to_the_primary_and_is_skipped_for_a_while(
    unreachable_replica, writer_api, reader_api, caplog
):
    _post_notes(writer_api, "p1")
    caplog.set_level(logging.WARNING, logger="ledgerproject.ledger.routers")
    with logged_queries("default") as log:
        response = reader_api.get("/api/v1/notes/")
    assert response.status_code == 200 and _keys(response) == {"p1"}
    assert NOTES in log.tables("default")
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1

    assert reader_api.get("/api/v1/notes/").status_code == 200
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1  # not tried again yet

    routers._down_until[unreachable_replica] = time.monotonic() - 1  # the down seconds are over
    assert reader_api.get("/api/v1/notes/").status_code == 200
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 2


@pytest.mark.usefixtures("signing_key")
def test_management_commands_use_only_the_primary(replica, writer_api, tmp_path):
    _post_notes(writer_api, "m1", "m2")
    with logged_queries("default", replica) as log:
        call_command("checkpoint_ledgers", "testnotes", "--no-progress", stdout=io.StringIO())
        call_command("verify_ledgers", "testnotes", "--no-progress", stdout=io.StringIO())
        call_command(
            "export_ledger", "testnotes", "-o", str(tmp_path / "e.jsonl"), "--no-progress", stdout=io.StringIO()
        )
    assert log.count(replica) == 0 and NOTES in log.tables("default")
    assert Checkpoint.objects.filter(ledger="testnotes").count() == 1


def test_replicas_are_never_migrated_and_share_relations_with_the_primary(replica):
    router = routers.PrimaryReplicaRouter()
    assert router.allow_migrate(replica, "ledger_testapp") is False
    assert router.allow_migrate("default", "ledger_testapp") is None
    assert router.db_for_write(ChainCheck) == "default"


# --- settings: DATABASE_REPLICA_URLS --------------------------------------------------------------------


def _load_settings(monkeypatch, **env):
    """A fresh copy of ledgerproject/settings.py evaluated under `env`."""
    for name in ("DATABASE_URL", "DATABASE_REPLICA_URLS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = Path(__file__).resolve().parents[2] / "settings.py"
    spec = importlib.util.spec_from_file_location("ledger_settings_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.django_db(transaction=False)
def test_without_replica_urls_there_is_no_router_and_no_middleware(monkeypatch):
    loaded = _load_settings(monkeypatch, DATABASE_URL="postgres://app@db:5432/ledger")
    assert list(loaded.DATABASES) == ["default"] and loaded.LEDGER_REPLICA_DATABASES == []
    assert not hasattr(loaded, "DATABASE_ROUTERS")
    assert not any("Replica" in name for name in loaded.MIDDLEWARE)


@pytest.mark.django_db(transaction=False)
def test_replica_urls_add_replica_aliases_the_router_and_the_middleware(monkeypatch):
    loaded = _load_settings(
        monkeypatch,
        DATABASE_URL="postgres://app@db:5432/ledger",
        DATABASE_REPLICA_URLS=" postgres://ro@db-r1:5432/ledger , postgres://ro@db-r2/ledger?connect_timeout=7,",
    )
    assert loaded.LEDGER_REPLICA_DATABASES == ["replica1", "replica2"]
    first, second = loaded.DATABASES["replica1"], loaded.DATABASES["replica2"]
    assert (first["HOST"], first["NAME"], first["OPTIONS"]["connect_timeout"]) == ("db-r1", "ledger", 2)
    assert second["OPTIONS"]["connect_timeout"] == 7
    assert first["TEST"] == {"MIRROR": "default"}
    assert loaded.DATABASE_ROUTERS == ["ledgerproject.ledger.routers.PrimaryReplicaRouter"]
    sessions = loaded.MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware")
    assert loaded.MIDDLEWARE[sessions + 1] == "ledgerproject.ledger.routers.ReplicaRoutingMiddleware"


@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize(
    ("primary", "replicas", "message"),
    [
        ("postgres://app@db/ledger", "postgres://ro:s3cret@db-r1:notaport/ledger", "item 1 is not a database URL"),
        ("postgres://app@db/ledger", "postgres://ro@r1/ledger,db-r2:5432", "item 2 is not a database URL"),
        ("postgres://app@db/ledger", "mysql://ro@db-r1/ledger", "it must be postgresql"),
        ("postgres://app@db/ledger", "postgres://ro@db-r1", "names no database"),
        ("sqlite:////tmp/x.sqlite3", "postgres://ro@db-r1/ledger", "needs DATABASE_URL on PostgreSQL"),
    ],
)
def test_bad_replica_urls_stop_the_start_naming_the_variable(monkeypatch, primary, replicas, message):
    with pytest.raises(ImproperlyConfigured) as failure:
        _load_settings(monkeypatch, DATABASE_URL=primary, DATABASE_REPLICA_URLS=replicas)
    assert "DATABASE_REPLICA_URLS" in str(failure.value) and message in str(failure.value)
    assert "s3cret" not in str(failure.value)
