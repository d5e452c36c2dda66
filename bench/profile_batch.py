"""Per-row cost of a batch POST, in process: cProfile on the view (parse, validate, append, render) for each batch ledger.

    scripts/with-postgres.sh .venv/bin/python bench/profile_batch.py --size 1000 --rounds 3

No HTTP server and no other process: the array is POSTed through Django's test client (token authentication,
the real middleware and view), so the figures do not depend on what else the machine runs as much as
bench/append.py's. Prints, per batch ledger, the wall time per row without the profiler, the Python function
calls per row (load-independent), and the cumulative time per row of the append path's steps under cProfile.
--sqlite runs on a scratch SQLite file instead (no COPY: Django's bulk INSERT). --sample replaces cProfile with a
stack sampler (a thread reads the request thread's stack every --interval ms): each step's share of the unprofiled
wall time, so the µs per row of the steps add up to the measured total instead of cProfile's inflated one.
"""

import argparse
import cProfile
import gc
import json
import os
import pstats
import sys
import tempfile
import threading
import time
from collections import Counter

from append import experience_body, log_body, output_body, run_event_body
from harness import enhance_body, setup_django

STEPS = [
    ("parse JSON", [("rest_framework/request.py", "_parse")]),
    ("serializer is_valid", [("rest_framework/serializers.py", "is_valid")]),
    ("fast path: validate", [("ledger/fast_batch.py", "validate_items")]),
    ("append_many (all)", [("ledger/models/entries.py", "append_many")]),
    ("  Model.__init__", [("django/db/models/base.py", "__init__")]),
    ("  fast path: build (RowPlan.build)", [("ledger/fast_batch.py", "build")]),
    ("  full_clean", [("django/db/models/base.py", "full_clean")]),
    ("  fast path: field checks (RowPlan.clean)", [("ledger/fast_batch.py", "clean")]),
    ("  validate_append", [("models.py", "validate_append"), ("models/run_events.py", "validate_append")]),
    ("  validate_append", [("models/outputs.py", "validate_append")]),
    ("  ledger_content", [("ledger/models/entries.py", "ledger_content")]),
    ("  fast path: content (RowPlan.content)", [("ledger/fast_batch.py", "content")]),
    ("  canonical JSON", [("ledger/hashing.py", "canonical_json")]),
    ("  entry hash", [("ledger/hashing.py", "entry_hash")]),
    ("  lock + conflicts + tip", [("ledger/models/append.py", "_refuse_conflicts_and_read_tip")]),
    ("  scope counters", [("ledger/models/append.py", "_assign_scope_counters")]),
    ("  COPY / INSERT", [("ledger/bulk_insert.py", "insert_entries")]),
    ("  rollups", [("ledger/rollups.py", "record")]),
    ("answer rows (ListSerializer.to_representation)", [("rest_framework/serializers.py", "to_representation", 728)]),
    ("render JSON", [("rest_framework/response.py", "rendered_content")]),
    ("whole view (AppendMixin.create)", [("ledger/api.py", "create")]),
]


def step_costs(stats):
    costs = {}
    for label, functions in STEPS:
        total = costs.get(label, 0.0)
        for (path, line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.stats.items():
            for suffix, function, *at in functions:
                if path.endswith(suffix) and name == function and (not at or at[0] == line):
                    total += cumulative
        costs[label] = total
    return costs


def _step_of(code, line):
    """The labels of STEPS whose function is `code` (at `line` when the step names one)."""
    labels = []
    for label, functions in STEPS:
        for suffix, function, *at in functions:
            if code.co_filename.endswith(suffix) and code.co_name == function and (not at or at[0] == line):
                labels.append(label)
    return labels


class Sampler:
    """Samples one thread's stack every `interval` seconds: per step, how many samples had it on the stack."""

    def __init__(self, interval):
        self.interval, self.target = interval, threading.get_ident()
        self.steps, self.leaves, self.samples = Counter(), Counter(), 0
        self._labels, self._running = {}, False

    def _labels_of(self, code):
        key = (code, code.co_firstlineno)
        if key not in self._labels:
            self._labels[key] = _step_of(code, code.co_firstlineno)
        return self._labels[key]

    def _run(self):
        while self._running:
            time.sleep(self.interval)
            frame = sys._current_frames().get(self.target)
            if frame is None:
                continue
            self.samples += 1
            self.leaves[f"{frame.f_code.co_filename.rsplit('/', 2)[-2:]}:{frame.f_code.co_name}"] += 1
            seen = set()
            while frame is not None:
                seen.update(self._labels_of(frame.f_code))
                frame = frame.f_back
            self.steps.update(seen)

    def __enter__(self):
        self._running = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._running = False
        self._thread.join()


class CollectorTime:
    """The time the cyclic garbage collector spends in its passes (gc.callbacks), and how many of each generation."""

    def __init__(self):
        self.seconds, self.passes, self._started = 0.0, [0, 0, 0], None

    def __call__(self, phase, info):
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self.passes[info["generation"]] += 1
            self._started = None

    def __enter__(self):
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self)


def batch_shapes(highest_node=10**6):
    """A superuser's API-token client (Django's test client, in process) and, for every ledger that takes
    arrays, name → (tag → (list URL, i → the i-th item of a batch tagged `tag`)). A run events batch goes to
    a new run's events URL; a log records batch to a node of its own. Call after migrating."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from ledgerproject.ledger.models import ApiToken

    user = get_user_model().objects.create_superuser("bench", password="x")
    client = Client(HTTP_AUTHORIZATION=f"Token {ApiToken.objects.issue(user, 'bench')[1]}")

    def run_url():
        response = client.post(
            "/api/v1/runs/",
            json.dumps({"spec_digest": "a" * 64, "metadata": {"agent_name": "bench", "tags": {}}}),
            content_type="application/json",
        )
        assert response.status_code == 201, response.content[:300]
        return f"/api/v1/runs/{response.json()['run_id']}/events/"

    nodes = iter(range(1000, highest_node))

    def log_route(node):
        return "/api/v1/logs/", lambda i: log_body(i, node)

    return client, {
        "enhance": lambda tag: ("/api/v1/enhances/", lambda i: enhance_body(i, tag)),
        "experience": lambda tag: ("/api/v1/events/", lambda i: experience_body(i, tag)),
        "run_events": lambda tag: (run_url(), lambda i: run_event_body(i, tag)),
        "logs": lambda tag: log_route(next(nodes)),
        "outputs": lambda tag: ("/api/v1/outputs/", lambda i: output_body(i, tag)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="entries per batch")
    parser.add_argument("--rounds", type=int, default=3, help="batches per ledger (timed and profiled each)")
    parser.add_argument("--sqlite", action="store_true", help="a scratch SQLite file instead of DATABASE_URL")
    parser.add_argument("--only", help="one ledger: enhance, experience, run_events, logs, outputs")
    parser.add_argument("--top", type=int, default=0, help="also print the top N functions by own time")
    parser.add_argument(
        "--sort",
        default="tottime",
        help="--top's order: tottime, cumulative or ncalls (calls per row show the Python work)",
    )
    parser.add_argument("--sample", action="store_true", help="a stack sampler instead of cProfile (wall shares)")
    parser.add_argument(
        "--answer",
        choices=["entries", "minimal"],
        default="entries",
        help="the stored entries (default) or, sent Prefer: return=minimal, where they went",
    )
    parser.add_argument("--interval", type=float, default=0.5, help="--sample: ms between samples")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="ledger-profile-batch-")
    os.environ["LEDGER_VAR_DIR"] = workdir
    if args.sqlite:
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
    elif "DATABASE_URL" not in os.environ:
        raise SystemExit("set DATABASE_URL (scripts/with-postgres.sh) or pass --sqlite")
    else:
        from harness import recreate_database, require_postgres_url

        os.environ["DATABASE_URL"] = recreate_database(require_postgres_url(), "profile_batch")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    client, shapes = batch_shapes()
    print(f"{args.size} entries per batch, {args.rounds} batches per ledger; {os.environ['DATABASE_URL'][:10]}…")
    for name, shape in shapes.items():
        if args.only and name != args.only:
            continue
        prefer = {"HTTP_PREFER": "return=minimal"} if args.answer == "minimal" else {}
        walls, cpus, collector, profile = [], [], [], cProfile.Profile()
        sampler = Sampler(args.interval / 1000)
        sampled_seconds = 0.0
        whole = CollectorTime().__enter__()  # every pass of the rounds, wherever the request's last one falls
        for round_ in range(args.rounds * 2):
            url, body = shape(f"{name}-{round_}-{time.time_ns()}")
            payload = json.dumps([body(i) for i in range(args.size)])
            profiled = round_ % 2 == 1
            if profiled and args.sample:
                with sampler:
                    started = time.perf_counter()
                    response = client.post(url, payload, content_type="application/json", **prefer)
                    sampled_seconds += time.perf_counter() - started
            else:
                started, cpu = time.perf_counter(), time.process_time()
                if profiled:
                    profile.enable()
                with CollectorTime() as collected:
                    response = client.post(url, payload, content_type="application/json", **prefer)
                if profiled:
                    profile.disable()
                else:
                    walls.append(time.perf_counter() - started)
                    cpus.append(time.process_time() - cpu)
                    collector.append(collected)
            assert response.status_code == 201, (name, response.status_code, response.content[:500])
            del response
        gc.collect()  # what the rounds left for a full pass, counted too
        whole.__exit__()
        rows = args.rounds * args.size
        best = min(walls) / args.size * 1e6
        cpu = f"{min(cpus) / args.size * 1e6:,.0f} µs/row of this process's CPU"
        if args.sample:
            print(
                f"\n{name}: {best:,.0f} µs/row without the sampler (best of {args.rounds}; {cpu}), {sampler.samples} samples"
            )
            per_sample = sampled_seconds / max(sampler.samples, 1) / rows * 1e6
            for label, _functions in STEPS:
                if sampler.steps[label]:
                    print(f"  {label:<48} {sampler.steps[label] * per_sample:8.1f} µs/row (sampled wall)")
            for leaf, count in sampler.leaves.most_common(args.top):
                print(f"    {count * per_sample:6.1f} µs/row  {leaf}")
            continue
        stats = pstats.Stats(profile)
        least = min(collector, key=lambda collected: collected.seconds)
        print(
            f"\n{name}: {best:,.0f} µs/row without the profiler (best of {args.rounds}; {cpu}), "
            f"{stats.total_calls / rows:,.0f} function calls/row; garbage collector {least.seconds / args.size * 1e6:,.1f} "
            f"µs/row in {'/'.join(map(str, least.passes))} passes of generations 0/1/2 (least of the rounds); "
            f"over all {args.rounds * 2} rounds and a last full pass, {whole.seconds * 1e3:,.1f} ms in "
            f"{'/'.join(map(str, whole.passes))} passes"
        )
        for label, seconds in step_costs(stats).items():
            if seconds:
                print(f"  {label:<48} {seconds / rows * 1e6:8.1f} µs/row (profiled)")
        if args.top:
            stats.sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
