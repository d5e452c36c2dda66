"""Experience routes: the API (events, artifacts, trace links) and the pages (timeline, chains, artifacts)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from experience import api, views

app_name = "experience"

router = SimpleRouter(trailing_slash=True)
router.register("events", api.ExperienceEventViewSet, basename="event")
router.register("artifacts", api.ArtifactViewSet, basename="artifact")

api_urlpatterns = [
    *router.urls,
    path(
        "artifacts/<str:artifact_id>/transitions/",
        api.ArtifactTransitionsView.as_view(),
        name="artifact-transitions",
    ),
    path("trace-links/<str:trace_link_id>/", api.TraceLinkView.as_view(), name="trace-link"),
]

urlpatterns = [
    path("events/", views.timeline, name="timeline"),
    path("events/chains/<str:chain_id>/", views.chain, name="chain"),
    path("events/correlations/<str:correlation_id>/", views.correlation, name="correlation"),
    path("events/<str:event_id>/", views.event_detail, name="event"),
    path("artifacts/", views.artifacts, name="artifacts"),
    path("artifacts/<str:artifact_id>/", views.artifact_detail, name="artifact"),
    path("trace-links/<str:trace_link_id>/", views.trace_link, name="trace-link"),
]
