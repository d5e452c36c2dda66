"""`manage.py add_user`: a browser login with roles and tenants, with a generated or given password."""

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from ledgerproject.ledger.models import ALL_TENANTS, AllTenantsGrant, TenantBinding, tenant_scope

pytestmark = pytest.mark.django_db


def add_user(*args, stdin=None, monkeypatch=None):
    out = io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command("add_user", *args, stdout=out)
    return out.getvalue()


def test_it_creates_a_login_with_a_generated_password_and_roles(client):
    output = add_user("rita", "--role", "reviewer", "--role", "reader")
    password = re.search(r"password: (\S+)", output).group(1)
    user = get_user_model().objects.get(username="rita")
    assert not user.is_staff and not user.is_superuser
    assert set(user.groups.values_list("name", flat=True)) == {"reviewer", "reader"}
    assert user.has_perm("enhancelog.add_review")
    response = client.post("/accounts/login/", {"username": "rita", "password": password})
    assert response.status_code == 302  # signed in through the login form
    assert client.get("/enhances/").status_code == 200


def test_it_binds_the_given_tenants(monkeypatch):
    add_user("tom", "--role", "reader", "--tenant", "acme", "--tenant", "globex")
    assert set(TenantBinding.objects.filter(user__username="tom").values_list("tenant_id", flat=True)) == {
        "acme",
        "globex",
    }
    assert not AllTenantsGrant.objects.filter(user__username="tom").exists()


def test_without_tenants_it_gives_the_explicit_all_tenants_grant_like_issue_token():
    add_user("ann", "--role", "reader")
    user = get_user_model().objects.get(username="ann")
    assert AllTenantsGrant.objects.filter(user=user).exists()
    assert tenant_scope(user) is ALL_TENANTS and not TenantBinding.objects.filter(user=user).exists()


def test_it_takes_the_password_from_standard_input_without_printing_it(client, monkeypatch):
    output = add_user(
        "ann", "--role", "auditor", "--password-stdin", stdin="a long enough passphrase\n", monkeypatch=monkeypatch
    )
    assert "a long enough passphrase" not in output and "password:" not in output
    assert get_user_model().objects.get(username="ann").check_password("a long enough passphrase")


def test_it_refuses_a_weak_password_an_unknown_role_and_an_existing_name(monkeypatch):
    with pytest.raises(CommandError, match="Password refused"):
        add_user("weak", "--role", "reader", "--password-stdin", stdin="abc\n", monkeypatch=monkeypatch)
    with pytest.raises(CommandError):
        add_user("odd", "--role", "superhero")
    add_user("dup", "--role", "reader")
    with pytest.raises(CommandError, match="already exists"):
        add_user("dup", "--role", "writer")
    assert not get_user_model().objects.filter(username__in=["weak", "odd"]).exists()
