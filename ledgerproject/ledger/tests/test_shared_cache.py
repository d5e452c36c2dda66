"""Throttle counters every worker shares: the database cache, and Redis under REDIS_URL (real servers)."""

import base64
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from django.conf import settings as django_settings
from django.core.cache import caches
from django.db import connection
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from ledgerproject.ledger import limits

BASE_DIR = Path(django_settings.BASE_DIR)
PUBLIC_KEY = "/api/v1/ledgers/public-key/"
# The documented anonymous rate (LEDGER_THROTTLE_ANON's default); the public key is the API's only
# anonymous, throttled route, so "the anonymous limit" is measured there, from one client address.
ANON_LIMIT = 120
SENT = 400


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


@pytest.fixture
def redis_url():
    """A throwaway redis-server on a unix socket in a temp dir (no TCP port, no persistence), then gone."""
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    assert os.path.exists(server), "redis-server missing: run scripts/install-test-deps.sh"
    workdir = Path(tempfile.mkdtemp(prefix="ledger-redis-"))
    sock = workdir / "redis.sock"
    proc = subprocess.Popen(
        [server, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700", "--dir", str(workdir)]
        + ["--save", "", "--appendonly", "no", "--maxmemory", "64mb", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(sock.exists, 15, "redis-server's socket")
        yield f"unix://{sock}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)


def _redis_caches(url):
    return {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url, "KEY_PREFIX": "t"},
    }


# --- settings ---------------------------------------------------------------------------------------


def test_the_throttle_cache_is_the_database_by_default_and_redis_with_redis_url(monkeypatch, settings_under_env):
    monkeypatch.delenv("REDIS_URL", raising=False)
    plain = settings_under_env()
    assert plain.CACHES["shared"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    with_redis = settings_under_env(REDIS_URL="redis://cache.internal:6379/2")
    assert with_redis.CACHES["shared"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert with_redis.CACHES["shared"]["LOCATION"] == "redis://cache.internal:6379/2"
    with pytest.raises(Exception, match="REDIS_URL"):
        settings_under_env(REDIS_URL="http://cache.internal:6379")


@pytest.mark.django_db
def test_the_database_cache_table_exists_after_migrate():
    assert django_settings.CACHES["shared"]["LOCATION"] in connection.introspection.table_names()
    cache = caches["shared"]
    cache.set("probe", [1.0, 2.0], 30)
    assert cache.get("probe") == [1.0, 2.0]


@pytest.mark.django_db
def test_the_anonymous_and_failed_token_counters_live_in_the_shared_cache(monkeypatch, writer_api, alice):
    monkeypatch.setattr(limits.AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/min"})
    anon = APIClient()
    assert [anon.get(PUBLIC_KEY).status_code for _ in range(3)] == [200, 200, 429]
    assert len(caches["shared"].get("throttle_anon_127.0.0.1")) == 2
    assert caches["default"].get("throttle_anon_127.0.0.1") is None
    guesser = APIClient(REMOTE_ADDR="10.4.4.4")
    guesser.credentials(HTTP_AUTHORIZATION="Token nope")
    assert guesser.get("/api/v1/notes/").status_code == 401
    assert len(caches["shared"].get("throttle_failed_token_10.4.4.4")) == 1
    # On the database cache the per-user ceiling is counted in the process (see limits.UserRateThrottle).
    caches["default"].delete(f"throttle_user_{alice.pk}")
    assert writer_api.get("/api/v1/notes/").status_code == 200
    assert caches["shared"].get(f"throttle_user_{alice.pk}") is None
    assert len(caches["default"].get(f"throttle_user_{alice.pk}")) == 1


# --- Redis ------------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db
def test_throttles_count_in_a_real_redis_server(redis_url, monkeypatch, writer_api, alice):
    monkeypatch.setattr(limits.AnonRateThrottle, "THROTTLE_RATES", {"anon": "3/min"})
    with override_settings(CACHES=_redis_caches(redis_url)):
        anon = APIClient()
        assert [anon.get(PUBLIC_KEY).status_code for _ in range(4)] == [200, 200, 200, 429]
        guesser = APIClient()
        guesser.credentials(HTTP_AUTHORIZATION="Token nope")
        rate = django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["failed_token"]
        limit = int(rate.split("/")[0])
        assert {guesser.get("/api/v1/notes/").status_code for _ in range(limit)} == {401}
        response = guesser.get("/api/v1/notes/")
        assert response.status_code == 429 and int(response["Retry-After"]) >= 1
        writer_api.defaults["REMOTE_ADDR"] = "10.3.3.3"
        assert writer_api.get("/api/v1/notes/").status_code == 200
        # The counters are in Redis, where every worker sees them.
        import redis

        server = redis.Redis.from_url(redis_url)
        keys = {key.decode() for key in server.keys("*")}
        assert any(key.endswith("throttle_anon_127.0.0.1") for key in keys), keys
        assert any(key.endswith("throttle_failed_token_127.0.0.1") for key in keys), keys
        # Under Redis the per-user ceiling is shared too.
        assert any(key.endswith(f"throttle_user_{alice.pk}") for key in keys), keys
        caches["shared"].close()


# --- the anonymous limit across 2 gunicorn workers --------------------------------------------------


def _database_url():
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def serve(transactional_db, tmp_path):
    """serve(workers=2, **env) → base URL of gunicorn running the production settings on loopback."""
    running = []
    # Counters an earlier test left in the shared table (its minute may not be over) would count here.
    caches["shared"].clear()

    def start(workers=2, **extra_env):
        port = _free_port()
        signing_key = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("LEDGER_", "REDIS_", "PROMETHEUS_"))},
            "DJANGO_SETTINGS_MODULE": "ledgerproject.settings",
            "DATABASE_URL": _database_url(),
            "DJANGO_SECRET_KEY": "throttle-test-" + base64.b64encode(os.urandom(24)).decode(),
            "DJANGO_DEBUG": "0",
            "LEDGER_VAR_DIR": str(tmp_path),
            "LEDGER_SIGNING_KEY": base64.b64encode(signing_key).decode(),
            "LEDGER_THROTTLE_ANON": f"{ANON_LIMIT}/min",
            "LOGCHAIN_APPENDER": "noop",
            **extra_env,
        }
        log = tmp_path / f"gunicorn-{port}.log"
        gunicorn = Path(sys.executable).parent / "gunicorn"
        command = [str(gunicorn), "ledgerproject.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--preload"]
        proc = subprocess.Popen(
            command + ["--timeout", "60", "--log-level", "info"],
            cwd=BASE_DIR,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        running.append(proc)
        url = f"http://127.0.0.1:{port}"

        def up():
            assert proc.poll() is None, log.read_text()
            booted = log.read_text().count("Booting worker")
            try:
                return booted >= workers and requests.get(url + "/readyz", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        _wait_for(up, 60, "gunicorn")
        return url

    yield start
    for proc in running:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    # The counters outlive the test in the shared table; clear them so no later test starts throttled.
    caches["shared"].clear()


def _hammer(url, count=SENT, threads=8):
    """Send `count` anonymous requests to the public key; the status codes, as a list."""

    def one(_):
        return requests.get(url + PUBLIC_KEY, timeout=30).status_code

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


def _assert_the_limit_held(statuses, label):
    passed = statuses.count(200)
    print(f"\n{label}: {passed} of {len(statuses)} anonymous requests passed (limit {ANON_LIMIT}/min)")
    assert set(statuses) <= {200, 429}, statuses
    assert ANON_LIMIT <= passed <= ANON_LIMIT + ANON_LIMIT // 3


@pytest.mark.postgres
def test_the_anonymous_limit_holds_across_two_workers_on_the_database_cache(serve, tmp_path):
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    url = serve(workers=2, PROMETHEUS_MULTIPROC_DIR=str(multiproc))
    statuses = _hammer(url)
    _assert_the_limit_held(statuses, "2 gunicorn workers, database cache")
    # Both workers answered, and /metrics (multiprocess mode) adds up what each of them counted.
    assert len(list(multiproc.glob("counter_*.db"))) >= 2
    text = requests.get(url + "/metrics", timeout=30).text
    counted = {
        sample.labels["status"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "ledger_http_requests_total" and sample.labels["route"] == PUBLIC_KEY
    }
    assert counted == {"200": statuses.count(200), "429": statuses.count(429)}


@pytest.mark.postgres
def test_the_anonymous_limit_holds_across_two_workers_on_redis(serve, redis_url):
    url = serve(workers=2, REDIS_URL=redis_url)
    _assert_the_limit_held(_hammer(url), "2 gunicorn workers, Redis")
