"""Gives a person a browser login with roles (and tenants): `add_user NAME --role reviewer [--tenant T]`."""

import secrets
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ledgerproject.ledger.roles import ROLES, ensure_roles
from ledgerproject.ledger.tenancy import bind_principal


class Command(BaseCommand):
    help = (
        "Create the login NAME with one or more roles (reader, writer, reviewer, auditor) and optional tenants. "
        "Prints a generated password, or reads one line from standard input with --password-stdin."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", action="append", choices=ROLES, required=True, dest="roles", help="repeatable")
        parser.add_argument(
            "--tenant", action="append", default=[], dest="tenants", help="repeatable; none: the all-tenants grant"
        )
        parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        parser.add_argument("--email", default="")

    def handle(self, username, roles, tenants, password_stdin, email, **options):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"A user named {username!r} already exists; change it in the admin.")
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("--password-stdin: no password on standard input.")
            try:
                validate_password(password, User(username=username, email=email))
            except ValidationError as exc:
                raise CommandError("Password refused: " + " ".join(exc.messages)) from None
        else:
            password = secrets.token_urlsafe(16)
        tenants = [tenant.strip() for tenant in tenants]
        if any(not tenant for tenant in tenants):
            raise CommandError("--tenant needs a tenant id.")
        ensure_roles()
        with transaction.atomic():
            # Not staff: every role works from the product's pages (the admin stays for administrators).
            user = User.objects.create_user(username=username, email=email, password=password)
            user.groups.add(*Group.objects.filter(name__in=roles))
            bind_principal(user, tenants, source="add_user")
        scope = f"tenants {', '.join(tenants)}" if tenants else "every tenant"
        self.stdout.write(f"Created {username} with roles {', '.join(sorted(set(roles)))} ({scope}).")
        if not password_stdin:
            self.stdout.write(f"password: {password}")
