"""The appender's LOGCHAIN_* settings are parsed strictly: a bad value fails at start, naming the variable."""

import math
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from logchain.appender import appender_config, build_appender

REPO = Path(__file__).resolve().parents[2]
SETTINGS = REPO / "ledgerproject" / "settings.py"
NAMES = ("LOGCHAIN_APPENDER", "LOGCHAIN_APPENDER_CAPACITY", "LOGCHAIN_NODE_ID", "LOGCHAIN_FLUSH_INTERVAL")


def load_settings(monkeypatch, **env):
    """The settings module's values with exactly these LOGCHAIN_* variables set."""
    for name in list(os.environ):
        if name.startswith("LOGCHAIN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 50)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def test_unset_variables_give_the_documented_defaults(monkeypatch):
    values = load_settings(monkeypatch)
    assert [values[name] for name in NAMES] == ["ledger", 16_384, 0, 2.0]


def test_good_values_are_read_as_given(monkeypatch):
    values = load_settings(
        monkeypatch,
        LOGCHAIN_APPENDER=" Buffer ",
        LOGCHAIN_APPENDER_CAPACITY="10",
        LOGCHAIN_NODE_ID=str(2**53 - 1),
        LOGCHAIN_FLUSH_INTERVAL="0.5",
    )
    assert [values[name] for name in NAMES] == ["buffer", 10, 2**53 - 1, 0.5]


@pytest.mark.parametrize(
    "name, value",
    [
        ("LOGCHAIN_APPENDER", "ledgr"),
        ("LOGCHAIN_APPENDER_CAPACITY", "lots"),
        ("LOGCHAIN_APPENDER_CAPACITY", "0"),
        ("LOGCHAIN_NODE_ID", "-1"),
        ("LOGCHAIN_NODE_ID", str(2**53)),
        ("LOGCHAIN_FLUSH_INTERVAL", "soon"),
        ("LOGCHAIN_FLUSH_INTERVAL", "nan"),
        ("LOGCHAIN_FLUSH_INTERVAL", "0"),
    ],
)
def test_a_bad_environment_value_fails_naming_the_variable(monkeypatch, name, value):
    with pytest.raises(ImproperlyConfigured, match=name):
        load_settings(monkeypatch, **{name: value})


def test_a_bad_value_stops_the_server_at_start():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ledgerproject.settings", "LOGCHAIN_NODE_ID": "node-7"}
    env.setdefault("DJANGO_SECRET_KEY", "x" * 50)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "LOGCHAIN_NODE_ID='node-7' is not a whole number" in result.stderr


@pytest.mark.parametrize(
    "name, value",
    [
        ("LOGCHAIN_APPENDER", "nowhere"),
        ("LOGCHAIN_APPENDER_CAPACITY", "16"),
        ("LOGCHAIN_APPENDER_CAPACITY", 0),
        ("LOGCHAIN_NODE_ID", True),
        ("LOGCHAIN_FLUSH_INTERVAL", math.inf),
        ("LOGCHAIN_RATE_BURST", -1),
    ],
)
def test_a_bad_value_set_in_a_settings_module_fails_when_the_app_loads(settings, name, value):
    setattr(settings, name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        apps.get_app_config("logchain").ready()
    with pytest.raises(ImproperlyConfigured, match=name):
        build_appender()


def test_the_rate_limit_settings_reach_the_config(settings):
    settings.LOGCHAIN_RATE_BURST = 4
    settings.LOGCHAIN_RATE_PER_MINUTE = 0
    config = appender_config()
    assert (config.rate_burst, config.rate_per_minute) == (4, 0)
