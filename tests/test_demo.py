"""`make run`'s data: the demo loads into every ledger, every chain verifies, and loading twice adds nothing."""

import pytest
from django.core.management import call_command

from ledgerproject.ledger.chain import verify_chain
from ledgerproject.ledger.registry import ledger_models

pytestmark = pytest.mark.django_db


def test_the_demo_fills_every_ledger_with_chains_that_verify(capsys):
    call_command("load_demo", "--no-progress")
    sizes = {m.ledger_name: m._base_manager.count() for m in ledger_models()}
    empty = [name for name, size in sizes.items() if size == 0 and name != "testnotes"]
    assert empty == [], f"ledgers without demo data: {empty}"
    for model in ledger_models():
        assert verify_chain(model).ok, model.ledger_name
    call_command("load_demo", "--no-progress")
    assert {m.ledger_name: m._base_manager.count() for m in ledger_models()} == sizes


def test_ensure_admin_prints_a_login_that_works(client, capsys):
    call_command("ensure_admin", "--username", "admin")
    line = capsys.readouterr().out.strip().splitlines()[-1]
    username, password = line.split("admin login: ")[1].split("  ")[0].split(" / ")
    # Through the login page: with the lockout backend, a login needs the request it is made in.
    response = client.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_the_demo_releases_span_weeks_so_as_of_changes_the_answer(reader_api):
    from ledgerproject.ledger.hashing import format_timestamp
    from releases.models import Release

    call_command("load_demo", "--no-progress")
    times = sorted(Release.objects.values_list("recorded_at", flat=True))
    assert (times[-1] - times[0]).days >= 28  # weeks apart, not the same second
    assert times == sorted(Release.objects.order_by("seq").values_list("recorded_at", flat=True))  # never backwards
    changed = 0
    for name in Release.objects.order_by().values_list("name", flat=True).distinct():
        history = list(Release.objects.history(name).order_by("seq"))
        if len(history) < 2:
            continue
        between = history[-2].recorded_at + (history[-1].recorded_at - history[-2].recorded_at) / 2
        now_body = reader_api.get(f"/api/v1/releases/{name}/").json()
        then_body = reader_api.get(f"/api/v1/releases/{name}/", {"as_of": between.isoformat()}).json()
        assert then_body["created_at"] == format_timestamp(history[-2].recorded_at)
        assert now_body["created_at"] == format_timestamp(history[-1].recorded_at)
        changed += 1
    assert changed >= 3


def test_the_demo_runs_finish_when_their_duration_says(reader_api):
    from runs.models import RunEvent, RunOutcome

    call_command("load_demo", "--no-progress")
    outcomes = list(RunOutcome.objects.select_related("run"))
    assert len(outcomes) >= 5
    for outcome in outcomes:
        took = (outcome.completed_at - outcome.run.created_at).total_seconds() * 1000
        assert abs(took - outcome.duration_ms) < 1000, (outcome.run_id, took, outcome.duration_ms)
        last_event = RunEvent.objects.filter(run=outcome.run).order_by("-event_seq").first()
        assert last_event.timestamp <= outcome.completed_at
        body = reader_api.get(f"/api/v1/runs/{outcome.run_id}/").json()
        assert body["summary"]["duration_ms"] == outcome.duration_ms
