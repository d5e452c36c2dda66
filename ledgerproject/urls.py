"""Root routes: each ledger app's pages and its API under /api/v1/, the kernel's, admin, schema."""

from importlib import import_module

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from ledgerproject.ledger import urls as kernel_urls
from ledgerproject.ledger.access import public
from ledgerproject.ledger.api import SchemaView, SwaggerView
from ledgerproject.ledger.metrics import metrics_view


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
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("admin/", admin.site.urls),
    # Anonymous by nature; every other route declares its permission (checked by ledger.E020).
    # /metrics guards itself: loopback or LEDGER_METRICS_ALLOWED_IPS, or the metrics bearer token.
    path("metrics", public(metrics_view), name="metrics"),
    path("accounts/login/", public(auth_views.LoginView.as_view()), name="login"),
    path("accounts/logout/", public(auth_views.LogoutView.as_view()), name="logout"),
    *kernel_urls.urlpatterns,
    *app_pages,
]

admin.site.site_header = "Ledger administration"
admin.site.site_title = "Ledger"
handler400 = "ledgerproject.ledger.views.bad_request"
handler403 = "ledgerproject.ledger.views.permission_denied"
handler404 = "ledgerproject.ledger.views.not_found"
handler500 = "ledgerproject.ledger.views.server_error"
