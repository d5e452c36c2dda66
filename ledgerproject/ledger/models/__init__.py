"""The kernel's models, one module per concern; every public name is re-exported here.

entries: the abstract LedgerEntry and its querysets (the append path's method); append: the append
path's helpers; tenancy: bindings, the all-tenants grant and tenant_scope(); tokens: API tokens;
checks: chain-check results and the kernel's permissions; merkle: Merkle tiles and checkpoints;
tenant_parts: a several-tenant principal's pages read from each tenant's candidates; lookups: shared lookups.
"""

from ledgerproject.ledger.models.checks import ChainCheck, LedgerAccess
from ledgerproject.ledger.models.entries import (
    KERNEL_FIELDS,
    AppendOnlyQuerySet,
    LedgerEntry,
    LedgerQuerySet,
    newest_seq,
    optional_id_index,
    tenant_unique,
)
from ledgerproject.ledger.models.lookups import InEachOf
from ledgerproject.ledger.models.merkle import Checkpoint, CheckpointQuerySet, MerkleTile
from ledgerproject.ledger.models.tenancy import (
    ALL_TENANTS,
    AllTenantsGrant,
    TenantBinding,
    sees_all_tenants,
    tenant_scope,
    within_scope,
)
from ledgerproject.ledger.models.tokens import ApiToken, ApiTokenQuerySet, hash_token_key

__all__ = [
    "ALL_TENANTS",
    "KERNEL_FIELDS",
    "AllTenantsGrant",
    "ApiToken",
    "ApiTokenQuerySet",
    "AppendOnlyQuerySet",
    "ChainCheck",
    "Checkpoint",
    "CheckpointQuerySet",
    "InEachOf",
    "LedgerAccess",
    "LedgerEntry",
    "LedgerQuerySet",
    "MerkleTile",
    "TenantBinding",
    "hash_token_key",
    "sees_all_tenants",
    "tenant_scope",
    "newest_seq",
    "optional_id_index",
    "tenant_unique",
    "within_scope",
]
