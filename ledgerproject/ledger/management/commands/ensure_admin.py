"""Creates (or resets) the local admin login and prints it; for `make run` on a fresh machine."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from ledgerproject.ledger.roles import ROLES, ensure_roles


class Command(BaseCommand):
    help = "Create or reset the superuser USERNAME (default admin) with a fresh random password and print it."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default=None, help="default: a new random one")

    def handle(self, username, password, **options):
        ensure_roles()
        password = password or secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(username=username, defaults={"email": f"{username}@localhost"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        user.groups.add(*Group.objects.filter(name__in=ROLES))
        self.stdout.write(f"admin login: {username} / {password}  (http://127.0.0.1:8000/)")
