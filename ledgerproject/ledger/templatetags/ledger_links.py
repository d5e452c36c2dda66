"""`{% link %}`: a link to a page named by stored ids that renders as plain text when no route can carry them."""

from urllib.parse import urlencode

from django import template
from django.utils.html import format_html

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
