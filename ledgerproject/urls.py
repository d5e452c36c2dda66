"""Root routes: each ledger app's pages and its API under /api/v1/, the kernel's, admin, schema."""

from importlib import import_module

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import IsAuthenticated

from ledgerproject.ledger import urls as kernel_urls


def _app_routes():
    api, pages = [], []
    for app in settings.LEDGER_APPS:
        module = import_module(f"{app}.urls")
        api.append(path("", include((getattr(module, "api_urlpatterns", []), f"{app}-api"))))
        pages.append(path("", include((getattr(module, "urlpatterns", []), app))))
    return api, pages


app_api, app_pages = _app_routes()

urlpatterns = [
    path("api/v1/", include([*kernel_urls.api_urlpatterns, *app_api])),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[IsAuthenticated]), name="schema"),
    path(
        "api/docs/",
        # The split view serves its start-up script as a file (?script), so the CSP needs no inline script.
        SpectacularSwaggerSplitView.as_view(url_name="schema", permission_classes=[IsAuthenticated]),
        name="swagger-ui",
    ),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    *kernel_urls.urlpatterns,
    *app_pages,
]

admin.site.site_header = "Ledger administration"
admin.site.site_title = "Ledger"
handler404 = "ledgerproject.ledger.views.not_found"
handler500 = "ledgerproject.ledger.views.server_error"
