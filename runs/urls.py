"""Routes of the runs app: the API (blobs, runs, run events, outputs) and its pages under /runs/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from runs import api, views

app_name = "runs"

router = SimpleRouter(trailing_slash=True)
router.register("blobs", api.BlobViewSet, basename="blob")
router.register("runs", api.RunViewSet, basename="run")
router.register(r"runs/(?P<run_id>[0-9a-fA-F-]{32,36})/events", api.RunEventViewSet, basename="run-event")
router.register("outputs", api.OutputViewSet, basename="output")

api_urlpatterns = router.urls

urlpatterns = [
    path("runs/", views.run_list, name="run-list"),
    path("runs/tasks/", views.task_list, name="task-list"),
    path("runs/tasks/<path:task_id>/<int:attempt>/", views.task_attempt, name="task-attempt"),
    path("runs/blobs/<str:digest>/", views.blob_detail, name="blob-detail"),
    path("runs/<uuid:run_id>/", views.run_detail, name="run-detail"),
]
