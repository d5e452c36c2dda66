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
