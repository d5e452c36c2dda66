"""Builders for the runs tests: blobs, runs, events, outcomes and outputs, with blob bytes in a temp folder."""

import hashlib
import io

import pytest

from runs import blobstore
from runs.models import Output, Run, RunEvent, RunOutcome, RunStatus

SPEC = hashlib.sha256(b"spec").hexdigest()


@pytest.fixture(autouse=True)
def blob_media_root(settings, tmp_path):
    """Every test stores blob bytes in its own folder, never in var/media."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def put_blob(db):
    def put(data=b"hello", media_type="application/octet-stream"):
        blob, _created = blobstore.put_blob(io.BytesIO(data), media_type=media_type)
        return blob

    return put


@pytest.fixture
def make_run(db):
    def make(spec_digest=SPEC, agent_name="coder", git_sha="abc1234", tags=None, **overrides):
        return Run.objects.create_run(
            spec_digest=spec_digest, agent_name=agent_name, git_sha=git_sha, tags=tags or {}, **overrides
        )

    return make


@pytest.fixture
def add_events(db):
    def add(run, *events):
        rows = [
            {"event_seq": e.get("seq"), "kind": e.get("kind", "step"), "payload": e.get("payload", {})} for e in events
        ]
        return RunEvent.objects.append_events(run, rows)

    return add


@pytest.fixture
def finish_run(db):
    def finish(run, status=RunStatus.COMPLETED, total_events=0, duration_ms=10, final_state_digest=None):
        return RunOutcome.objects.append(
            run=run,
            status=status,
            total_events=total_events,
            duration_ms=duration_ms,
            final_state_digest=final_state_digest,
            success=status == RunStatus.COMPLETED,
        )

    return finish


def final(text, ok=True):
    return {"type": "final", "content": {"kind": "inline", "value": text}, "ok": ok}


@pytest.fixture
def emit(db):
    def make(task_id="t", attempt=1, producer_agent="p", event=None, parent_refs=()):
        return Output.objects.emit(task_id, attempt, producer_agent, event or final("body"), list(parent_refs))

    return make
