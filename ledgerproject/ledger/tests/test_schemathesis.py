"""Schemathesis against the live API: every operation answers as the published OpenAPI schema says.

The server runs on loopback (pytest-django's live server, on the throwaway test database, so the
entries Schemathesis appends vanish with it); the client is the `schemathesis` command, with a token
that holds every role. Checks: no server error, documented status codes, content types and response
bodies. Bounded: a few examples per operation and a deterministic seed.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledgerproject.ledger.models import ApiToken

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
EXAMPLES = int(os.environ.get("LEDGER_SCHEMATHESIS_EXAMPLES", "5"))
# Optional: only the operations whose path matches this regex (checking one app's operations by hand).
PATHS = os.environ.get("LEDGER_SCHEMATHESIS_PATHS", "")


@pytest.mark.django_db(transaction=True)
def test_every_operation_conforms_to_the_published_schema(live_server, make_user, tmp_path, capsys):
    root = make_user("schemathesis", roles=["reader", "writer", "reviewer", "auditor", "admin"], superuser=True)
    _, token = ApiToken.objects.issue(root)
    report = tmp_path / "report.ndjson"
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{live_server.url}/api/schema/?format=json",
        "--url",
        live_server.url,
        "-H",
        f"Authorization: Token {token}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "20261129",
        "--no-shrink",
        "--phases",
        "examples,fuzzing",
        "--request-timeout",
        "30",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
    ]
    if PATHS:
        command += ["--include-path-regex", PATHS]
    started = time.monotonic()
    # Run in tmp_path: the command keeps a cache directory (.schemathesis/) where it runs.
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path)
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(f"\nschemathesis: {elapsed:.0f} s")
        print(finished.stdout[-3000:])
    assert finished.returncode == 0, finished.stdout[:30000] + finished.stderr[-3000:]
