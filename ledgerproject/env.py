"""Strict readers for settings that come from the environment."""

import math
import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name, default=""):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off")


def _number(name, parse, what):
    """NAME read by `parse` (int, float), or None when unset or empty; a value it refuses fails naming NAME."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return parse(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not {what}") from None


def env_int(name, default, minimum=None, maximum=None):
    value = _number(name, int, "a whole number")
    if value is None:
        return default
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum {minimum}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value} is above the maximum {maximum}")
    return value


def env_float(name, default, minimum=None):
    """A finite number from NAME ("2", "0.5"); unset or empty gives `default`."""
    value = _number(name, float, "a number")
    if value is None:
        return default
    if not math.isfinite(value):
        raise ImproperlyConfigured(f"{name}={os.environ[name]!r} is not a finite number")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value:g} is below the minimum {minimum:g}")
    return value


def env_choice(name, choices, default):
    """One of `choices` from NAME (case-insensitive); unset or empty gives `default`."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={raw!r} is not one of {', '.join(choices)}")
    return value


def env_list(name, default=()):
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_secret(name, default=None):
    """A secret from NAME, or from the file named by NAME_FILE (for container secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            with open(file_name, encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc}") from None
    return os.environ.get(name, default)


def env_database_urls(name, engine, conn_max_age=0):
    """Database settings from NAME, a comma-separated list of database URLs (none when unset or empty).

    Each URL is parsed strictly with dj-database-url and must name `engine` (e.g. "postgresql");
    the error names the variable and the item's position, never the URL itself (it may hold a password).
    """
    import dj_database_url

    configs = []
    for position, url in enumerate(env_list(name), start=1):
        try:
            config = dj_database_url.parse(url, conn_max_age=conn_max_age)
        except Exception as exc:  # UnknownSchemeError, ParseError, ValueError: all mean a bad URL
            raise ImproperlyConfigured(
                f"{name}: item {position} is not a database URL ({type(exc).__name__})"
            ) from None
        if not config["ENGINE"].endswith(f".{engine}"):
            raise ImproperlyConfigured(f"{name}: item {position} names {config['ENGINE']}; it must be {engine}")
        if not config.get("NAME"):
            raise ImproperlyConfigured(f"{name}: item {position} names no database")
        configs.append(config)
    return configs


def env_url(name, schemes, default=""):
    """A URL from NAME whose scheme is one of `schemes` (empty when unset)."""
    raw = os.environ.get(name, default).strip()
    if raw and raw.split("://", 1)[0].lower() not in schemes:
        raise ImproperlyConfigured(f"{name}={raw.split('@')[-1]!r} must start with one of {', '.join(schemes)}://")
    return raw


def env_rate(name, default):
    """A throttle rate from NAME: requests per second, minute, hour or day ("10/min", "1000/hour")."""
    raw = os.environ.get(name, default).strip()
    count, _, period = raw.partition("/")
    if not count.isdigit() or not period or period[0] not in "smhd":
        raise ImproperlyConfigured(f"{name}={raw!r} is not a rate like 10/min (per s, min, hour or day)")
    return raw
