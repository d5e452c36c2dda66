"""Every page of the product under the Content-Security-Policy, in Chromium: no violation, no console error."""

from collections import deque
from urllib.parse import urljoin, urlsplit

import pytest
from django.core.management import call_command
from django.urls import Resolver404, resolve

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Recorded in the page itself, as the browser reports them (Playwright's init script is exempt from the CSP).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber}`);
});
"""
# Not pages: actions (logout), downloads and the JSON API (only its documentation page is a page).
SKIP_PREFIXES = ("/accounts/logout/", "/admin/logout/", "/static/", "/media/", "/api/v1/", "/api/schema/")
MAX_PAGES = 150
PER_VIEW = 1


def _view_of(path):
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.view_name or match._func_path


class Visitor:
    def __init__(self, page, base):
        self.page, self.base = page, base
        self.problems = []
        page.context.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self.on_console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: uncaught: {error}"))
        page.on("response", self.on_response)

    def on_console(self, message):
        # A failed load is reported below with its URL (the browser's own /favicon.ico probe aside).
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"{self.page.url}: console: {message.text}")

    def on_response(self, response):
        if response.status >= 400 and urlsplit(response.url).path != "/favicon.ico":
            self.problems.append(f"{self.page.url}: HTTP {response.status} for {response.url}")

    def visit(self, path):
        response = self.page.goto(path)
        self.page.wait_for_load_state("load")
        status = response.status if response else None
        assert "default-src 'self'" in (response.headers.get("content-security-policy") or ""), path
        for violation in self.page.evaluate("window.__cspViolations || []"):
            self.problems.append(f"{path}: CSP: {violation}")
        return status

    def links(self):
        hrefs = self.page.eval_on_selector_all("a[href]", "nodes => nodes.map(n => n.getAttribute('href'))")
        for href in hrefs:
            url = urlsplit(urljoin(self.page.url, href))
            if f"{url.scheme}://{url.netloc}" == self.base and not url.path.startswith(SKIP_PREFIXES):
                if "format=" not in url.query and "/delete/" not in url.path:
                    yield url.path + (f"?{url.query}" if url.query else "")


def test_every_page_satisfies_the_content_security_policy(page, live_server, login, make_user):
    call_command("load_demo", "--no-progress")
    visitor = Visitor(page, live_server.url)
    visitor.visit("/accounts/login/")  # before signing in
    login(make_user("root", superuser=True))

    seen_views, queued = {}, set()
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
        for link in visitor.links():
            if link not in queued:
                queued.add(link)
                todo.append(link)

    # The pages the issue names were among them.
    for view in ("home", "enhancelog:dashboard", "enhancelog:detail", "experience:event", "runs:run-detail",
                 "releases:history", "logchain:viewer", "ledger-entry", "admin:index", "swagger-ui"):  # fmt: skip
        assert view in seen_views, f"{view} was never reached; reached: {sorted(seen_views)}"
    print(f"CSP crawl: {visited} pages, views: {', '.join(sorted(seen_views))}")
    assert not visitor.problems, "\n".join(visitor.problems)
    assert visited >= 30, sorted(seen_views)


def test_the_api_docs_start_under_the_policy(page, login, make_user):
    login(make_user("root", superuser=True))
    page.goto("/api/docs/")
    # Swagger UI only draws the schema's title when its bundle and start-up script ran.
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Ledger API" in page.locator(".swagger-ui .info .title").inner_text()


def test_the_dashboard_window_picker_still_submits_on_change(page, login, make_user):
    call_command("load_demo", "--no-progress")
    login(make_user("root", superuser=True))
    page.goto("/enhances/")
    page.select_option("select[data-autosubmit]", "all")
    page.wait_for_url("**/enhances/?window=all")
