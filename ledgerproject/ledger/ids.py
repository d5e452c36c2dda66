"""Ids that appear in URLs: one rule for what a path segment can carry, and links that never raise."""

from django.core.exceptions import ValidationError
from django.urls import NoReverseMatch, reverse

# What one `<str:…>` path segment cannot carry: a "/" ends the segment, and a browser rewrites
# "\" to "/" and resolves "." and ".." segments before the request is ever sent.
URL_ID_RULE = "an id used in URLs must not be empty, contain '/' or '\\', or be '.' or '..'"


def url_id_problem(value):
    """Why `value` cannot be one URL path segment, or None when it can."""
    if value is None:
        return None
    text = str(value)
    if not text:
        return "must not be empty"
    if "/" in text or "\\" in text:
        return "must not contain '/' or '\\': the id is one segment of this entry's URLs"
    if text in (".", ".."):
        return "must not be '.' or '..': browsers resolve those segments away"
    return None


def validate_url_id(value):
    """Django field validator: refuse what a URL path segment cannot carry."""
    problem = url_id_problem(value)
    if problem:
        raise ValidationError(f"{problem}.", code="url_id")


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
