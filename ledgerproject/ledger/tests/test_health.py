"""/healthz and /readyz: anonymous JSON probes; readiness fails with 503 + Retry-After naming the check."""

from contextlib import contextmanager

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import OperationalError, connection
from django.db.migrations.recorder import MigrationRecorder

pytestmark = pytest.mark.django_db


@contextmanager
def database_down():
    """Every query on this thread's connection fails as it does when the server went away."""

    def fail(execute, sql, params, many, context):
        raise OperationalError("server closed the connection unexpectedly")

    with connection.execute_wrapper(fail):
        yield


@pytest.fixture
def signing_key_file(tmp_path, settings):
    path = tmp_path / "signing-key.pem"
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    settings.LEDGER_SIGNING_KEY = ""
    settings.LEDGER_SIGNING_KEY_FILE = str(path)
    return path


def test_it_answers_healthz_with_ok_and_no_query(client, bob, django_assert_num_queries):
    client.force_login(bob)  # a session cookie is sent: the middleware must not load it
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert not response.cookies and "Cookie" not in response.get("Vary", "")
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_it_answers_healthz_while_the_database_is_down(client):
    with database_down():
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_it_never_throttles_the_probes(client, signing_key_file):
    # Above the documented anonymous API rate (120/min) within a few seconds.
    statuses = {client.get(path).status_code for _ in range(130) for path in ("/healthz", "/readyz")}
    assert statuses == {200}


def test_it_answers_readyz_with_each_check_when_ready(client, signing_key_file, django_assert_max_num_queries):
    # In one transaction (a savepoint here): on PostgreSQL its timeout, SELECT 1, the migration table's
    # existence and its rows.
    with django_assert_max_num_queries(6):
        response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": {"ok": True}, "migrations": {"ok": True}, "signing_key": {"ok": True}}


def test_it_is_not_ready_while_the_database_is_down(client, signing_key_file):
    with database_down():
        response = client.get("/readyz")
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    body = response.json()
    assert body["failed"] == ["database", "migrations"]
    assert "database" in body["detail"]
    assert body["checks"]["signing_key"] == {"ok": True}
    assert "server closed" not in response.content.decode()  # no internals to anonymous callers


def test_it_is_not_ready_with_an_unapplied_migration(client, signing_key_file):
    last = MigrationRecorder.Migration.objects.filter(app="logchain").order_by("-id").first()
    last.delete()
    response = client.get("/readyz")
    assert response.status_code == 503 and "Retry-After" in response
    body = response.json()
    assert body["failed"] == ["migrations"]
    assert body["checks"]["migrations"] == {"ok": False, "detail": "1 unapplied migration(s)"}


def test_it_is_not_ready_when_the_signing_key_file_is_missing(client, signing_key_file):
    signing_key_file.unlink()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["signing_key"]
    assert not signing_key_file.exists()  # the probe never generates a key


def test_it_is_not_ready_when_the_signing_key_is_not_a_key(client, signing_key_file):
    signing_key_file.write_text("not a key")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["signing_key"] == {"ok": False, "detail": "the signing key cannot be read"}


def test_it_reads_a_signing_key_given_in_the_environment(client, settings, signing_key_file):
    settings.LEDGER_SIGNING_KEY = "A" * 43 + "="  # base64 of 32 bytes
    settings.LEDGER_SIGNING_KEY_FILE = "/nonexistent/key.pem"
    assert client.get("/readyz").status_code == 200
    settings.LEDGER_SIGNING_KEY = "not base64!"
    assert client.get("/readyz").json()["failed"] == ["signing_key"]


def test_it_answers_the_probes_anonymously_and_only_to_get_and_head(client, signing_key_file):
    assert client.head("/healthz").status_code == 200
    assert client.head("/readyz").status_code == 200
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


@pytest.mark.postgres
def test_it_gives_a_hung_database_only_the_ready_timeout(client, settings, signing_key_file):
    import time

    settings.LEDGER_READY_TIMEOUT_MS = 200
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        before = cursor.fetchone()[0]

    def hang(execute, sql, params, many, context):
        return execute("SELECT pg_sleep(5)" if sql == "SELECT 1" else sql, params, many, context)

    started = time.monotonic()
    with connection.execute_wrapper(hang):
        response = client.get("/readyz")
    assert time.monotonic() - started < 3
    assert response.status_code == 503 and response.json()["failed"][0] == "database"
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == before  # the connection keeps its own setting
