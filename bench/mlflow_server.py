"""The MLflow column of the append benchmark: a cached throwaway MLflow install, served by gunicorn, driven over REST."""

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import (
    free_port,
    keepalive_client_for,
    recreate_database,
    require_postgres_url,
    timed_threads,
    wait_until_settled,
)

# The tracking server most users know, at the version the issue measured (3.17 is the newest on PyPI here).
MLFLOW_VERSION = "3.17.2"
# Outside the project and reused across runs: the first install downloads a few hundred MB.
CACHE = Path(os.environ.get("LEDGER_BENCH_CACHE") or Path.home() / ".cache" / "ledger-bench")


class MlflowUnavailable(RuntimeError):
    """MLflow could not be installed or started here; the message says exactly why."""


def mlflow_venv():
    """The bin/ directory of a virtualenv holding mlflow==MLFLOW_VERSION (and psycopg2 for its PostgreSQL
    store), created under CACHE on first use."""
    venv = CACHE / f"mlflow-{MLFLOW_VERSION}"
    marker = venv / ".installed"
    if marker.exists():
        return venv / "bin"
    print(f"installing mlflow=={MLFLOW_VERSION} into {venv} (once; a few minutes)", file=sys.stderr, flush=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", f"mlflow=={MLFLOW_VERSION}", "psycopg2-binary"],
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or "").strip().splitlines()[-3:] if isinstance(exc.stderr, str) else []
        raise MlflowUnavailable(f"pip install mlflow=={MLFLOW_VERSION} failed: {' | '.join(tail)}") from None
    marker.touch()
    return venv / "bin"


@contextlib.contextmanager
def running_mlflow(workers=2):
    """MLflow's tracking server on its own database of DATABASE_URL's PostgreSQL, served by gunicorn with
    `workers` workers on 127.0.0.1; yields (base URL, the server's process id, its database URL) and stops it on
    the way out."""
    bin_dir = mlflow_venv()
    url = recreate_database(require_postgres_url(), "ledger_bench_mlflow")
    # psycopg2 explicitly: SQLAlchemy 2.1 reads plain postgresql:// as psycopg 3, which is not installed there.
    backend = url.replace("postgres://", "postgresql+psycopg2://", 1)
    port = free_port()
    artifacts = tempfile.mkdtemp(prefix="ledger-bench-mlflow-")
    log = open(Path(artifacts) / "server.log", "w")  # noqa: SIM115 - closed below
    command = [
        str(bin_dir / "mlflow"),
        "server",
        "--backend-store-uri",
        backend,
        "--default-artifact-root",
        artifacts,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        # gunicorn, as the issue measured (newer MLflow defaults to uvicorn).
        "--gunicorn-opts",
        "--log-level warning",
    ]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, server, Path(artifacts) / "server.log")
        # Its job consumers start after /health answers, and take the machine's cores while they do.
        waited = wait_until_settled(server.pid)
        if waited is None:
            print("warning: MLflow was still busy 120 s after /health answered", file=sys.stderr, flush=True)
        else:
            print(f"MLflow settled {waited:.0f} s after /health answered", file=sys.stderr, flush=True)
        yield base, server.pid, url
    finally:
        # gunicorn's master and workers run in the server's own session: stop them all.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, 15)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=15)
        log.close()


def _wait_until_up(base, server, log_path, seconds=180):
    import requests

    deadline = time.monotonic() + seconds
    while True:
        if server.poll() is not None:
            raise MlflowUnavailable("mlflow server exited: " + log_path.read_text()[-800:])
        try:
            if requests.get(f"{base}/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise MlflowUnavailable("mlflow server did not answer in time: " + log_path.read_text()[-800:])
        time.sleep(0.5)


def _post(session, base, route, body):
    response = session.post(f"{base}/api/2.0/mlflow/{route}", json=body, timeout=120)
    if response.status_code != 200:
        raise RuntimeError(f"mlflow {route}: {response.status_code}: {response.text[:200]}")
    return response.json()


class MlflowClient:
    """The shapes the issue compares, through MLflow's REST API with the same HTTP client as Ledger's column."""

    def __init__(self, base, client_for=keepalive_client_for):
        self.base, self.client_for = base, client_for
        session = client_for("unused")
        self.experiment = _post(session, base, "experiments/create", {"name": f"bench-{time.time_ns()}"})[
            "experiment_id"
        ]

    def create_run(self, session, i):
        body = {
            "experiment_id": self.experiment,
            "start_time": 1_760_000_000_000 + i,
            "tags": [{"key": "bp", "value": f"bp-{i % 50}"}, {"key": "agent", "value": "bench"}],
        }
        return _post(session, self.base, "runs/create", body)["run"]["info"]["run_id"]

    def log_batch(self, session, run_id, start, size):
        metrics = [
            {"key": "loss", "value": (start + i) * 0.001, "timestamp": 1_760_000_000_000 + start + i, "step": start + i}
            for i in range(size)
        ]
        _post(session, self.base, "runs/log-batch", {"run_id": run_id, "metrics": metrics})

    def create_runs_rate(self, count):
        """create_run/s from 1 client."""
        session = self.client_for("unused")
        return count / timed_threads(lambda _: [self.create_run(session, i) for i in range(count)], 1)

    def new_run(self):
        """A new run's id, for log_batch_rate."""
        return self.create_run(self.client_for("unused"), 0)

    def log_batch_rate(self, count, clients, size, meter=None, run_id=None):
        """Metrics/s of log_batch of `size` metrics, `count` metrics in all from `clients` threads on one run
        (`run_id`, or a new one; `meter`, a CpuMeter, started once the run exists)."""
        run_id = run_id or self.new_run()
        per_client = count // clients // size

        def work(worker):
            session = self.client_for("unused")
            for i in range(per_client):
                self.log_batch(session, run_id, (worker * per_client + i) * size, size)

        if meter is not None:
            meter.start()
        return per_client * clients * size / timed_threads(work, clients)

    def search_latencies(self, runs):
        """Milliseconds of `runs` search_runs filtered by a tag, 100 per page."""
        session = self.client_for("unused")
        samples = []
        for i in range(runs):
            body = {"experiment_ids": [self.experiment], "filter": f"tags.bp = 'bp-{i % 50}'", "max_results": 100}
            started = time.perf_counter()
            _post(session, self.base, "runs/search", body)
            samples.append((time.perf_counter() - started) * 1000)
        return samples
