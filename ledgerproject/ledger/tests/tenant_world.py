"""Two tenants with entries in every registered ledger, for the tenancy tests (kernel and route walk)."""

import io
import uuid
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from enhancelog.models import EnhanceEntry, Review
from experience.models import ExperienceEvent
from experience.tests.conftest import VALID
from ledgerproject.ledger import checkpoints
from ledgerproject.ledger.models import TenantBinding
from ledgerproject.ledger.registry import ledger_models
from logchain.models import LogRecord
from releases.models import Release
from runs import blobstore
from runs.models import BlobChange, Output, Run, RunEvent, RunOutcome, RunStatus
from tests.ledger_testapp.models import Note

NODE_IDS = {"rdx": 987650001, "blu": 987650002, "nxq": 987650009}


@dataclass
class Ids:
    """The natural keys of one tenant's entries (or, for "absent", keys nobody used)."""

    prefix: str
    tenant: str
    run_id: str = ""
    digest: str = ""
    output_id: str = ""
    node_id: int = 0
    seq: dict = field(default_factory=dict)  # ledger name → seq of one of this tenant's entries
    secrets: list = field(default_factory=list)  # strings only this tenant's readers may ever see

    def __getattr__(self, name):
        # issue, blueprint, event, artifact, trace, chain, corr, task, release, note: "<prefix>-<name>"
        if name.startswith("_"):
            raise AttributeError(name)
        return f"{self.prefix}-{name}"


def _hex(text):
    return (text.encode().hex() * 64)[:64]


def build_tenant(prefix, tenant, writer):
    """Entries of `tenant` in every ledger, written as `writer` (bound to it)."""
    ids = Ids(prefix, tenant, node_id=NODE_IDS[prefix])
    entry = EnhanceEntry.objects.append(
        recorded_by=writer,
        issue_id=ids.issue,
        blueprint_id=ids.blueprint,
        prev_hash=_hex(prefix),
        new_hash="",
        status=EnhanceEntry.REJECTED,
        reasons=[f"{prefix} reason"],
        ts_ms=1_700_000_000_000,
        tenant_id=tenant,
    )
    Review.objects.append(recorded_by=writer, entry=entry, decision=Review.ACKNOWLEDGED, comment=f"{prefix} review")
    events = [
        ("ReplayTraceRecorded", {**VALID["ReplayTraceRecorded"], "trace_link_id": ids.trace}),
        ("ProposalCreated", {**VALID["ProposalCreated"], "chain_id": ids.chain}),
        (
            "ArtifactStateTransitioned",
            {
                **VALID["ArtifactStateTransitioned"],
                "artifact_id": ids.artifact,
                "event": {**VALID["ArtifactStateTransitioned"]["event"], "tenant_id": tenant},
            },
        ),
    ]
    for index, (kind, data) in enumerate(events):
        ExperienceEvent.objects.append(
            recorded_by=writer,
            event_id=ids.event if index == 0 else f"{ids.event}-{index}",
            occurred_at="2026-01-21T12:00:00Z",
            tenant_id=tenant,
            correlation_id=ids.corr,
            kind=kind,
            data=data,
        )
    blob, _ = blobstore.put_blob(io.BytesIO(f"{prefix} blob bytes".encode()), recorded_by=writer, tenant=tenant)
    scratch, _ = blobstore.put_blob(io.BytesIO(f"{prefix} scratch".encode()), recorded_by=writer, tenant=tenant)
    blobstore.delete_blob(scratch.digest, recorded_by=writer, user=writer)
    ids.digest = blob.digest
    run = Run.objects.append(
        recorded_by=writer,
        run_id=uuid.uuid4(),
        spec_digest=blob.digest,
        agent_name=f"{prefix}-agent",
        tags={},
        created_at="2026-01-21T12:00:00Z",
        tenant_id=tenant,
    )
    ids.run_id = str(run.run_id)
    RunEvent.objects.append_events(run, [{"kind": f"{prefix}-kind", "payload": {"p": prefix}}], recorded_by=writer)
    RunOutcome.objects.append(
        recorded_by=writer, run=run, status=RunStatus.COMPLETED, total_events=1, duration_ms=5, success=True
    )
    output = Output.objects.append(
        recorded_by=writer,
        output_id=f"out-{prefix}",
        task_id=ids.task,
        attempt=1,
        producer_agent=f"{prefix}-producer",
        event={"type": "progress", "stage": f"{prefix} stage", "note": None},
        parent_refs=[],
        tenant_id=tenant,
    )
    ids.output_id = output.output_id
    for version in ("1", "2"):
        Release.objects.promote(
            ids.release,
            spec_digest=blob.digest,
            promoted_by=f"{prefix}-promoter",
            version_label=f"{prefix}-v{version}",
            recorded_by=writer,
            tenant_id=tenant,
        )
    LogRecord.objects.append(
        recorded_by=writer,
        node_id=ids.node_id,
        node_seq=1,
        ts_ms=1_700_000_000_000,
        level="Info",
        message=f"{prefix} log line",
        tenant_id=tenant,
    )
    Note.objects.append(recorded_by=writer, key=ids.note, tenant_id=tenant, body={"text": prefix})
    for model in ledger_models():
        mine = model._base_manager.of_tenant(tenant)
        if model is BlobChange:
            mine = model._base_manager.filter(blob=scratch.digest)
        row = mine.order_by("seq").first()
        assert row is not None, f"the tenant world has no {tenant} entry in ledger {model.ledger_name}"
        ids.seq[model.ledger_name] = row.seq
        # Not the entry hashes: one chain per ledger, so the next tenant's entry carries this
        # one's hash as its prev_entry_hash (a hash, never content; inclusion proofs need it).
    ids.secrets += [tenant, writer.get_username(), ids.run_id, ids.digest, scratch.digest, str(ids.node_id), prefix]
    return ids


def make_principal(username, tenant, roles=("reader", "writer", "reviewer", "auditor"), staff=True):
    from django.contrib.auth.models import Group

    from ledgerproject.ledger.tests.roles import ensure_test_roles

    ensure_test_roles()
    user = get_user_model().objects.create_user(username, password="pw", is_staff=staff)
    user.groups.add(*Group.objects.filter(name__in=roles))
    TenantBinding.objects.create(user=user, tenant_id=tenant)
    return user


def build_world():
    """(red ids, blue ids, absent ids, blue principal): red's entries are what blue must never see."""
    red_writer = make_principal("rdx-writer", "tnt-rdx")
    blue = make_principal("blu-user", "tnt-blu")
    red = build_tenant("rdx", "tnt-rdx", red_writer)
    mine = build_tenant("blu", "tnt-blu", blue)
    for model in ledger_models():
        checkpoints.make_checkpoint(model)
    absent = Ids("nxq", "tnt-nxq", run_id=str(uuid.uuid4()), digest=_hex("nxq"), output_id="out-nxq")
    absent.node_id = NODE_IDS["nxq"]
    return red, mine, absent, blue
