"""Benchmark: payload validation alone — the twelve experience event kinds and the four task output events.

Usage (no database needed):
    .venv/bin/python bench/validation.py [--n N] [--repeat R]

Each payload is validated N times per round, R rounds, and the best round is kept (the least
disturbed by other work on a shared machine), timed in CPU time of this process: microseconds per validation, for each kind and in
total, for valid payloads and for payloads with one bad field (the error path builds the per-field
messages). The script calls whichever validation the checkout has — the pydantic models
(`experience.schemas`, `runs.schemas`) or the hand-written validators they replaced
(`experience/schema.py`, `runs.models.validate_output_event`) — so running it on the commit
before the change gives the old figures to compare with (bench/README.md has both).
"""

import argparse
import copy
import hashlib
import sys
import time

from harness import setup_django

setup_django("ledgerproject.test_settings")

from django.core.exceptions import ValidationError  # noqa: E402

from experience.tests.conftest import VALID  # noqa: E402

try:
    from experience import schemas as experience_schemas  # noqa: E402
    from runs.schemas import output_event_fields  # noqa: E402

    CODE = "pydantic models (experience/schemas.py, runs/schemas.py)"

    def validate_event(kind, data):
        return experience_schemas.validate_event(kind, data)

    def validate_output(event):
        return output_event_fields(event)

    EVENT_ERRORS = (experience_schemas.PayloadError,)
except ImportError:  # the hand-written validators before the change
    from experience import schema as experience_schema  # noqa: E402
    from runs.models import validate_output_event  # noqa: E402

    CODE = "hand-written validators (experience/schema.py, runs/models.py)"

    def validate_event(kind, data):
        return experience_schema.ExperienceEventSchema.validate({"type": kind, "data": data}, "event")

    def validate_output(event):
        return validate_output_event(event)

    EVENT_ERRORS = (experience_schema.SchemaError,)

DIGEST = hashlib.sha256(b"bench").hexdigest()
OUTPUTS = {
    "progress": {"type": "progress", "stage": "fetch", "note": "3 of 7 sources"},
    "partial": {"type": "partial", "chunk": {"kind": "inline", "value": {"text": "partial answer", "tokens": 12}}},
    "artifact": {
        "type": "artifact",
        "name": "report.md",
        "content": {"kind": "blob", "digest": DIGEST.upper(), "mime": "text/markdown", "size_hint": 2048},
    },
    "final": {"type": "final", "ok": True, "content": {"kind": "blob", "digest": DIGEST}},
}


def broken_event(kind):
    """The kind's valid payload with one field of the wrong type (the first one that is a string)."""
    data = copy.deepcopy(VALID[kind])
    for key, value in data.items():
        if isinstance(value, str):
            data[key] = 12345
            return data
    first = next(iter(data))
    data[first] = "not an object"
    return data


BROKEN_OUTPUTS = {
    "progress": {"type": "progress", "stage": 3},
    "partial": {"type": "partial", "chunk": {"kind": "blob", "digest": "nope"}},
    "artifact": {"type": "artifact", "name": "", "content": {"kind": "inline", "value": 1}},
    "final": {"type": "final", "ok": "yes", "content": {"kind": "inline", "value": 1}},
}


def best_us(call, payload, n, repeat, errors=()):
    """Best-of-`repeat` microseconds per call over `n` calls (each on a fresh copy, as a request body is)."""
    copies = [[copy.deepcopy(payload) for _ in range(n)] for _ in range(repeat)]
    best = float("inf")
    for batch in copies:
        # CPU time of this process: on a shared machine wall time mostly measures the other processes.
        started = time.process_time()
        for item in batch:
            try:
                call(item)
            except errors:
                pass
        best = min(best, time.process_time() - started)
    return best / n * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="validations per payload per round (default 2000)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best is kept (default 5)")
    args = parser.parse_args()
    print(f"validation: {CODE}; best of {args.repeat} rounds of {args.n} per payload (CPU µs per validation)")
    rows = []
    for kind in VALID:
        ok = best_us(lambda d, k=kind: validate_event(k, d), VALID[kind], args.n, args.repeat)
        bad = best_us(lambda d, k=kind: validate_event(k, d), broken_event(kind), args.n, args.repeat, EVENT_ERRORS)
        rows.append(("experience", kind, ok, bad))
    for kind, event in OUTPUTS.items():
        ok = best_us(validate_output, event, args.n, args.repeat)
        bad = best_us(validate_output, BROKEN_OUTPUTS[kind], args.n, args.repeat, (ValidationError,))
        rows.append(("outputs", kind, ok, bad))
    print(f"{'ledger':<11} {'kind':<26} {'valid µs':>9} {'invalid µs':>11}")
    for ledger, kind, ok, bad in rows:
        print(f"{ledger:<11} {kind:<26} {ok:>9.1f} {bad:>11.1f}")
    for ledger in ("experience", "outputs"):
        mine = [row for row in rows if row[0] == ledger]
        print(
            f"{ledger:<11} {'mean of kinds':<26} {sum(r[2] for r in mine) / len(mine):>9.1f} "
            f"{sum(r[3] for r in mine) / len(mine):>11.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
