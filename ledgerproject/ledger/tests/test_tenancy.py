"""Tenancy as a kernel guarantee: bindings or the explicit grant (fail closed), per-tenant keys,
the admin, blobs held per tenant, identical 404s, counts, and hashes unchanged for old entries."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import IntegrityError, models, transaction

from enhancelog.models import EnhanceEntry
from experience.models import ExperienceEvent
from experience.tests.conftest import VALID
from ledgerproject.ledger import hashing
from ledgerproject.ledger.chain import verify_chain
from ledgerproject.ledger.models import ALL_TENANTS, AllTenantsGrant, TenantBinding, tenant_scope
from ledgerproject.ledger.tests.conftest import triggers_lifted
from ledgerproject.ledger.tests.test_checkpoint_support import signing_key  # noqa: F401  (fixture)
from runs import blobstore
from runs.models import Blob, BlobChange

pytestmark = pytest.mark.django_db


def enhance(issue_id, tenant_id=None, **overrides):
    fields = {
        "issue_id": issue_id,
        "blueprint_id": f"bp-{issue_id}",
        "prev_hash": "00" * 32,
        "new_hash": "ff" * 32,
        "status": "applied",
        "ts_ms": 100,
        "tenant_id": tenant_id,
        **overrides,
    }
    return EnhanceEntry.objects.append(**fields)


def event_envelope(event_id, tenant_id=None):
    return {
        "event_id": event_id,
        "occurred_at": "2026-01-21T12:00:00Z",
        "tenant_id": tenant_id,
        "event": {"type": "BudgetExceeded", "data": dict(VALID["BudgetExceeded"])},
    }


@pytest.fixture
def blob_storage(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


# --- finding 5: fail closed ------------------------------------------------------------------------


def test_a_principal_whose_last_binding_is_removed_sees_nothing(make_user, client_for):
    enhance("acme-1", "acme")
    enhance("none-1")
    user = make_user("leaver", roles=["reader"], tenants=["acme"])
    TenantBinding.objects.filter(user=user).delete()
    api = client_for(user)
    assert tenant_scope(user) == frozenset()
    assert api.get("/api/v1/enhances/").json()["results"] == []
    assert api.get("/api/v1/enhances/acme-1/").status_code == 404
    assert api.get("/api/v1/enhances/?format=jsonl").getvalue() == b""
    sizes = {row["name"]: row["size"] for row in api.get("/api/v1/ledgers/").json()}
    assert sizes["enhancelog"] == 0


def test_entries_with_no_tenant_are_visible_only_to_all_tenant_principals(make_user, client_for):
    enhance("nobody-1")
    bound = client_for(make_user("bound", roles=["reader"], tenants=["acme"]))
    everyone = client_for(make_user("everyone", roles=["reader"]))
    assert bound.get("/api/v1/enhances/nobody-1/").status_code == 404
    assert everyone.get("/api/v1/enhances/nobody-1/").status_code == 200


def test_superusers_see_every_tenant_without_a_grant(make_user):
    root = make_user("root", superuser=True, all_tenants=False)
    assert tenant_scope(root) is ALL_TENANTS


def test_issue_token_without_tenants_gives_the_explicit_grant_and_with_tenants_removes_it(capsys):
    call_command("issue_token", "ops", "--role", "reader")
    assert "tenants all" in capsys.readouterr().out
    assert AllTenantsGrant.objects.filter(user__username="ops").exists()
    call_command("issue_token", "ops", "--tenant", "acme")
    assert "tenants acme" in capsys.readouterr().out
    assert not AllTenantsGrant.objects.filter(user__username="ops").exists()
    call_command("issue_token", "auditor-all", "--role", "auditor", "--all-tenants")
    assert AllTenantsGrant.objects.filter(user__username="auditor-all").exists()
    with pytest.raises(CommandError, match="exclude each other"):
        call_command("issue_token", "x", "--all-tenants", "--tenant", "acme")


def test_the_migration_grants_every_tenant_to_principals_that_had_no_binding(make_user):
    migration = __import__("ledgerproject.ledger.migrations.0005_tenancy", fromlist=["grant_unbound_principals"])
    unbound = make_user("old-unbound", all_tenants=False)
    bound = make_user("old-bound", tenants=["acme"])
    migration.grant_unbound_principals(apps, None)
    assert AllTenantsGrant.objects.filter(user=unbound).exists()
    assert not AllTenantsGrant.objects.filter(user=bound).exists()


def test_the_admin_shows_a_users_tenants_and_its_all_tenants_grant(client, make_user):
    admin_user = make_user("boss", superuser=True)
    target = make_user("granted")
    client.force_login(admin_user)
    page = client.get(f"/admin/auth/user/{target.pk}/change/").content.decode()
    assert "all-tenants grant" in page and "Tenant bindings" in page


# --- finding 2: the admin --------------------------------------------------------------------------


def test_a_tenant_bound_staff_reviewer_lists_only_its_tenants_events_in_the_admin(client, make_user):
    mine = ExperienceEvent.objects.append(**_event_fields("ev-acme", "acme"))
    theirs = ExperienceEvent.objects.append(**_event_fields("ev-globex", "globex"))
    reviewer = make_user("acme-staff", roles=["reviewer"], tenants=["acme"])
    reviewer.is_staff = True
    reviewer.save()
    client.force_login(reviewer)
    page = client.get("/admin/experience/experienceevent/").content.decode()
    assert "ev-acme" in page and "ev-globex" not in page and "globex" not in page
    own = client.get(f"/admin/experience/experienceevent/{mine.pk}/change/")
    other = client.get(f"/admin/experience/experienceevent/{theirs.pk}/change/")
    absent = client.get("/admin/experience/experienceevent/999999/change/")
    assert own.status_code == 200
    assert (other.status_code, other["Location"]) == (absent.status_code, absent["Location"]) == (302, "/admin/")


def _event_fields(event_id, tenant_id):
    envelope = event_envelope(event_id, tenant_id)
    return {
        "event_id": event_id,
        "occurred_at": envelope["occurred_at"],
        "tenant_id": tenant_id,
        "kind": envelope["event"]["type"],
        "data": envelope["event"]["data"],
    }


# --- finding 4: blobs -------------------------------------------------------------------------------


def test_a_tenant_cannot_read_or_delete_another_tenants_blob_bytes(make_user, client_for, blob_storage):
    acme = client_for(make_user("acme-w", roles=["writer"], tenants=["acme"]))
    globex = client_for(make_user("globex-w", roles=["writer"], tenants=["globex"]))
    digest = globex.post("/api/v1/blobs/", b"globex secret", content_type="application/octet-stream").json()["digest"]
    absent = "ab" * 32
    assert acme.get(f"/api/v1/blobs/{digest}/").status_code == 404
    assert acme.head(f"/api/v1/blobs/{digest}/").status_code == 404
    assert digest not in acme.get("/api/v1/blobs/").content.decode()
    assert acme.delete(f"/api/v1/blobs/{digest}/").status_code == acme.delete(f"/api/v1/blobs/{absent}/").status_code
    got = globex.get(f"/api/v1/blobs/{digest}/")
    assert got.status_code == 200 and b"".join(got.streaming_content) == b"globex secret"
    assert BlobChange.objects.count() == 0


def test_naming_another_tenants_digest_in_an_entry_does_not_reveal_its_bytes(make_user, client_for, blob_storage):
    acme = client_for(make_user("acme-w", roles=["writer", "reader"], tenants=["acme"]))
    globex = client_for(make_user("globex-w", roles=["writer"], tenants=["globex"]))
    digest = globex.post("/api/v1/blobs/", b"globex plan", content_type="application/octet-stream").json()["digest"]
    absent = "cd" * 32
    answers = []
    for named in (digest, absent):
        run = {"spec_digest": named, "metadata": {"agent_name": "probe", "tags": []}}
        assert acme.post("/api/v1/runs/", run, format="json").status_code == 201
        promote = {"spec_digest": named, "promoted_by": "probe"}
        assert acme.post(f"/api/v1/releases/probe-{named[:4]}/promote/", promote, format="json").status_code == 201
        got = acme.get(f"/api/v1/blobs/{named}/")
        answers.append((got.status_code, got.json()["detail"].replace(named, "<digest>")))
    # Another tenant's stored content and content nobody stored answer alike: nothing to probe.
    assert answers[0] == answers[1] and answers[0][0] == 404
    assert acme.head(f"/api/v1/blobs/{digest}/").status_code == 404
    assert globex.get(f"/api/v1/blobs/{digest}/").status_code == 200


def test_a_release_links_its_spec_blob_only_for_a_tenant_holding_it(make_user, client_for, blob_storage, client):
    # Whether another tenant stored a digest's bytes is not shown by a release naming it either: no link in
    # the promote answer, the list, the current entry, the history or the pages, as for a digest never stored.
    acme_user = make_user("acme-w", roles=["writer", "reader"], tenants=["acme"])
    acme = client_for(acme_user)
    globex = client_for(make_user("globex-w", roles=["writer", "reader"], tenants=["globex"]))
    digest = globex.post("/api/v1/blobs/", b"globex spec", content_type="application/octet-stream").json()["digest"]
    link = f"/api/v1/blobs/{digest}/"
    promote = {"spec_digest": digest, "promoted_by": "probe"}
    answers = {
        "promote": acme.post("/api/v1/releases/probe/promote/", promote, format="json").json(),
        "list": acme.get("/api/v1/releases/").json()["results"][0],
        "current": acme.get("/api/v1/releases/probe/").json(),
        "history": acme.get("/api/v1/releases/probe/history/").json()[0],
    }
    assert {where: answer["spec_blob"] for where, answer in answers.items()} == dict.fromkeys(answers)
    client.force_login(acme_user)
    for page in ("/releases/", "/releases/probe/"):
        html = client.get(page).content.decode()
        assert digest[:12] in html and f"/runs/blobs/{digest}/" not in html, page
    # The tenant holding the bytes is linked to them from its own release of the same digest.
    assert globex.post("/api/v1/releases/probe/promote/", promote, format="json").json()["spec_blob"] == link
    assert globex.get("/api/v1/releases/").json()["results"][0]["spec_blob"] == link
    assert acme.get("/api/v1/releases/probe/").json()["spec_blob"] is None


def test_deleting_drops_only_the_callers_hold_and_the_bytes_go_with_the_last_one(make_user, client_for, blob_storage):
    acme = client_for(make_user("acme-w", roles=["writer"], tenants=["acme"]))
    globex = client_for(make_user("globex-w", roles=["writer"], tenants=["globex"]))
    first = globex.post("/api/v1/blobs/", b"shared bytes", content_type="application/octet-stream")
    second = acme.post("/api/v1/blobs/", b"shared bytes", content_type="application/octet-stream")
    # Each tenant is told it stored new bytes: the answer never says another tenant had them.
    assert first.status_code == second.status_code == 201
    digest = first.json()["digest"]
    assert Blob.objects.filter(digest=digest).count() == 1
    assert acme.delete(f"/api/v1/blobs/{digest}/").status_code == 204
    assert acme.get(f"/api/v1/blobs/{digest}/").status_code == 404
    assert globex.get(f"/api/v1/blobs/{digest}/").status_code == 200
    assert blobstore.open_verified(digest) is not None
    assert globex.delete(f"/api/v1/blobs/{digest}/").status_code == 204
    assert blobstore.open_verified(digest) is None
    assert BlobChange.objects.filter(blob=digest, change=BlobChange.DELETED).count() == 1


# --- finding 6: identical answers, counts ----------------------------------------------------------


def test_posting_another_tenants_event_id_is_answered_as_for_an_unused_one(make_user, client_for):
    globex = client_for(make_user("globex-w", roles=["writer"], tenants=["globex"]))
    acme = client_for(make_user("acme-w", roles=["writer"], tenants=["acme"]))
    assert globex.post("/api/v1/events/", event_envelope("shared-id"), format="json").status_code == 201
    theirs = acme.post("/api/v1/events/", event_envelope("shared-id"), format="json")
    unused = acme.post("/api/v1/events/", event_envelope("never-used"), format="json")
    assert theirs.status_code == unused.status_code == 201
    assert acme.get("/api/v1/events/shared-id/").json()["tenant_id"] == "acme"
    assert globex.get("/api/v1/events/shared-id/").json()["tenant_id"] == "globex"


def test_the_ledger_list_shows_a_tenant_bound_principal_only_its_counts_and_no_head(make_user, client_for):
    for n in range(5):
        enhance(f"globex-{n}", "globex")
    enhance("acme-1", "acme")
    acme = client_for(make_user("acme-r", roles=["reader"], tenants=["acme"]))
    row = next(row for row in acme.get("/api/v1/ledgers/").json() if row["name"] == "enhancelog")
    assert (row["size"], row["head_seq"], row["head_entry_hash"]) == (1, None, None)
    everyone = client_for(make_user("all-r", roles=["reader"]))
    row = next(row for row in everyone.get("/api/v1/ledgers/").json() if row["name"] == "enhancelog")
    assert (row["size"], row["head_seq"]) == (6, 6)


def test_the_home_page_shows_a_tenant_bound_principal_only_its_counts(client, make_user):
    for n in range(7):
        enhance(f"globex-{n}", "globex")
    head = EnhanceEntry.objects.head()
    client.force_login(make_user("acme-r", roles=["reader"], tenants=["acme"]))
    page = client.get("/").content.decode()
    assert head.entry_hash[:16] not in page


@pytest.mark.usefixtures("signing_key")
def test_a_tenant_gets_inclusion_proofs_only_for_entries_it_can_see(make_user, client_for):
    from ledgerproject.ledger.checkpoints import make_checkpoint

    theirs = enhance("globex-1", "globex")
    mine = enhance("acme-1", "acme")
    make_checkpoint(EnhanceEntry)
    acme = client_for(make_user("acme-r", roles=["reader"], tenants=["acme"]))
    url = "/api/v1/ledgers/enhancelog/proofs/inclusion/"
    assert acme.get(f"{url}?seq={mine.seq}").status_code == 200
    assert acme.get(f"{url}?seq={theirs.seq}").status_code == 404


# --- natural keys per tenant -----------------------------------------------------------------------


def test_two_tenants_may_use_the_same_issue_id_and_the_conflict_check_stays_within_a_tenant(make_user, client_for):
    body = {
        "issue_id": "ISSUE-1",
        "blueprint_id": "bp",
        "prev_hash": "00" * 32,
        "new_hash": "ff" * 32,
        "status": "applied",
        "ts_ms": 1,
    }
    acme = client_for(make_user("acme-w", roles=["writer"], tenants=["acme"]))
    globex = client_for(make_user("globex-w", roles=["writer"], tenants=["globex"]))
    assert globex.post("/api/v1/enhances/", body, format="json").status_code == 201
    assert acme.post("/api/v1/enhances/", body, format="json").status_code == 201
    replay = acme.post("/api/v1/enhances/", body, format="json")
    assert replay.status_code == 409 and replay.json()["identical"] is True
    assert replay.json()["existing"]["tenant_id"] == "acme"
    everyone = client_for(make_user("all-r", roles=["reader"]))
    ambiguous = everyone.get("/api/v1/enhances/ISSUE-1/")
    assert ambiguous.status_code == 400 and "tenant_id" in ambiguous.json()
    assert everyone.get("/api/v1/enhances/ISSUE-1/?tenant_id=globex").json()["tenant_id"] == "globex"


@pytest.mark.parametrize("as_array", [False, True], ids=["one entry", "array"])
def test_a_blank_tenant_from_an_all_tenant_writer_means_no_tenant(make_user, client_for, as_array):
    # The unique keys hold "" and no tenant as one (COALESCE): a blank tenant must be answered as the
    # entry with no tenant it is, a 409 with `identical`, never a refused INSERT (500).
    body = {"issue_id": "BLANK-1", "blueprint_id": "bp", "prev_hash": "00" * 32, "new_hash": "ff" * 32}
    body |= {"status": "applied", "ts_ms": 1}
    api = client_for(make_user("all-w", roles=["writer"]))
    first = api.post("/api/v1/enhances/", {**body, "tenant_id": ""}, format="json")
    assert first.status_code == 201 and first.json()["tenant_id"] is None, first.content
    again = {**body, "tenant_id": ""}
    replay = api.post(
        "/api/v1/enhances/", [again, {**again, "issue_id": "BLANK-2"}] if as_array else again, format="json"
    )
    assert replay.status_code == 409 and replay.json()["identical"] is True, replay.content
    assert list(EnhanceEntry.objects.filter(issue_id__startswith="BLANK").values_list("issue_id", "tenant_id")) == [
        ("BLANK-1", None)
    ]
    event = api.post("/api/v1/events/", event_envelope("blank-event", tenant_id=""), format="json")
    assert event.status_code == 201 and event.json()["tenant_id"] is None, event.content
    assert ExperienceEvent.objects.get(event_id="blank-event").tenant_id is None


def test_the_database_refuses_a_second_issue_id_in_one_tenant_even_with_no_tenant():
    stored = enhance("dup-1")
    copy = EnhanceEntry(**{f.attname: getattr(stored, f.attname) for f in EnhanceEntry._meta.concrete_fields})
    copy.seq = stored.seq + 1
    with pytest.raises(IntegrityError), transaction.atomic():
        models.QuerySet(EnhanceEntry).bulk_create([copy])
    other_tenant = EnhanceEntry(**{f.attname: getattr(stored, f.attname) for f in EnhanceEntry._meta.concrete_fields})
    other_tenant.seq, other_tenant.tenant_id = stored.seq + 1, "acme"
    models.QuerySet(EnhanceEntry).bulk_create([other_tenant])
    assert EnhanceEntry.objects.filter(issue_id="dup-1").count() == 2


def test_a_writer_bound_to_several_tenants_names_one_and_another_tenant_is_404(make_user, client_for):
    body = {"issue_id": "I", "blueprint_id": "b", "prev_hash": "00" * 32, "new_hash": "ff" * 32, "status": "applied"}
    api = client_for(make_user("two", roles=["writer"], tenants=["acme", "initech"]))
    missing = api.post("/api/v1/enhances/", {**body, "ts_ms": 1}, format="json")
    assert missing.status_code == 400 and "tenant_id" in missing.json()
    other = api.post("/api/v1/enhances/", {**body, "ts_ms": 1, "tenant_id": "globex"}, format="json")
    assert other.status_code == 404
    named = api.post("/api/v1/enhances/", {**body, "ts_ms": 1, "tenant_id": "initech"}, format="json")
    assert named.status_code == 201 and named.json()["tenant_id"] == "initech"


# --- releases per (tenant, name) -------------------------------------------------------------------


def test_releases_are_per_tenant_and_name(make_user, client_for):
    digest = "ab" * 32
    acme = client_for(make_user("acme-w", roles=["writer"], tenants=["acme"]))
    globex = client_for(make_user("globex-w", roles=["writer"], tenants=["globex"]))
    promote = {"spec_digest": digest, "promoted_by": "ci"}
    assert acme.post("/api/v1/releases/agent/promote/", promote, format="json").status_code == 201
    assert globex.get("/api/v1/releases/agent/").status_code == 404
    assert globex.get("/api/v1/releases/agent/history/").json() == []
    # globex's first release of the same name is a first release, not a second one of acme's.
    first = globex.post("/api/v1/releases/agent/promote/", {**promote, "expected_current": ""}, format="json")
    assert first.status_code == 201
    assert globex.post("/api/v1/releases/agent/rollback/", {}, format="json").status_code == 409
    everyone = client_for(make_user("all-r", roles=["writer"]))
    assert everyone.get("/api/v1/releases/agent/").status_code == 404  # no release without a tenant
    assert everyone.get("/api/v1/releases/agent/?tenant_id=acme").json()["spec_digest"] == digest
    assert len(everyone.get("/api/v1/releases/agent/history/?tenant_id=globex").json()) == 1


# --- hashes of entries stored before the tenant column ---------------------------------------------


def test_an_entry_with_no_tenant_hashes_exactly_what_was_hashed_before_the_column_existed():
    entry = enhance("old-shape")
    content = json.loads(entry.hashed_content_json())
    assert "tenant_id" not in content
    before = {f.attname: hashing.jsonable(getattr(entry, f.attname)) for f in EnhanceEntry.content_fields()}
    before.pop("tenant_id")
    assert entry.hashed_content_json() == hashing.canonical_json(before)
    tenant_entry = enhance("new-shape", "acme")
    assert json.loads(tenant_entry.hashed_content_json())["tenant_id"] == "acme"
    assert verify_chain(EnhanceEntry).ok


def test_giving_an_old_entry_a_tenant_behind_the_ledgers_back_is_caught():
    entry = enhance("old-shape")
    enhance("next")
    table = EnhanceEntry._meta.db_table
    from django.db import connection

    with triggers_lifted(EnhanceEntry), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET tenant_id = %s WHERE seq = %s", ["acme", entry.seq])
    result = verify_chain(EnhanceEntry)
    assert not result.ok and result.first_bad_seq == entry.seq and "tenant_id" in result.reason


@pytest.mark.usefixtures("signing_key")
def test_the_export_and_the_offline_verifier_agree_on_entries_with_and_without_a_tenant(tmp_path, client):
    enhance("no-tenant")
    enhance("with-tenant", "acme")
    export = tmp_path / "enhancelog.jsonl"
    call_command("export_ledger", "enhancelog", "-o", str(export), "--no-progress")
    key = tmp_path / "key.json"
    key.write_text(json.dumps(client.get("/api/v1/ledgers/public-key/").json()))
    project = Path(settings.BASE_DIR)
    result = subprocess.run(
        [sys.executable, "-m", "ledgerproject.ledger.verify", "export", str(export), "--public-key", str(key)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(project)},
    )
    assert result.returncode == 0, result.stderr
    assert "2 entries" in result.stdout
    assert verify_chain(EnhanceEntry).ok


def test_a_tenant_bound_writer_storing_a_blob_is_given_a_hold(make_user, blob_storage):
    user = make_user("acme-w", roles=["writer"], tenants=["acme"])
    blob, created = blobstore.put_blob(io.BytesIO(b"bytes"), recorded_by=user, tenant="acme")
    assert created
    assert list(Blob.objects.visible_to(user).values_list("digest", flat=True)) == [blob.digest]
    other = make_user("globex-r", roles=["reader"], tenants=["globex"])
    assert not Blob.objects.visible_to(other).exists()


# --- ids that name a group of entries (a blueprint's trace, a correlation) --------------------------


def test_a_blueprint_trace_used_in_two_tenants_is_one_tenants_trace_at_a_time(make_user, client_for, client):
    enhance("acme-1", "acme", blueprint_id="shared-bp", ts_ms=100)
    enhance("globex-1", "globex", blueprint_id="shared-bp", ts_ms=200, prev_hash="11" * 32)
    everyone = make_user("all-reader", roles=["reader"])
    api = client_for(everyone)
    # Mixed, the trace would report globex's first entry as a break in acme's chain of patches.
    ambiguous = api.get("/api/v1/blueprints/shared-bp/trace/")
    assert ambiguous.status_code == 400 and "tenant_id" in ambiguous.json()
    acme = api.get("/api/v1/blueprints/shared-bp/trace/?tenant_id=acme").json()
    assert [e["issue_id"] for e in acme["entries"]] == ["acme-1"] and acme["breaks"] == []
    client.force_login(everyone)
    assert client.get("/enhances/blueprints/shared-bp/").status_code == 400
    page = client.get("/enhances/blueprints/shared-bp/?tenant_id=globex").content.decode()
    assert "globex-1" in page and "acme-1" not in page
    # A tenant-bound reader sees its own tenant's trace without naming it.
    bound = client_for(make_user("globex-reader", roles=["reader"], tenants=["globex"]))
    assert [e["issue_id"] for e in bound.get("/api/v1/blueprints/shared-bp/trace/").json()["entries"]] == ["globex-1"]


def test_a_correlation_used_in_two_tenants_is_one_tenants_page_at_a_time(make_user, client):
    for tenant in ("acme", "globex"):
        ExperienceEvent.objects.append(**_event_fields(f"ev-{tenant}", tenant), correlation_id="run-7")
    client.force_login(make_user("all-reader", roles=["reader"]))
    assert client.get("/events/correlations/run-7/").status_code == 400
    page = client.get("/events/correlations/run-7/?tenant_id=acme").content.decode()
    assert "ev-acme" in page and "ev-globex" not in page
