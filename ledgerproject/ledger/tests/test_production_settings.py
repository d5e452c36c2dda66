"""Production settings from the environment: the HTTPS switch, the proxy header, the secret-key rule, check --deploy."""

import os
import runpy
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REPO = Path(__file__).resolve().parents[3]
SETTINGS = REPO / "ledgerproject" / "settings.py"


def documented_production_env():
    """Every `NAME=value` line of .env.example: the documented production environment."""
    env = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    return env


@pytest.fixture
def production_env(tmp_path):
    """The documented environment, with its files made real in tmp_path, and nothing else inherited."""
    env = documented_production_env()
    key_file = tmp_path / "django-secret-key"
    key_file.write_text(secrets.token_urlsafe(50))
    signing_key = tmp_path / "signing-key.pem"
    signing_key.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    env.update(
        DJANGO_SECRET_KEY_FILE=str(key_file),
        LEDGER_VAR_DIR=str(tmp_path / "var"),
        LEDGER_MEDIA_ROOT=str(tmp_path / "blobs"),
        LEDGER_SIGNING_KEY_FILE=str(signing_key),
    )
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "ledgerproject.settings",
        **env,
    }


def manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def load_settings(monkeypatch, **env):
    """The settings module's values under exactly these LEDGER_/DJANGO_ variables."""
    for name in list(os.environ):
        if name.startswith(("LEDGER_", "DJANGO_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 50)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def test_it_reports_nothing_under_check_deploy_with_the_documented_production_environment(production_env):
    result = manage(production_env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_it_warns_under_check_deploy_without_the_https_switch(production_env):
    del production_env["LEDGER_HTTPS"]
    result = manage(production_env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


def test_it_refuses_to_start_without_a_secret_key_outside_debug(production_env):
    del production_env["DJANGO_SECRET_KEY_FILE"]
    result = manage(production_env, "check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) must be set" in result.stderr


def test_it_starts_without_a_secret_key_in_debug(production_env):
    del production_env["DJANGO_SECRET_KEY_FILE"]
    production_env["DJANGO_DEBUG"] = "1"
    result = manage(production_env, "check")
    assert result.returncode == 0, result.stderr


def test_it_turns_on_secure_cookies_hsts_and_the_redirect_together(monkeypatch):
    values = load_settings(monkeypatch, LEDGER_HTTPS="1")
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"] and values["SECURE_SSL_REDIRECT"]
    assert values["SECURE_HSTS_SECONDS"] == 31536000 and values["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert values["SECURE_HSTS_PRELOAD"] is False
    assert "SECURE_PROXY_SSL_HEADER" not in values  # its own opt-in


def test_it_keeps_plain_http_without_the_switch(monkeypatch):
    values = load_settings(monkeypatch)
    assert not values["SESSION_COOKIE_SECURE"] and not values["CSRF_COOKIE_SECURE"]
    assert not values["SECURE_SSL_REDIRECT"] and values["SECURE_HSTS_SECONDS"] == 0


def test_it_trusts_the_proxy_ssl_header_only_when_asked(monkeypatch):
    values = load_settings(monkeypatch, LEDGER_PROXY_SSL_HEADER="1")
    assert values["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert not values["SECURE_SSL_REDIRECT"]


def test_it_names_a_bad_switch_value(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="LEDGER_HTTPS"):
        load_settings(monkeypatch, LEDGER_HTTPS="maybe")


def test_it_checks_the_database_connection_before_reuse(monkeypatch):
    assert load_settings(monkeypatch)["DATABASES"]["default"]["CONN_HEALTH_CHECKS"] is True


@pytest.mark.django_db
def test_it_redirects_to_https_but_never_the_probes(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    response = client.get("/accounts/login/")
    assert response.status_code == 301 and response["Location"].startswith("https://")
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)  # answered, not redirected
    assert client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https").status_code == 200


@pytest.mark.django_db
def test_it_serves_plain_http_locally(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response
