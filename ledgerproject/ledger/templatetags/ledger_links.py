"""`{% link %}`: a link to a page named by stored ids that renders as plain text when no route can carry them."""

import html
import json
import re
from urllib.parse import urlencode

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from ledgerproject.ledger.ids import safe_reverse
from ledgerproject.ledger.search import id_url

register = template.Library()


@register.simple_tag
def link(viewname, *args, label=None, css=None):
    """`{% link 'enhancelog:trace' e.blueprint_id %}`: <a href=…>blueprint id</a>, or the escaped text alone
    when the id cannot be routed (a row stored before the URL id rule), never an error for the whole page."""
    text = label if label is not None else (args[-1] if args else "")
    url = safe_reverse(viewname, args=args)
    if url is None:
        return format_html('<span class="unroutable" title="this id cannot be linked">{}</span>', text)
    if css:
        return format_html('<a href="{}" class="{}">{}</a>', url, css, text)
    return format_html('<a href="{}">{}</a>', url, text)


@register.simple_tag
def id_link(kind, value, label=None, css="hash"):
    """`{% id_link 'run id' run.run_id %}`: the id as a link to its page (the kinds the ledgers declare
    in search_fields: "run id", "blob digest", "correlation id", "release name", …), or plain text."""
    if value in (None, ""):
        return ""
    text = label if label is not None else value
    url = id_url(kind, value)
    if url is None:
        return format_html('<span class="{}">{}</span>', css, text)
    return format_html('<a href="{}" class="{}" data-id-kind="{}">{}</a>', url, css, kind, text)


@register.simple_tag
def trail_link(value, label="Trail across every ledger"):
    """A link to the trail page of an id: every entry in every ledger that refers to it."""
    if value in (None, ""):
        return ""
    url = safe_reverse("trail")
    return format_html('<a href="{}?{}" data-testid="trail-link">{}</a>', url, urlencode({"id": str(value)}), label)


# JSON keys whose string values are ids of a kind the ledgers declare (search_fields labels).
JSON_ID_KEYS = {
    "issue_id": "issue id",
    "blueprint_id": "blueprint id",
    "event_id": "event id",
    "correlation_id": "correlation id",
    "chain_id": "chain id",
    "artifact_id": "artifact id",
    "trace_link_id": "trace link id",
    "run_id": "run id",
    "task_id": "task id",
    "spec_digest": "spec digest",
    "digest": "blob digest",
    "blob_digest": "blob digest",
    "final_state_digest": "blob digest",
    "agent_name": "agent",
}
_KEYS = "|".join(map(re.escape, JSON_ID_KEYS))
_JSON_ID = re.compile(rf"(&quot;({_KEYS})&quot;: &quot;)([^&<>]+?)(&quot;)")


@register.filter
def json_links(value):
    """A JSON value (or JSON text) pretty-printed and escaped, with the string values of known id
    keys (run_id, artifact_id, digest, …) as links to their pages."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return escape(value)
    text = escape(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))

    def link(match):
        url = id_url(JSON_ID_KEYS[match.group(2)], html.unescape(match.group(3)))
        if url is None:
            return match.group(0)
        return f'{match.group(1)}<a href="{escape(url)}">{match.group(3)}</a>{match.group(4)}'

    # Safe: the text was escaped whole; only links built from escaped parts were added.
    return mark_safe(_JSON_ID.sub(link, text))
