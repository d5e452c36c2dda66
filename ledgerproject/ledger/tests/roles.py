"""`ensure_roles()` for test fixtures: one query when the role groups already hold exactly its grants.

Every persona fixture needs the four roles. The migration's post_migrate hook (and the flush of a
transactional test, which re-emits it) already made them, so re-running `ensure_roles()` (some forty
queries) per user is waste. The roles are compared in full — group names and every granted
permission by app label and codename — with what `ensure_roles()` left the last time it ran in this
process; any difference runs it again, so a fixture still sees exactly what `ensure_roles()` gives.
"""

from django.contrib.auth.models import Group

from ledgerproject.ledger.roles import ROLES, ensure_roles

_granted = {"roles": None}


def _roles_as_stored():
    names = frozenset(Group.objects.filter(name__in=ROLES).values_list("name", flat=True))
    grants = Group.permissions.through.objects.filter(group__name__in=ROLES).values_list(
        "group__name", "permission__content_type__app_label", "permission__codename"
    )
    return names, frozenset(grants)


def ensure_test_roles():
    """The four roles with their permissions, as `ensure_roles()` makes them."""
    if _granted["roles"] is not None and _roles_as_stored() == _granted["roles"]:
        return
    ensure_roles()
    _granted["roles"] = _roles_as_stored()
