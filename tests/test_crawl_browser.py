"""One crawl of every page in Chromium, with the demo data loaded, checking on each page load:
the Content-Security-Policy (header present, no violation), no console error, uncaught error or failed
load, and no serious or critical axe-core violation in light and in dark mode.

One crawl instead of three (a CSP crawl and an axe crawl per colour scheme): the same pages, reached
the same way, with one demo load and one sign-in; each page judged by axe is loaded in light mode
(where the CSP checks run) and reloaded in dark mode.
"""

from collections import deque

import pytest
from django.core.management import call_command

from tests.test_axe_browser import AXE, PROJECT_ADMIN_VIEWS, RUN_AXE, _judged
from tests.test_csp_browser import MAX_PAGES, PER_VIEW, Visitor, _view_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMES = ("light", "dark")
# The pages the CSP crawl and the accessibility crawl each had to reach.
MUST_REACH = (
    "home", "enhancelog:dashboard", "enhancelog:detail", "enhancelog:trace", "experience:event",
    "experience:artifact", "runs:run-detail", "runs:run-list", "releases:history", "logchain:viewer",
    "ledger-entry", "admin:index", "swagger-ui", *sorted(PROJECT_ADMIN_VIEWS),
)  # fmt: skip


def _axe_in_each_scheme(page, label):
    """Serious or critical violations of the loaded page, judged in light and then in dark mode.

    The page is reloaded in dark mode rather than switched in place: a switch starts the theme's
    colour transitions, and axe would judge the contrast of colours half-way through them.
    """
    found = []
    for index, scheme in enumerate(SCHEMES):
        if index:
            page.emulate_media(color_scheme=scheme)
            page.reload()
            page.wait_for_load_state("load")
        found += [f"{label} ({scheme}): {violation}" for violation in page.evaluate(RUN_AXE)]
    page.emulate_media(color_scheme=SCHEMES[0])
    return found


def test_every_page_satisfies_the_csp_and_has_no_serious_accessibility_violation_in_either_scheme(
    page, live_server, login, make_user
):
    call_command("load_demo", "--no-progress")
    page.context.add_init_script(path=str(AXE))
    visitor = Visitor(page, live_server.url)
    page.emulate_media(color_scheme=SCHEMES[0])
    visitor.visit("/accounts/login/")  # before signing in
    axe_problems = _axe_in_each_scheme(page, "/accounts/login/")
    login(make_user("root", superuser=True))
    visitor.expected["/no-such-page/"] = 404
    assert visitor.visit("/no-such-page/") == 404  # the error pages are in the layout too
    axe_problems += _axe_in_each_scheme(page, "404 page")

    seen_views, queued, judged = {}, set(), 0
    todo = deque(["/", "/admin/", "/api/docs/"])
    visited = 0
    while todo and visited < MAX_PAGES:
        path = todo.popleft()
        view = _view_of(path.split("?")[0])
        if view is None or seen_views.get(view, 0) >= PER_VIEW:
            continue
        seen_views[view] = seen_views.get(view, 0) + 1
        visitor.visit(path)
        visited += 1
        if _judged(path):
            axe_problems += _axe_in_each_scheme(page, path)
            judged += 1
        for link in visitor.links():
            if link not in queued:
                queued.add(link)
                todo.append(link)

    for view in MUST_REACH:
        assert view in seen_views, f"{view} was never reached; reached: {sorted(seen_views)}"
    print(
        f"crawl: {visited} pages (axe judged {judged} in {len(SCHEMES)} schemes), views: {', '.join(sorted(seen_views))}"
    )
    assert not visitor.problems, "\n".join(visitor.problems)
    assert not axe_problems, "\n".join(axe_problems)
    assert visited >= 30, sorted(seen_views)
