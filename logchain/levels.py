"""The seed's log levels (Trace < Debug < Info < Warn < Error) and record limits; importable before apps load."""

import logging

# Spelled as the seed's serde JSON spells them (no rename), in ascending order.
LEVELS = ("Trace", "Debug", "Info", "Warn", "Error")
RANK = {name: rank for rank, name in enumerate(LEVELS)}

# Far above any real log line; keeps one record from filling a request body or a page.
MAX_MESSAGE_CHARS = 65_536


def at_least(min_level):
    """The level names >= min_level (the seed's `level >= min_level` filter)."""
    return list(LEVELS[RANK[min_level] :])


def from_python(levelno):
    """The seed level for a Python logging level number (CRITICAL folds into Error)."""
    if levelno >= logging.ERROR:
        return "Error"
    if levelno >= logging.WARNING:
        return "Warn"
    if levelno >= logging.INFO:
        return "Info"
    if levelno >= logging.DEBUG:
        return "Debug"
    return "Trace"
