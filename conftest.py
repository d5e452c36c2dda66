"""Fixtures every test can use: personas with roles and tokens, API clients, engine markers, a browser."""

import os

import pytest
from django.db import connection
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

hypothesis_settings.register_profile(
    "ledger",
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hypothesis_settings.load_profile("ledger")

CHROMIUM = os.environ.get("LEDGER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery staple"


# The longest tests (a minute or more each), longest first. They start first: pytest-xdist hands out
# tests in collection order, one to each worker in turn, so each worker begins with one of them
# instead of one worker running a two-minute test alone at the end of the run.
LONG_RUNNING_FIRST = (
    "tests/test_crawl_browser.py",
    "ledgerproject/ledger/tests/test_query_fuzz.py",
    "ledgerproject/ledger/tests/test_schemathesis.py",
    "ledgerproject/ledger/tests/test_route_walk.py",
    "ledgerproject/ledger/tests/test_safe_methods.py",
)


def _start_rank(item):
    """Long modules first, then the browser tests (seconds each), then the rest in collection order."""
    module = item.nodeid.split("::", 1)[0]
    if module in LONG_RUNNING_FIRST:
        return LONG_RUNNING_FIRST.index(module)
    return len(LONG_RUNNING_FIRST) + (0 if "browser" in item.keywords else 1)


def pytest_collection_modifyitems(config, items):
    """`postgres` tests run only when the suite is pointed at PostgreSQL; long tests start first."""
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    skip = pytest.mark.skip(reason="needs PostgreSQL (run with DATABASE_URL=postgres://…)")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)
    items.sort(key=_start_rank)  # stable: each module's tests stay together and in order


@pytest.fixture(autouse=True)
def _forget_failed_token_addresses():
    """Each test starts with no address remembered as failing a token (the counts roll back with the db)."""
    from ledgerproject.ledger.limits import forget_failed_addresses

    forget_failed_addresses()


@pytest.fixture
def make_user(db):
    """make_user("alice", roles=["writer"], tenants=["acme"]) → a user with those roles and tenants."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from ledgerproject.ledger.models import AllTenantsGrant, TenantBinding
    from ledgerproject.ledger.tests.roles import ensure_test_roles

    def make(username, roles=(), tenants=(), superuser=False, all_tenants=None):
        """all_tenants: None grants every tenant when no tenants are given (as issue_token does)."""
        ensure_test_roles()
        user = get_user_model().objects.create_user(
            username, password=PASSWORD, is_superuser=superuser, is_staff=superuser
        )
        user.groups.add(*Group.objects.filter(name__in=roles))
        for tenant in tenants:
            TenantBinding.objects.create(user=user, tenant_id=tenant)
        if all_tenants or (all_tenants is None and not tenants):
            AllTenantsGrant.objects.create(user=user)
        return user

    return make


@pytest.fixture
def client_for(db):
    """client_for(user) → an APIClient authenticated with a fresh token of that user."""
    from ledgerproject.ledger.models import ApiToken

    def make(user):
        _, key = ApiToken.objects.issue(user)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return api

    return make


@pytest.fixture
def alice(make_user):
    """A writer (integrator): appends and reads."""
    return make_user("alice", roles=["writer"])


@pytest.fixture
def bob(make_user):
    """A reader: reads every ledger, appends nothing."""
    return make_user("bob", roles=["reader"])


@pytest.fixture
def carol(make_user):
    """A reviewer."""
    return make_user("carol", roles=["reader", "reviewer"])


@pytest.fixture
def dave(make_user):
    """An auditor: reads, verifies, exports."""
    return make_user("dave", roles=["auditor"])


@pytest.fixture
def writer_api(alice, client_for):
    return client_for(alice)


@pytest.fixture
def reader_api(bob, client_for):
    return client_for(bob)


@pytest.fixture
def auditor_api(dave, client_for):
    return client_for(dave)


@pytest.fixture
def anon_api():
    return APIClient()


@pytest.fixture
def on_postgres():
    return connection.vendor == "postgresql"


# --- browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the test
    # itself (builders, assertions) are still synchronous, so allow them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def login(page):
    """login(user) in the browser through the real login form."""

    def do_login(user, password=PASSWORD):
        page.goto("/accounts/login/")
        page.fill("input[name=username]", user.get_username())
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return page

    return do_login
