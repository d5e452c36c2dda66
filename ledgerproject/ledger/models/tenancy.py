"""Who sees which tenants: tenant bindings, the all-tenants grant and a principal's tenant scope."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class TenantBinding(models.Model):
    """Binds a principal to a tenant: it sees and writes only its tenants' entries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tenant_bindings")
    tenant_id = models.CharField(max_length=256)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant_id"], name="ledger_tenantbinding_unique")]

    def __str__(self):
        return f"{self.user} → {self.tenant_id}"


class AllTenantsGrant(models.Model):
    """The explicit grant to see every tenant (and entries with no tenant). A principal with
    neither this grant nor a tenant binding sees nothing: tenancy fails closed."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="all_tenants_grant")
    granted_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "all-tenants grant"

    def __str__(self):
        return f"{self.user} → all tenants"


ALL_TENANTS = None


def tenant_scope(user):
    """ALL_TENANTS (None) for a superuser or a holder of the grant, else the frozenset of the
    principal's bound tenants (empty, so nothing visible, when it has neither)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    if user.is_superuser:
        return ALL_TENANTS
    cached = getattr(user, "_ledger_tenant_scope", False)
    if cached is False:
        # One query for both: the grant (a row marked True) and the bindings.
        flag = models.BooleanField()
        rows = (
            TenantBinding.objects.filter(user=user)
            .values_list("tenant_id", models.Value(False, output_field=flag))
            .union(
                AllTenantsGrant.objects.filter(user=user).values_list(
                    models.Value("", output_field=models.CharField()), models.Value(True, output_field=flag)
                )
            )
        )
        rows = list(rows)
        if any(granted for _, granted in rows):
            cached = ALL_TENANTS
        else:
            cached = frozenset(tenant for tenant, _ in rows)
        user._ledger_tenant_scope = cached
    return cached


def within_scope(queryset, user, field="tenant"):
    """`queryset` narrowed to the rows `user` may see, for a table that keeps its tenant as text in `field`
    ("" for none: rollups, latest-entry rows): every row for an all-tenant principal, its tenants' rows for
    a tenant-bound one (never those with no tenant), nothing for anyone else (fail closed)."""
    scope = tenant_scope(user)
    if scope is ALL_TENANTS:
        return queryset
    if not scope:
        return queryset.none()
    return queryset.filter(**{f"{field}__in": sorted(scope)})


def sees_all_tenants(user):
    return tenant_scope(user) is ALL_TENANTS
