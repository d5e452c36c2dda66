"""Accessibility: axe-core (vendored, injected by the test only) over every page and the project's admin pages.

No serious or critical violation on any page, with the demo data loaded, in light and in dark mode.
"""

from collections import deque
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.test_csp_browser import SKIP_PREFIXES, _view_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = next(Path(settings.BASE_DIR, "static", "vendor").glob("axe-core-*.min.js"))
SERIOUS = ("serious", "critical")
MAX_PAGES = 150
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


def _links(page, base):
    hrefs = page.eval_on_selector_all("a[href]", "nodes => nodes.map(n => n.getAttribute('href'))")
    for href in hrefs:
        url = urlsplit(urljoin(page.url, href))
        if f"{url.scheme}://{url.netloc}" == base and not url.path.startswith(SKIP_PREFIXES):
            if "format=" not in url.query and "/delete/" not in url.path:
                yield url.path + (f"?{url.query}" if url.query else "")


def _judged(path):
    """Every product page, and of the admin only the pages the project adds."""
    return not path.startswith("/admin/") or _view_of(path.split("?")[0]) in PROJECT_ADMIN_VIEWS


def _crawl(page, base, start):
    """Every view once: (path, [serious or critical violations])."""
    seen, queued, found = set(), set(), []
    todo = deque(start)
    while todo and len(seen) < MAX_PAGES:
        path = todo.popleft()
        view = _view_of(path.split("?")[0])
        if view is None or view in seen:
            continue
        seen.add(view)
        page.goto(path)
        page.wait_for_load_state("load")
        if _judged(path):
            found.append((path, page.evaluate(RUN_AXE)))
        for link in _links(page, base):
            if link not in queued:
                queued.add(link)
                todo.append(link)
    return seen, found


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_page_has_a_serious_or_critical_accessibility_violation(page, live_server, login, make_user, scheme):
    call_command("load_demo", "--no-progress")
    page.context.add_init_script(path=str(AXE))
    page.emulate_media(color_scheme=scheme)
    page.goto("/accounts/login/")
    problems = [f"/accounts/login/: {v}" for v in page.evaluate(RUN_AXE)]
    login(make_user("root", superuser=True))
    page.goto("/no-such-page/")  # the error pages are in the layout too
    problems += [f"404 page: {v}" for v in page.evaluate(RUN_AXE)]
    seen, found = _crawl(page, live_server.url, ["/", "/admin/", "/api/docs/"])
    problems += [f"{path}: {violation}" for path, violations in found for violation in violations]
    for view in ("home", "enhancelog:dashboard", "enhancelog:trace", "experience:artifact", "runs:run-list",
                 "releases:history", "logchain:viewer", "ledger-entry", "admin:index",
                 *PROJECT_ADMIN_VIEWS):  # fmt: skip
        assert view in seen, f"{view} was never reached; reached: {sorted(seen)}"
    print(f"axe ({scheme}): {len(found)} pages")
    assert not problems, "\n".join(problems)


def test_axe_is_never_linked_from_a_page(client, make_user):
    client.force_login(make_user("root", superuser=True))
    for path in ("/", "/enhances/", "/logs/", "/runs/"):
        assert "axe-core" not in client.get(path).content.decode(), path
