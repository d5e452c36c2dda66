"""The four roles as Django groups with model permissions, kept in step with the installed ledgers."""

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

ROLES = ("reader", "writer", "reviewer", "auditor")
AUDITOR_PERMISSIONS = ("verify_ledger", "export_ledger", "checkpoint_ledger")


def role_permissions():
    """{role: [Permission]}: readers and auditors view every ledger; writers (or the model's
    append_role, e.g. reviewer) add to it; auditors also verify, export and checkpoint."""
    from ledgerproject.ledger.models import LedgerAccess
    from ledgerproject.ledger.registry import ledger_models

    wanted = {role: [] for role in ROLES}
    for model in ledger_models():
        content_type = ContentType.objects.get_for_model(model)
        opts = model._meta
        view = Permission.objects.filter(content_type=content_type, codename=f"view_{opts.model_name}").first()
        add = Permission.objects.filter(content_type=content_type, codename=f"add_{opts.model_name}").first()
        if view:
            wanted["reader"].append(view)
            wanted["writer"].append(view)
            wanted["reviewer"].append(view)
            wanted["auditor"].append(view)
        if add:
            wanted[getattr(model, "append_role", "writer")].append(add)
    access_type = ContentType.objects.get_for_model(LedgerAccess, for_concrete_model=False)
    wanted["auditor"].extend(Permission.objects.filter(content_type=access_type, codename__in=AUDITOR_PERMISSIONS))
    return wanted


def ensure_roles(sender=None, **kwargs):
    """post_migrate: create the groups and grant them their permissions (idempotent)."""
    if sender is not None and sender.label != "ledger":
        return
    for role, permissions in role_permissions().items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*permissions)
