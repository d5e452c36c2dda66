"""`{% link %}`: a link to a page named by stored ids that renders as plain text when no route can carry them."""

from django import template
from django.utils.html import format_html

from ledgerproject.ledger.ids import safe_reverse

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
