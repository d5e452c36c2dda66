"""The demo data: several agents promoted and rolled back, loaded once."""

import pytest

from releases import demo
from releases.models import Release

pytestmark = pytest.mark.django_db


def test_it_loads_agents_with_promotions_and_rollbacks_once(db):
    summary = demo.load(seed=1)

    assert "agents" in summary
    assert Release.objects.currents().count() == len(demo.STORY)
    assert Release.objects.rollbacks().count() == sum(
        1 for _, steps in demo.STORY for step, _ in steps if step == "rollback"
    )
    assert Release.objects.current("triage-bot").version_label == "0.11.0"  # two rollbacks: back and forth
    assert "already" in demo.load(seed=1)
    assert Release.objects.count() == sum(len(steps) for _, steps in demo.STORY)


def test_the_current_release_runs_the_spec_of_the_runs_apps_demo_runs(db, monkeypatch):
    used_by_runs = "ab" * 32
    monkeypatch.setattr(demo, "_run_digests", lambda: {"planner": [used_by_runs], "triage-bot": [used_by_runs]})

    demo.load(seed=1)

    assert Release.objects.current("planner").spec_digest == used_by_runs
    assert Release.objects.current("triage-bot").spec_digest == used_by_runs  # after a rollback and its undo
    assert Release.objects.current("reviewer").spec_digest != used_by_runs


def test_it_finds_the_spec_digests_of_the_runs_apps_runs(db):
    assert demo._run_digests() == {}  # no runs yet; and no error when the runs app has nothing to offer
