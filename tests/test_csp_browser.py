"""The Content-Security-Policy in Chromium: what the crawl records on each page, and the pages that start scripts.

The crawl itself (every page: no violation, no console error, no failed load) runs once, together
with the accessibility checks, in tests/test_crawl_browser.py.
"""

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
        # Paths whose error status is the point of the visit (the 404 page): {path: status}.
        self.expected = {}
        page.context.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self.on_console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: uncaught: {error}"))
        page.on("response", self.on_response)

    def on_console(self, message):
        # A failed load is reported below with its URL (the browser's own /favicon.ico probe aside).
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"{self.page.url}: console: {message.text}")

    def on_response(self, response):
        path = urlsplit(response.url).path
        if response.status >= 400 and path != "/favicon.ico" and self.expected.get(path) != response.status:
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
