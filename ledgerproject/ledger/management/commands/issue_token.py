"""Creates the user if missing, grants roles, binds tenants, and prints a new API token key."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ledgerproject.ledger.models import AllTenantsGrant, ApiToken, TenantBinding
from ledgerproject.ledger.roles import ROLES, ensure_roles
from ledgerproject.ledger.tenancy import bind_principal


class Command(BaseCommand):
    help = "Issue an API token for USERNAME with the given roles and tenants; prints the key on its last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", action="append", default=[], choices=ROLES, help="repeatable")
        parser.add_argument(
            "--tenant", action="append", default=[], help="repeatable; none: the all-tenants grant (see --all-tenants)"
        )
        parser.add_argument(
            "--all-tenants",
            action="store_true",
            help="grant every tenant explicitly (what issuing without --tenant does; refused together with --tenant)",
        )
        parser.add_argument("--name", default="", help="a label for the token")

    @transaction.atomic
    def handle(self, username, role, tenant, name, all_tenants=False, **options):
        if not username.strip():
            raise CommandError("USERNAME must not be empty")
        if all_tenants and tenant:
            raise CommandError("--all-tenants and --tenant exclude each other: a principal is bound, or sees all")
        ensure_roles()
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        for role_name in role:
            user.groups.add(Group.objects.get(name=role_name))
        bind_principal(user, tenant, source="issue_token")
        _, key = ApiToken.objects.issue(user, name=name)
        roles = ", ".join(sorted(user.groups.values_list("name", flat=True))) or "none"
        bound = sorted(TenantBinding.objects.filter(user=user).values_list("tenant_id", flat=True))
        tenants = (
            ", ".join(bound) if bound else ("all" if AllTenantsGrant.objects.filter(user=user).exists() else "none")
        )
        self.stdout.write(f"{'created' if created else 'updated'} {username}: roles {roles}; tenants {tenants}")
        self.stdout.write(key)
