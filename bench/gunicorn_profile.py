"""gunicorn config for bench/profile_append.py: each worker runs under cProfile and dumps its stats on exit."""

import cProfile
import os


def post_worker_init(worker):
    # Enabled in the worker's own thread, which serves every request of a sync worker.
    worker.ledger_profile = cProfile.Profile()
    worker.ledger_profile.enable()


def worker_exit(server, worker):
    profile = getattr(worker, "ledger_profile", None)
    if profile is not None:
        profile.disable()
        profile.dump_stats(os.path.join(os.environ["LEDGER_PROFILE_DIR"], f"worker-{worker.pid}.prof"))
