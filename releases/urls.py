"""Release registry routes: the API under /api/v1/releases/, pages under /releases/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from releases import api, views

app_name = "releases"

router = SimpleRouter(trailing_slash=True)
router.register("releases", api.ReleaseViewSet, basename="release")
api_urlpatterns = router.urls

urlpatterns = [
    path("releases/", views.index, name="index"),
    path("releases/<str:name>/", views.history, name="history"),
]
