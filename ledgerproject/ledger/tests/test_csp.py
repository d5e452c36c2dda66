"""The Content-Security-Policy header, and templates that need no inline script or style to satisfy it."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
INLINE = [
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"<style[\s>]", re.I), "a <style> element"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
    # A <script> without src runs inline code, unless it only carries data (type="application/json").
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I), "an inline <script>"),
]


@pytest.mark.django_db
def test_it_sends_the_policy_on_pages(client, bob):
    client.force_login(bob)
    for path in ("/accounts/login/", "/"):
        policy = client.get(path)["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
        assert directives["default-src"] == "'self'"
        assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
        assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
        assert directives["base-uri"] == "'self'"
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_it_keeps_inline_script_and_style_out_of_the_templates():
    found = []
    for template in sorted((REPO / "templates").rglob("*.html")):
        text = template.read_text()
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{template.relative_to(REPO)}:{line}: {what}")
    assert not found, "\n".join(found)
