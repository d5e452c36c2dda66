"""Append throughput of Ledger under gunicorn beside MLflow (gunicorn, 2 workers) and raw psycopg, one PostgreSQL.

Run it against a throwaway server:  make bench  (= scripts/with-postgres.sh .venv/bin/python bench/append.py)
or with DATABASE_URL pointing at any PostgreSQL you may create databases on. It creates fresh databases (raw
baseline, app, MLflow), migrates the app, serves it with gunicorn on 127.0.0.1, installs MLflow into a cached
throwaway virtualenv and serves it on its own database, drives both with the same HTTP client and concurrency,
and prints one table: each shape's rows/s for Ledger, MLflow and raw psycopg, Ledger ÷ MLflow, Ledger ÷ raw,
and the issue's target beside each (met / MISSED). Absolute numbers mean little on a shared machine; the ratios
within one run are the result.
"""

import argparse
import hashlib
import os
import shlex
import statistics
import sys
import time

from harness import (
    GUNICORN_ARGS,
    LOAD_CLIENTS,
    CpuMeter,
    enhance_body,
    keepalive_client_for,
    median_and_spread,
    p50_p95,
    raw_copy,
    raw_executemany,
    raw_locked_chain,
    raw_single_inserts,
    recreate_bench_databases,
    require_status,
    rounds_count,
    running_app,
    steady_rate,
    timed_threads,
    write_summary,
)

# The targets (#12): Ledger ÷ MLflow and Ledger ÷ raw for each kind of shape, list p95 in ms.
SINGLE_VS_MLFLOW = 3.0
CONCURRENT_VS_MLFLOW, CONCURRENT_VS_RAW = 3.0, 0.5
BATCH_VS_MLFLOW, BATCH_VS_RAW = 3.0, 0.5
LIST_P95_MS = 20.0


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def experience_body(i, run):
    return {
        "event_id": f"bench-{run}-{i}",
        "occurred_at": "2026-01-21T12:00:00Z",
        "tenant_id": "acme",
        "correlation_id": f"run-{i % 20}",
        "event": {
            "type": "OutcomeRecorded",
            "data": {
                "chain_id": f"chain-{i % 50}",
                "step": "Planning",
                "passed": True,
                "stop_reason": None,
                "latency_ms": 12,
                "tokens": 42 + i % 1000,
                "cost_microdollars": 1500,
                "backend": "local",
            },
        },
    }


def run_event_body(i, run):
    return {
        "kind": "tool_called",
        "payload": {"tool": "read_file", "args": {"path": f"src/module_{i % 97}.py"}, "step": i},
        "timestamp": "2026-01-21T12:00:00Z",
    }


def log_body(i, node):
    return {
        "seq": i + 1,
        "ts_ms": 1_760_000_000_000 + i,
        "level": "Info",
        "daemon_id": 7,
        "node_id": node,
        "message": f"step {i} finished",
        "chain_pending": False,
    }


def output_body(i, run):
    return {
        "task_id": f"task-{run}-{i}",
        "attempt": 1,
        "producer_agent": "bench",
        "event": {"type": "final", "content": {"kind": "inline", "value": f"answer {i}"}, "ok": True},
        "parent_refs": [],
    }


def promote_body(i, run):
    return {"spec_digest": digest(f"{run}-{i}"), "version_label": f"v{i}", "promoted_by": "bench", "notes": "bench"}


class Ledger:
    """Ledger's column: every shape over HTTP with one client (client_for(token)) per client thread."""

    def __init__(self, base, token, client_for=keepalive_client_for, minimal=False):
        # The measured appends' clients; a run to append events to is created by a client that reads its run_id.
        self.base, self.token, self.setup_client_for = base, token, client_for
        self.client_for = preferring_minimal_answers(client_for) if minimal else client_for
        self.nodes = iter(range(1000, 10**6))
        self.batch_spread = {}  # batch shape → (lowest, highest) round of its last batch_rate

    def new_run(self, i=0):
        body = {"spec_digest": digest("bench spec"), "metadata": {"agent_name": f"bench-{i}", "tags": {}}}
        response = self.setup_client_for(self.token).post(f"{self.base}/api/v1/runs/", json=body, timeout=30)
        require_status(response, 201)
        return response.json()["run_id"]

    def single_routes(self, name, clients):
        """(url, body(i)) per client for one single-append shape; each client writes its own keys."""
        tag = f"{name.replace(' ', '-')}-{clients}-{time.time_ns()}"
        routes = []
        for worker in range(clients):
            run = f"{tag}-{worker}"
            if name == "enhance entry":
                routes.append(("/api/v1/enhances/", lambda i, run=run: enhance_body(i, run)))
            elif name == "experience event":
                routes.append(("/api/v1/events/", lambda i, run=run: experience_body(i, run)))
            elif name == "run event":
                run_id = self.new_run(worker)
                routes.append((f"/api/v1/runs/{run_id}/events/", lambda i, run=run: run_event_body(i, run)))
            elif name == "log record":
                node = next(self.nodes)
                routes.append(("/api/v1/logs/", lambda i, node=node: log_body(i, node)))
            elif name == "output":
                routes.append(("/api/v1/outputs/", lambda i, run=run: output_body(i, run)))
            elif name == "promote":
                routes.append(
                    (
                        f"/api/v1/releases/bench-{worker}-{time.time_ns()}/promote/",
                        lambda i, run=run: promote_body(i, run),
                    )
                )
            elif name == "create run":
                routes.append(
                    (
                        "/api/v1/runs/",
                        lambda i, run=run: {
                            "spec_digest": digest(f"{run}-{i}"),
                            "metadata": {"agent_name": f"bench-{i % 50}", "tags": {"bp": f"bp-{i % 50}"}},
                        },
                    )
                )
            else:
                raise ValueError(name)
        return routes

    def single_rate(self, name, count, clients=1, meter=None):
        """Rows/s of single-entry POSTs of shape `name` from `clients` threads (`meter`, a CpuMeter, started as
        they begin)."""
        routes = self.single_routes(name, clients)
        per_client = count // clients

        def work(worker):
            session = self.client_for(self.token)
            url, body = routes[worker]
            for i in range(per_client):
                require_status(session.post(self.base + url, json=body(i), timeout=30), 201)

        if meter is not None:
            meter.start()
        return per_client * clients / timed_threads(work, clients)

    def batch_route(self, name):
        tag = f"{name.replace(' ', '-')}-{time.time_ns()}"
        if name == "enhance entries":
            return "/api/v1/enhances/batch/", lambda i: enhance_body(i, tag)
        if name == "experience events":
            return "/api/v1/events/batch/", lambda i: experience_body(i, tag)
        if name == "run events":
            run_id = self.new_run()
            return f"/api/v1/runs/{run_id}/events/batch/", lambda i: run_event_body(i, tag)
        if name == "log records":
            node = next(self.nodes)
            return "/api/v1/logs/batch/", lambda i: log_body(i, node)
        if name == "outputs":
            return "/api/v1/outputs/batch/", lambda i: output_body(i, tag)
        raise ValueError(name)

    def batch_rate(self, name, requests_count, size, meter=None, rounds=1):
        """Rows/s of `requests_count` batch POSTs of `size` entries of shape `name`, one after another (`meter`, a
        CpuMeter, started as the first is sent): the median of `rounds` rounds, each on its own route (run, node)
        and every round's bodies made before the first is sent, so the meter sees only the requests."""
        session = self.client_for(self.token)
        planned = []
        for _ in range(rounds):
            url, body = self.batch_route(name)
            planned.append((url, [[body(r * size + i) for i in range(size)] for r in range(requests_count)]))
        if meter is not None:
            meter.start()
        rates = []
        for url, bodies in planned:
            start = time.perf_counter()
            for batch in bodies:
                require_status(session.post(self.base + url, json=batch, timeout=300), 201)
            rates.append(requests_count * size / (time.perf_counter() - start))
        median, low, high = median_and_spread(rates)
        self.batch_spread[name] = (low, high)
        return median

    def noop_rate(self, count, clients, meter=None):
        """Requests/s of GET /healthz (no database, session or user: the server's fixed cost per request) from
        `clients` threads: the most any endpoint of this server could answer with this client on this machine."""
        per_client = count // clients

        def work(worker):
            session = self.client_for(self.token)
            for _ in range(per_client):
                require_status(session.get(f"{self.base}/healthz", timeout=30), 200)

        if meter is not None:
            meter.start()
        return per_client * clients / timed_threads(work, clients)

    def list_latencies(self, runs):
        """Milliseconds of `runs` filtered list requests (enhance entries of one blueprint, 100 per page)."""
        session = self.client_for(self.token)
        samples = []
        for i in range(runs):
            started = time.perf_counter()
            require_status(session.get(f"{self.base}/api/v1/enhances/?blueprint_id=bp-{i % 50}", timeout=30), 200)
            samples.append((time.perf_counter() - started) * 1000)
        return samples


def preferring_minimal_answers(client_for):
    """client_for whose clients send `Prefer: return=minimal` with every request: Ledger then answers an append with
    where its entries went instead of the entries (a GET ignores it)."""

    def make(token):
        client = client_for(token)
        for headers in (getattr(client, "headers", None), getattr(client, "json_headers", None)):
            if headers is not None:
                headers["Prefer"] = "return=minimal"
        return client

    return make


SINGLE_SHAPES = ["enhance entry", "experience event", "run event", "log record", "output", "promote"]
BATCH_SHAPES = ["enhance entries", "experience events", "run events", "log records", "outputs"]


EIGHT = "1 enhance entry / request, 8 clients"
FLOOR = "no-op request (GET /healthz), 8 clients"


def print_cpu(cpu, batch_names, eight, floor, mlflow_eight, raw_eight, mlflow_batch=None, raw_many=None, peer=None):
    """Where each metered rate's time went: CPU per append (or row) of the server, PostgreSQL and the client, which
    share this machine's cores, and the rate that CPU alone allows; then what the 8-client targets ask against
    the rate at which the same server answers a request that does no work, and what the batch targets ask of a
    row's CPU against what the server and the client spent on it. `batch_names`: the batch shapes' labels in `cpu`
    (their figures are per row), each with its shape's name. `peer`: MLflow's rows, label → (parts, per row)."""
    cores = os.cpu_count() or 1
    print(f"CPU per append or row, from /proc (server, PostgreSQL and client share {cores} cores here):")
    header = ("shape", "server", "PostgreSQL", "client", "total", f"rate {cores} cores allow")
    widths = (40, 10, 10, 10, 10, 22)
    print(
        "  ".join(f"{h:<{w}}" if i == 0 else f"{h:>{w}}" for i, (h, w) in enumerate(zip(header, widths, strict=True)))
    )
    # MLflow's rows (`peer`: label → (parts, per row or not)) under Ledger's, measured the same way.
    rows = [(label, parts, label in batch_names) for label, parts in cpu.items()]
    rows += [(label, parts, per_row) for label, (parts, per_row) in (peer or {}).items()]
    for label, parts, per_row in rows:
        total = sum(parts)
        scale, unit = (1e6, "µs") if per_row else (1e3, "ms")
        cells = [label, *(f"{part * scale:.{1 if per_row else 2}f} {unit}" for part in (*parts, total))]
        cells.append(f"{cores / total:,.0f}/s" if total else "—")
        print(
            "  ".join(
                f"{c:<{w}}" if i == 0 else f"{c:>{w}}" for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
    if eight is not None and floor is not None:
        # The server's share at its floor, PostgreSQL's and the client's as the 8-client appends spent them: the
        # most an append could reach here if serving it cost the server no more than a request that does nothing.
        bare = cpu[FLOOR][0] + cpu[EIGHT][1] + cpu[EIGHT][2]
        asked = (
            [f"{CONCURRENT_VS_MLFLOW:g}× MLflow = {CONCURRENT_VS_MLFLOW * mlflow_eight:,.0f}/s"] if mlflow_eight else []
        )
        if raw_eight:
            asked.append(f"{CONCURRENT_VS_RAW:.0%} raw = {CONCURRENT_VS_RAW * raw_eight:,.0f}/s")
        print(
            f"8 clients: Ledger appended {eight:,.0f}/s; the same server and client answered a request that does no work "
            f"(no database, no authentication) {floor:,.0f}/s. An append costing the server no more than that would "
            f"be capped near {cores / bare:,.0f}/s by the CPU above"
            + (f"; the targets ask {' and '.join(asked)}." if asked else ".")
        )
    batches = {batch_names[label]: parts for label, parts in cpu.items() if label in batch_names}
    if batches:
        # One client sends a batch and waits for its answer, and one worker thread (one core's Python) serves it:
        # a row's server and client CPU come one after the other (PostgreSQL's overlaps: it stores a part while
        # the worker builds the next), so 1 / (server + client) bounds the rate whatever the cores.
        spent = "; ".join(
            f"{name} {(server + client) * 1e6:.0f} µs ({1 / (server + client):,.0f} rows/s)"
            for name, (server, _postgres, client) in batches.items()
        )
        targets = [(f"{BATCH_VS_MLFLOW:g}× MLflow", BATCH_VS_MLFLOW * (mlflow_batch or 0))]
        targets.append((f"{BATCH_VS_RAW:.0%} raw", BATCH_VS_RAW * (raw_many or 0)))
        asked = [f"{name} = {rate:,.0f} rows/s, at most {1e6 / rate:.0f} µs a row" for name, rate in targets if rate]
        print(
            "Batches: a row's server and client CPU come one after the other (one client waits for each answer, one "
            f"worker thread serves it), so they bound the rate: {spent}"
            + (f". The targets ask {'; '.join(asked)}." if asked else ".")
        )


def verdict(checks):
    """'met' when every (value, minimum) holds, else 'MISSED'."""
    return "met" if all(value >= minimum for value, minimum in checks) else "MISSED"


def fmt(value, unit=""):
    return "—" if value is None else f"{value:,.0f}{unit}"


def ratio(a, b):
    return None if a is None or b is None else a / b


def rate_row(label, rate, mlflow_rate, raw_rate, mlflow_target, raw_target=None):
    """One report row of a write rate: against MLflow (its target), and against raw psycopg (a target only when given)."""
    vs_m, vs_r = ratio(rate, mlflow_rate), ratio(rate, raw_rate)
    checks, target = [(vs_m or 0, mlflow_target)], f"≥ {mlflow_target:g}× MLflow"
    if raw_target is not None:
        checks.append((vs_r, raw_target))
        target += f", ≥ {raw_target:.0%} raw"
    return (label, fmt(rate), fmt(mlflow_rate), fmt(raw_rate), vs_m, vs_r, target, verdict(checks))


def summary_row(row):
    """(target, figure, goal, met) of a report row, for bench/targets.py's table of every target."""
    label, rate, _mlflow, _raw, vs_mlflow, vs_raw, goal, met = row
    ratios = [f"{vs_mlflow:.2f}× MLflow" if vs_mlflow is not None and "MLflow" in goal else None]
    ratios.append(f"{vs_raw:.0%} raw" if vs_raw is not None and "raw" in goal else None)
    shown = ", ".join(ratio for ratio in ratios if ratio)
    # Against MLflow, the verdict needs MLflow's figure: without it (--no-mlflow, MLflow unavailable) it is unmeasured.
    measured = vs_mlflow is not None or "MLflow" not in goal
    return label, f"{rate} ({shown})" if shown else rate, goal, (met == "met") if measured else None


def print_table(rows):
    header = ("shape", "Ledger", "MLflow", "raw psycopg", "Ledger÷MLflow", "Ledger÷raw", "target", "")
    widths = (40, 12, 12, 12, 14, 11, 26, 6)
    print(
        "  ".join(f"{h:<{w}}" if i == 0 else f"{h:>{w}}" for i, (h, w) in enumerate(zip(header, widths, strict=True)))
    )
    for row in rows:
        cells = [
            row[0],
            *row[1:4],
            "—" if row[4] is None else f"{row[4]:.2f}",
            "—" if row[5] is None else f"{row[5]:.2f}",
            row[6],
            row[7],
        ]
        print(
            "  ".join(
                f"{c:<{w}}" if i == 0 else f"{c:>{w}}" for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=400, help="appends for each single-append shape")
    parser.add_argument("--batches", type=int, default=10, help="requests of --batch-size entries per batch shape")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--list-runs", type=int, default=200, help="requests for the filtered list latencies")
    parser.add_argument(
        "--gunicorn",
        default=" ".join(GUNICORN_ARGS),
        help=f"gunicorn options serving Ledger (default {' '.join(GUNICORN_ARGS)!r}; e.g. '-w 2 -k gthread --threads 4')",
    )
    parser.add_argument(
        "--client",
        choices=sorted(LOAD_CLIENTS),
        default="keepalive",
        help="the HTTP client both columns are driven with (default keepalive: http.client and orjson; requests: "
        "a requests session, as rounds one to ten measured)",
    )
    parser.add_argument(
        "--answer",
        choices=["entries", "minimal"],
        default="entries",
        help="what Ledger answers an append with: the stored entries (default, the API's default) or, sent "
        "Prefer: return=minimal, {appended, first_seq, last_seq, entry_hash} (MLflow's log_batch answers {})",
    )
    parser.add_argument(
        "--batch-rounds",
        type=rounds_count,
        default=3,
        help="rounds of --batches requests for each batch shape, Ledger's and MLflow's alike; the median round is "
        "the figure (default 3)",
    )
    parser.add_argument(
        "--raw-rounds",
        type=rounds_count,
        default=5,
        help="rounds of each raw psycopg baseline; the median is the baseline (default 5: one round is a fraction of "
        "a second, which the machine's other work moves by a factor of three)",
    )
    parser.add_argument("--no-mlflow", action="store_true", help="leave the MLflow column out")
    parser.add_argument(
        "--summary", help="also add each row's target and verdict to this JSON-lines file (bench/targets.py)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[*SINGLE_SHAPES, "create run", "8 clients", *BATCH_SHAPES, "list"],
        help="measure only this shape (repeatable); the others are left out of the table",
    )
    parser.add_argument(
        "--only-batches",
        action="store_true",
        help="measure only the batch shapes (and raw executemany/COPY): the same as --only for each of them",
    )
    args = parser.parse_args()
    wanted = set(args.only or []) | (set(BATCH_SHAPES) if args.only_batches else set())

    def measured(name):
        return not wanted or name in wanted

    raw_url, app_url = recreate_bench_databases("ledger_bench")

    mlflow, mlflow_missing = {}, None
    if not args.no_mlflow:
        from mlflow_server import MlflowUnavailable, running_mlflow

        try:
            with running_mlflow() as (mlflow_base, mlflow_pid, mlflow_url):
                mlflow = measure_mlflow(mlflow_base, args, CpuMeter(mlflow_pid, mlflow_url))
        except MlflowUnavailable as exc:
            mlflow_missing = str(exc)

    print("raw psycopg baselines…", file=sys.stderr, flush=True)
    batch_rows = args.batches * args.batch_size
    batch_rounds = args.batch_rounds
    # Each raw baseline only where a measured shape is set beside it (--only-batches and --only "8 clients" together
    # need the 8-connection chain too).
    baselines = {}
    if any(measured(name) for name in SINGLE_SHAPES):
        baselines["single"] = lambda: raw_single_inserts(raw_url, args.single, lambda i: enhance_body(i, "raw"))
    if measured("8 clients"):
        baselines["eight"] = lambda: raw_locked_chain(raw_url, args.single, 8, lambda i: enhance_body(i, "chain"))
    baselines["many"] = lambda: raw_executemany(raw_url, batch_rows, lambda i: enhance_body(i, "many"))
    baselines["copy"] = lambda: raw_copy(raw_url, batch_rows, lambda i: enhance_body(i, "copy"))
    # Each baseline's median over --raw-rounds (raw) and its lowest and highest round (spread, printed below).
    spread = {name: steady_rate(measure, args.raw_rounds) for name, measure in baselines.items()}
    raw = {name: median for name, (median, _low, _high) in spread.items()}

    print(f"Ledger (gunicorn {args.gunicorn})…", file=sys.stderr, flush=True)
    cpu = {}  # shape → (server, PostgreSQL, client) CPU seconds per append or row
    batch_labels = {name: f"batch of {args.batch_size} {name}" for name in BATCH_SHAPES}
    with running_app(app_url, tuple(shlex.split(args.gunicorn))) as (server, base, token):
        ledger = Ledger(base, token, LOAD_CLIENTS[args.client], minimal=args.answer == "minimal")
        meter = CpuMeter(server.pid, app_url)

        def metered(label, units, measure):
            rate = measure(meter)  # starts the meter once its requests are ready to go
            cpu[label] = meter.stop(units)
            return rate

        for name in SINGLE_SHAPES:  # warm every route in both workers
            ledger.single_rate(name, 20, 2)
        single = {name: ledger.single_rate(name, args.single) for name in SINGLE_SHAPES if measured(name)}
        create_run = ledger.single_rate("create run", args.single) if measured("create run") else None
        eight = floor = None
        if measured("8 clients"):
            eight = metered(
                EIGHT, args.single, lambda meter: ledger.single_rate("enhance entry", args.single, 8, meter)
            )
            floor = metered(FLOOR, args.single, lambda meter: ledger.noop_rate(args.single, 8, meter))
        batches = {
            name: metered(
                batch_labels[name],
                batch_rounds * args.batches * args.batch_size,
                lambda meter, name=name: ledger.batch_rate(name, args.batches, args.batch_size, meter, batch_rounds),
            )
            for name in BATCH_SHAPES
            if measured(name)
        }
        if measured("list") and not measured("enhance entries"):
            # The entries the list filters, as many as a full run's batches leave (pages as full as there).
            ledger.batch_rate("enhance entries", args.batches, args.batch_size, rounds=batch_rounds)
        list_ms = ledger.list_latencies(args.list_runs) if measured("list") else None

    rows = []
    m_single, m_eight, m_batch = mlflow.get("single"), mlflow.get("eight"), mlflow.get("batch")
    for name, rate in single.items():
        rows.append(rate_row(f"1 {name} / request, 1 client", rate, m_single, raw["single"], SINGLE_VS_MLFLOW))
    if create_run is not None:
        rows.append(rate_row("create run, 1 client", create_run, mlflow.get("create_run"), None, 1.0))
    if eight is not None:
        rows.append(
            rate_row(
                EIGHT,
                eight,
                m_eight,
                raw["eight"],
                CONCURRENT_VS_MLFLOW,
                CONCURRENT_VS_RAW,
            )
        )
    for name, rate in batches.items():
        rows.append(rate_row(batch_labels[name], rate, m_batch, raw["many"], BATCH_VS_MLFLOW, BATCH_VS_RAW))
    if list_ms is not None:
        l50, l95 = p50_p95(list_ms)
        search = mlflow.get("search")
        rows.append(
            (
                "filtered list p50 / p95 (ms)",
                f"{l50:.1f} / {l95:.1f}",
                "—" if search is None else f"{search[0]:.1f} / {search[1]:.1f}",
                "—",
                None if search is None else search[1] / l95,
                None,
                f"p95 ≤ {LIST_P95_MS:g} ms",
                verdict([(-l95, -LIST_P95_MS)]),
            )
        )
    print()
    print_table(rows)
    write_summary(args.summary, [summary_row(row) for row in rows])
    print()
    print(
        f"Ledger served by: gunicorn {args.gunicorn}; MLflow {mlflow.get('version', '—')}: gunicorn, 2 workers; "
        f"both driven by the {args.client} client (--client); Ledger's appends answered with "
        + (
            "{appended, first_seq, last_seq, entry_hash} (Prefer: return=minimal)."
            if args.answer == "minimal"
            else "the stored entries (--answer)."
        )
    )
    print(
        "MLflow: log_batch of 1 metric per request (single shapes, 1 and 8 clients on one run), log_batch of "
        f"{args.batch_size} metrics (batches), create_run, search_runs filtered by a tag (list; ratio = MLflow p95 ÷ Ledger p95)."
    )
    print(
        "raw psycopg: autocommit INSERT (1 client); advisory lock + read tip + INSERT from 8 connections; "
        f"executemany in one transaction (batches); COPY upper bound {raw['copy']:,.0f} rows/s."
    )
    named = {"single": "INSERT", "eight": "lock + tip + INSERT", "many": "executemany", "copy": "COPY"}
    print(
        f"Each raw figure is the median of {args.raw_rounds} rounds (--raw-rounds); lowest–highest: "
        + "; ".join(f"{named[name]} {low:,.0f}–{high:,.0f}" for name, (_median, low, high) in spread.items())
        + " rows/s."
    )
    print(
        f"Same PostgreSQL for all three; {args.single} appends per single shape, {args.batches}×{args.batch_size} per batch "
        f"shape, the median of {batch_rounds} rounds (--batch-rounds)."
    )
    if batches and batch_rounds > 1:
        spreads = (
            [(f"MLflow's log_batch of {args.batch_size}", mlflow["batch_spread"])] if "batch_spread" in mlflow else []
        )
        spreads += [(name, ledger.batch_spread[name]) for name in batches]
        print(
            "Batch rounds, lowest–highest: "
            + "; ".join(f"{name} {low:,.0f}–{high:,.0f}" for name, (low, high) in spreads)
            + " rows (MLflow: metrics) per second."
        )
    if mlflow_missing:
        print(f"MLflow column missing: {mlflow_missing}")
    if cpu:
        print()
        batch_names = {label: name for name, label in batch_labels.items()}
        peer = {}
        if "cpu_eight" in mlflow:
            peer["MLflow: log_batch of 1, 8 clients"] = (mlflow["cpu_eight"], False)
        if "cpu_batch" in mlflow:
            peer[f"MLflow: log_batch of {args.batch_size}, a metric"] = (mlflow["cpu_batch"], True)
        print_cpu(cpu, batch_names, eight, floor, m_eight, raw.get("eight"), m_batch, raw.get("many"), peer)


def measure_mlflow(base, args, meter):
    """MLflow's figures for every shape, measured once (MLflow has one write path for all of them); with the CPU
    its server, PostgreSQL and the client spent per write of 1 metric from 8 clients and per metric of a batch."""
    from mlflow_server import MLFLOW_VERSION, MlflowClient

    print("MLflow…", file=sys.stderr, flush=True)
    client = MlflowClient(base, LOAD_CLIENTS[args.client])
    client.log_batch_rate(40, 2, 1)  # warm both workers
    figures = {
        "version": MLFLOW_VERSION,
        "single": client.log_batch_rate(args.single, 1, 1),
        "create_run": client.create_runs_rate(args.single),
    }
    figures["eight"] = client.log_batch_rate(args.single, 8, 1, meter)
    figures["cpu_eight"] = meter.stop(args.single // 8 * 8)
    batch_metrics = args.batches * args.batch_size
    rounds = args.batch_rounds  # as Ledger's batches: the median round, the meter over all of them
    runs = [client.new_run() for _ in range(rounds)]  # made before the meter starts, as Ledger's batches' routes
    rates = [
        client.log_batch_rate(batch_metrics, 1, args.batch_size, meter if r == 0 else None, run_id)
        for r, run_id in enumerate(runs)
    ]
    figures["batch"], low, high = median_and_spread(rates)
    figures["batch_spread"] = (low, high)
    figures["cpu_batch"] = meter.stop(rounds * (batch_metrics // args.batch_size * args.batch_size))
    client.search_latencies(5)
    samples = client.search_latencies(args.list_runs)
    figures["search"] = p50_p95(samples)
    figures["search_mean"] = statistics.mean(samples)
    return figures


if __name__ == "__main__":
    main()
