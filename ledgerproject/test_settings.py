"""Settings for the test suite: the production settings plus the test-only ledger and fast hashing."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

# The production settings refuse to start without a key; the tests' own (also seen by the
# subprocesses they start) is only ever used on throwaway databases.
os.environ.setdefault("DJANGO_SECRET_KEY", "ledger-test-only-" + "k" * 48)

from ledgerproject.settings import *  # noqa: F403
from ledgerproject.settings import DATABASES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.ledger_testapp"]
# The test database is thrown away; this lets its reset clear ledger tables (see ledger/reset.py).
LEDGER_ALLOW_TEST_RESET = True
# The application's own log records stay in the in-memory buffer during tests.
LOGCHAIN_APPENDER = "buffer"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEBUG = False
# The tests serve static files from the source folders: no collectstatic, no hashed names.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WHITENOISE_USE_FINDERS = True
ROOT_URLCONF = "tests.ledger_testapp.urls"

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not shared-cache memory: concurrent writers then wait on SQLite's lock as in production.
    # One directory per test process, so parallel runs never share a database file.
    _test_dir = tempfile.mkdtemp(prefix="ledger-test-")
    atexit.register(shutil.rmtree, _test_dir, ignore_errors=True)
    DATABASES["default"]["TEST"] = {"NAME": str(Path(_test_dir) / "test.sqlite3")}
# Tests revoke tokens and roles and expect the very next request to see it, also through queryset
# updates that send no signal: the token memory is off here, and on in its own tests (test_token_cache.py).
LEDGER_TOKEN_CACHE_SECONDS = 0
