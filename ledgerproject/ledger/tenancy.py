"""Tenancy helpers over visible_to(): one lookup rule (404 alike for absent and not yours) and the writer's tenant."""

from django.core.exceptions import BadRequest
from django.http import Http404
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as DRFValidationError

from ledgerproject.ledger.models import ALL_TENANTS, AllTenantsGrant, TenantBinding, tenant_scope

TENANT_PARAM = "tenant_id"
NAME_THE_TENANT = "this id exists in more than one of your tenants: name one with ?tenant_id="


def _query(request):
    return getattr(request, "query_params", None) or getattr(request, "GET", {})


def _bad_request(request, message):
    if hasattr(request, "query_params"):
        raise DRFValidationError({TENANT_PARAM: [message]})
    raise BadRequest(message)


def requested_tenant(request):
    """The tenant named with ?tenant_id= ("" names the entries with no tenant), or None."""
    return _query(request).get(TENANT_PARAM)


def visible_or_404(queryset, request, what="entry", **lookup):
    """The one entry `lookup` names among those the principal may see.

    Absent and another tenant's are the same 404 (the message names only what was asked for).
    When the principal sees several tenants holding that id, ?tenant_id= picks one; without it
    the answer is a 400 asking for it.
    """
    found = queryset.visible_to(request.user).filter(**lookup)
    tenant = requested_tenant(request)
    if tenant is not None:
        found = found.of_tenant(tenant)
    rows = list(found[:2])
    if not rows:
        raise (NotFound if hasattr(request, "query_params") else Http404)(f"No {what} found.")
    if len(rows) > 1:
        _bad_request(request, NAME_THE_TENANT)
    return rows[0]


def writer_tenant(user, requested, field="tenant_id"):
    """The tenant a principal's new entry belongs to: what it named when that is in its scope;
    its only tenant when it named none; a 400 when it is bound to several and named none; a 404
    when it named another tenant (the same answer as for something absent). A blank name names none:
    the ledgers' unique keys hold a blank tenant and no tenant as one."""
    scope = tenant_scope(user)
    if scope is ALL_TENANTS:
        return requested or None
    if requested:
        if requested not in scope:
            raise NotFound(f"Tenant {requested!r} not found.")
        return requested
    if len(scope) == 1:
        return next(iter(scope))
    if not scope:
        raise NotFound(f"Tenant {requested!r} not found.")
    raise DRFValidationError({field: ["required: this principal is bound to several tenants; name one of them"]})


def one_tenant(queryset, request):
    """`queryset` (already visible_to the principal) narrowed to one tenant: ?tenant_id= when
    given; otherwise it must hold a single tenant's entries (else a 400 asking for it). For ids
    that name a group of entries (an artifact's history, a release name) rather than one entry."""
    tenant = requested_tenant(request)
    if tenant is not None:
        return queryset.of_tenant(tenant)
    field = queryset.model.tenant_field
    if field and queryset.order_by().values(field).distinct().count() > 1:
        _bad_request(request, NAME_THE_TENANT)
    return queryset


def named_tenant(request):
    """The one tenant a request works in, for registries keyed per (tenant, name): a tenant-bound
    principal's own (it names one with ?tenant_id= when bound to several, else 400; another
    tenant's is 404); an all-tenant principal's ?tenant_id=, or None (entries with no tenant)."""
    try:
        return writer_tenant(request.user, requested_tenant(request) or None)
    except (NotFound, DRFValidationError) as exc:
        if hasattr(request, "query_params"):
            raise
        if isinstance(exc, NotFound):
            raise Http404(str(exc.detail)) from None
        raise BadRequest(NAME_THE_TENANT) from None


def bind_principal(user, tenants, source):
    """Bind `user` to `tenants`, or, given none and holding no binding, give it the explicit
    all-tenants grant (`source` names the command, kept on the grant). Binding to tenants narrows
    a principal that held the grant. Used by every command that makes principals, so none of them
    leaves one that silently sees nothing or everything."""
    for tenant_id in dict.fromkeys(tenants):
        TenantBinding.objects.get_or_create(user=user, tenant_id=tenant_id)
    if tenants:
        AllTenantsGrant.objects.filter(user=user).delete()
    elif not TenantBinding.objects.filter(user=user).exists():
        AllTenantsGrant.objects.get_or_create(user=user, defaults={"note": source})
