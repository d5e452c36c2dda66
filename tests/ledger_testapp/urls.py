"""The project's routes plus the test ledger's API at /api/v1/notes/."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from ledgerproject.urls import handler400, handler403, handler404, handler500  # noqa: F401  (the project's error pages)
from ledgerproject.urls import urlpatterns as project_urlpatterns
from tests.ledger_testapp.api import NoteViewSet

router = SimpleRouter()
router.register("notes", NoteViewSet, basename="note")

urlpatterns = [path("api/v1/", include(router.urls)), *project_urlpatterns]
