"""Kernel routes: API (ledger list and verification) and pages (home)."""

from django.urls import path

from ledgerproject.ledger import api, views

api_urlpatterns = [
    path("ledgers/", api.LedgerListView.as_view(), name="ledger-list"),
    path("ledgers/<str:ledger>/verify/", api.LedgerVerifyView.as_view(), name="ledger-verify"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("ledgers/<str:ledger>/verify/", views.verify_now, name="ledger-verify-now"),
]
