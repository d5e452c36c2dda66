"""Kernel routes: API (ledger list and verification), pages (home) and the health endpoints."""

from django.urls import path

from ledgerproject.ledger import api, health, proofs_api, views
from ledgerproject.ledger.access import public

api_urlpatterns = [
    # /api/v1/ itself: an index of the API's parts.
    path("", api.ApiIndexView.as_view(), name="api-index"),
    path("ledgers/", api.LedgerListView.as_view(), name="ledger-list"),
    # Before the ledgers/<ledger>/ routes, so "public-key" is never taken for a ledger's name.
    path("ledgers/public-key/", proofs_api.PublicKeyView.as_view(), name="ledger-public-key"),
    path("ledgers/<str:ledger>/checkpoint/", proofs_api.CheckpointView.as_view(), name="ledger-checkpoint"),
    path(
        "ledgers/<str:ledger>/proofs/inclusion/", proofs_api.InclusionProofView.as_view(), name="ledger-proof-inclusion"
    ),
    path(
        "ledgers/<str:ledger>/proofs/consistency/",
        proofs_api.ConsistencyProofView.as_view(),
        name="ledger-proof-consistency",
    ),
    path("ledgers/<str:ledger>/export/", proofs_api.ExportView.as_view(), name="ledger-export"),
    path("ledgers/<str:ledger>/verify/", api.LedgerVerifyView.as_view(), name="ledger-verify"),
    path("search/", api.SearchView.as_view(), name="search"),
]

urlpatterns = [
    # At the site root without a trailing slash, as load balancers and orchestrators probe them.
    # Anonymous for load balancers and orchestrators; they reveal nothing of any ledger.
    path("healthz", public(health.healthz), name="healthz"),
    path("readyz", public(health.readyz), name="readyz"),
    path("", views.home, name="home"),
    path("ledgers/", views.ledgers, name="ledgers"),
    path("search/", views.search_page, name="search"),
    path("trail/", views.trail_page, name="trail"),
    path("ledgers/<str:ledger>/verify/", views.verify_now, name="ledger-verify-now"),
    path("ledgers/<str:ledger>/entries/<int:seq>/", proofs_api.entry_page, name="ledger-entry"),
    path("ledgers/<str:ledger>/checkpoint/", proofs_api.checkpoint_now, name="ledger-checkpoint-now"),
]
