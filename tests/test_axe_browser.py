"""Accessibility: axe-core (vendored, injected by the test only) over every page and the project's admin pages.

No serious or critical violation on any page, with the demo data loaded, in light and in dark mode: the
crawl that judges them runs once, with the CSP checks, in tests/test_crawl_browser.py; this module holds
what it runs and keeps axe out of the product.
"""

from pathlib import Path

import pytest
from django.conf import settings

from tests.test_csp_browser import _view_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = next(Path(settings.BASE_DIR, "static", "vendor").glob("axe-core-*.min.js"))
# The admin pages the project adds (its own views and templates); Django's stock admin pages are
# crawled too but their own markup is Django's (see _judged).
PROJECT_ADMIN_VIEWS = {
    "admin:index",
    "admin:enhancelog_unreviewedrejection_changelist",
    "admin:enhancelog_enhanceentry_review",
}
# Run in the page through the DevTools protocol (not eval), so the CSP does not stand in the way.
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
}"""


def _judged(path):
    """Every product page, and of the admin only the pages the project adds."""
    return not path.startswith("/admin/") or _view_of(path.split("?")[0]) in PROJECT_ADMIN_VIEWS


def test_axe_is_never_linked_from_a_page(client, make_user):
    client.force_login(make_user("root", superuser=True))
    for path in ("/", "/enhances/", "/logs/", "/runs/"):
        assert "axe-core" not in client.get(path).content.decode(), path
