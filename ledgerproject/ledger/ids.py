"""Ids that appear in URLs: one rule for what a path segment can carry, and links that never raise."""

from django.core.exceptions import ValidationError
from django.urls import NoReverseMatch, reverse

# The rule itself (url_id_problem, validate_url_id) lives with the other shared field rules.
from ledgerproject.ledger.validators import url_id_problem


def check_url_ids(entry):
    """Raise a ValidationError naming each of the entry's `url_id_fields` that no route could carry."""
    errors = {}
    for name in type(entry).url_id_fields:
        problem = url_id_problem(getattr(entry, name))
        if problem:
            errors[name] = [f"{name} {problem}."]
    if errors:
        raise ValidationError(errors)


def safe_reverse(viewname, args=None, kwargs=None):
    """reverse(), or None when a stored value cannot be routed (a row from before the id rule)."""
    try:
        return reverse(viewname, args=args, kwargs=kwargs)
    except NoReverseMatch:
        return None
