"""Route declarations: every page and API route names the permission it needs, or says it is public."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.urls import URLPattern, URLResolver, get_resolver

# The view permission of the ledger the route names in its `ledger` argument, or of any ledger
# when the route names none (the home page, the ledger list, the API schema).
LEDGER_READ = "ledger:read"
# Declared on the few routes an anonymous caller may use (login, the public key, health probes).
PUBLIC = "public"


def ledger_read_allowed(user, ledger=None):
    """Whether `user` may read the named ledger (404 for a name that is no ledger), or any ledger."""
    from ledgerproject.ledger.registry import get_ledger, ledger_models

    if ledger is None:
        return any(_can_view(user, model) for model in ledger_models())
    try:
        model = get_ledger(ledger)
    except LookupError as exc:
        raise Http404(str(exc)) from None
    return _can_view(user, model)


def _can_view(user, model):
    return user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}")


def has_declared_permission(user, permission, kwargs):
    """One declared permission: LEDGER_READ, or an "app.codename" the user must hold."""
    if permission == LEDGER_READ:
        return ledger_read_allowed(user, kwargs.get("ledger"))
    return user.has_perm(permission)


def requires_permission(*permissions):
    """Declare and enforce a page's permissions (all of them are needed).

    Anonymous callers are sent to the login page; signed-in callers without the permission get 403.
    The declaration stays on the view (`view.ledger_permissions`) for the route check (ledger.E020).
    """
    if not permissions or not all(isinstance(p, str) and p and p != PUBLIC for p in permissions):
        raise ValueError("requires_permission() needs one or more 'app.codename' permissions or LEDGER_READ")

    def decorate(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            for permission in permissions:
                if not has_declared_permission(user, permission, kwargs):
                    raise PermissionDenied(f"This page needs the permission {permission}.")
            return view(request, *args, **kwargs)

        guarded.ledger_permissions = permissions
        return guarded

    return decorate


def public(view):
    """Declare a route open to anonymous callers: a function view, an `as_view()` result or a view class."""
    if isinstance(view, type):
        view.ledger_public = True
    else:
        view.ledger_permissions = PUBLIC
    return view


def iter_routes(patterns=None, prefix="", in_admin=False):
    """(route text, URLPattern, whether the admin site serves it) for every URL pattern."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            admin = in_admin or pattern.app_name == "admin"
            yield from iter_routes(pattern.url_patterns, prefix + str(pattern.pattern), admin)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern, in_admin


def declaration_of(callback):
    """What a view declares: PUBLIC, a tuple of permissions, a {method: permission} map, or None.

    Function views carry `ledger_permissions` (requires_permission / public). DRF views are declared
    by the kernel's LedgerRolePermission with a model (view/add) or `required_permissions` whose
    every value is a permission, or by `public` on the class.
    """
    declared = getattr(callback, "ledger_permissions", None)
    if declared is not None:
        return declared
    cls = getattr(callback, "cls", None)
    if cls is None:
        return None
    if getattr(cls, "ledger_public", False):
        return PUBLIC
    from ledgerproject.ledger.permissions import LedgerRolePermission

    initkwargs = getattr(callback, "initkwargs", {}) or {}
    classes = initkwargs.get("permission_classes", getattr(cls, "permission_classes", ()))
    if len(classes) != 1 or not issubclass(classes[0], LedgerRolePermission):
        return None
    needed = initkwargs.get("required_permissions", getattr(cls, "required_permissions", None))
    if needed is not None:
        if not needed or not all(isinstance(p, str) and p for p in needed.values()):
            return None
        return dict(needed)
    model = getattr(cls, "permission_model", None)
    queryset = getattr(cls, "queryset", None)
    model = model or (queryset.model if queryset is not None else None)
    if model is None:
        return None
    opts = model._meta
    return {
        "GET": f"{opts.app_label}.view_{opts.model_name}",
        "POST": f"{opts.app_label}.add_{opts.model_name}",
    }


def undeclared_routes(patterns=None):
    """(route text, view name) of every route outside the admin that declares no permission."""
    found = []
    for route, pattern, in_admin in iter_routes(patterns):
        if in_admin:
            continue  # the admin declares its own: AdminSite.admin_view and ModelAdmin.has_*_permission
        if declaration_of(pattern.callback) is None:
            callback = pattern.callback
            name = getattr(getattr(callback, "cls", None) or getattr(callback, "view_class", None), "__name__", None)
            found.append((route, name or getattr(callback, "__qualname__", repr(callback))))
    return found


class DeclaredRoutesMiddleware:
    """At run time too, a route that declares nothing serves nobody (403), whoever asks.

    The system check (ledger.E020) stops `runserver` and `check` on such a route; this keeps a
    server started without the checks (gunicorn) closed as well. The admin declares its own.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self._declared = {}

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is not None and "admin" in match.app_names:
            return None
        declared = self._declared.get(view_func)
        if declared is None:
            declared = self._declared[view_func] = declaration_of(view_func) is not None
        if declared:
            return None
        detail = f"The route {request.path} declares no permission, so it serves nobody."
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": detail}, status=403)
        raise PermissionDenied(detail)
