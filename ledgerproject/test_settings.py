"""Settings for the test suite: the production settings plus the test-only ledger and fast hashing."""

from ledgerproject.settings import *  # noqa: F403
from ledgerproject.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.ledger_testapp"]
# The test database is thrown away; this lets its reset clear ledger tables (see ledger/reset.py).
LEDGER_ALLOW_TEST_RESET = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEBUG = False
ROOT_URLCONF = "tests.ledger_testapp.urls"
