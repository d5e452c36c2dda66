"""Enhance log routes: the API (mounted under /api/v1/) and the pages (mounted at /)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from enhancelog import api, views

app_name = "enhancelog"

router = SimpleRouter(trailing_slash=True)
router.register("enhances", api.EnhanceEntryViewSet, basename="enhance")

api_urlpatterns = [
    path("enhances/<str:issue_id>/reviews/", api.EntryReviewsView.as_view(), name="enhance-reviews"),
    path("blueprints/<str:blueprint_id>/trace/", api.BlueprintTraceView.as_view(), name="blueprint-trace"),
    *router.urls,
]

urlpatterns = [
    path("enhances/", views.dashboard, name="dashboard"),
    path("enhances/entries/", views.entry_list, name="list"),
    path("enhances/entries/<str:issue_id>/", views.entry_detail, name="detail"),
    path("enhances/entries/<str:issue_id>/review/", views.record_review, name="review"),
    path("enhances/blueprints/<str:blueprint_id>/", views.trace, name="trace"),
]
