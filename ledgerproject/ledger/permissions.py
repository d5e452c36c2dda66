"""API permissions: role (model permission) checks, with tenant scoping done by the querysets."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from ledgerproject.ledger.access import has_declared_permission


class LedgerRolePermission(BasePermission):
    """Reading needs the model's view permission, appending its add permission.

    Views without a model name theirs in `required_permissions` ({"GET": "app.codename", ...});
    `access.LEDGER_READ` there means the view permission of the ledger the route names (or of any
    ledger). Every route's declaration is checked at start (ledger.E020, access.py).
    """

    def has_permission(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if user.is_superuser:
            return True
        needed = getattr(view, "required_permissions", None)
        if needed is not None:
            # HEAD and OPTIONS run the GET handler's checks: a HEAD must never do what GET may not.
            method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
            if method not in needed and "*" not in needed:
                # No handler: let the view answer 405. A handler nobody listed: refused.
                return not hasattr(view, method.lower())
            perm = needed.get(method, needed.get("*"))
            return perm is None or has_declared_permission(user, perm, getattr(view, "kwargs", None) or {})
        model = _view_model(view)
        if model is None:
            return False
        opts = model._meta
        action = "view" if request.method in SAFE_METHODS else "add"
        return user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")


def _view_model(view):
    model = getattr(view, "permission_model", None)
    if model is not None:
        return model
    queryset = getattr(view, "queryset", None)
    return queryset.model if queryset is not None else None
