"""The worker's CPU per single append, in process, for every single shape: the figure that moves least with the machine's load.

    scripts/with-postgres.sh .venv/bin/python bench/single_cpu.py [--requests 200] [--rounds 3] [--only "create run"]

No HTTP server and no other process: each shape's requests go through Django's test client with an API token
(the real middleware, authentication, view, serializer and append path), one at a time. Per shape it prints
the process's CPU ms per request and the wall ms per request, each the best of `--rounds`. The wall time
includes PostgreSQL's; the CPU time does not (it includes the test client's own small share).
"""

import argparse
import gc
import hashlib
import json
import os
import time

from append import experience_body, output_body, promote_body, run_event_body
from harness import enhance_body, prepare_database, setup_django


def shapes(tag, routes_of):
    """name → (URL, i → the i-th body) for every single shape, keys tagged `tag` (a fresh set per round)."""
    run_events_url, _ = routes_of["run_events"](tag)
    logs_url, log_body = routes_of["logs"](tag)
    return {
        "create run": (
            "/api/v1/runs/",
            lambda i: {
                "spec_digest": hashlib.sha256(f"{tag}-{i}".encode()).hexdigest(),
                "metadata": {"agent_name": f"bench-{i % 50}", "tags": {"bp": f"bp-{i % 50}"}},
            },
        ),
        "enhance entry": ("/api/v1/enhances/", lambda i: enhance_body(i, tag)),
        "run event": (run_events_url, lambda i: run_event_body(i, tag)),
        "experience event": ("/api/v1/events/", lambda i: experience_body(i, tag)),
        "log record": (logs_url, log_body),
        "output": ("/api/v1/outputs/", lambda i: output_body(i, tag)),
        "promote": (f"/api/v1/releases/bench-{tag}/promote/", lambda i: promote_body(i, tag)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per shape and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (the best of them is printed)")
    parser.add_argument("--only", action="append", help="measure only this shape (repeatable)")
    args = parser.parse_args()
    # As profile_batch.py: the settings refuse to load without a key, and the test client's host must be allowed.
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    setup_django()
    prepare_database(allow_sqlite=False)
    from profile_batch import batch_shapes

    client, routes_of = batch_shapes()
    best = {}
    for round_ in range(args.rounds):
        for name, (url, body) in shapes(f"r{round_}-{time.time_ns()}", routes_of).items():
            if args.only and name not in args.only:
                continue
            bodies = [json.dumps(body(i)) for i in range(args.requests)]
            gc.collect()
            cpu, wall = time.process_time(), time.perf_counter()
            for text in bodies:
                response = client.post(url, text, content_type="application/json")
                if response.status_code != 201:
                    raise SystemExit(f"{name}: {response.status_code} {response.content[:300]!r}")
            cpu = (time.process_time() - cpu) / args.requests * 1e3
            wall = (time.perf_counter() - wall) / args.requests * 1e3
            old_cpu, old_wall = best.get(name, (cpu, wall))
            best[name] = (min(cpu, old_cpu), min(wall, old_wall))
    print(f"{'shape':20s} {'CPU ms/request':>15s} {'wall ms/request':>16s}   (best of {args.rounds} × {args.requests})")
    for name, (cpu, wall) in best.items():
        print(f"{name:20s} {cpu:15.2f} {wall:16.2f}")


if __name__ == "__main__":
    main()
