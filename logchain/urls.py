"""Routes of the node-log ledger: the API under /api/v1/logs/ and the viewer at /logs/."""

from django.urls import path

from logchain import api, views

app_name = "logchain"

_records = api.LogRecordViewSet

api_urlpatterns = [
    path(
        "logs/",
        _records.as_view({"get": "list", "post": "create"}, basename="logs", detail=False),
        name="logrecord-list",
    ),
    path("logs/batch/", _records.as_view({"post": "batch"}, basename="logs", detail=False), name="logrecord-batch"),
    path("logs/appender/", api.AppenderStatsView.as_view(), name="appender"),
    # A record is named by its natural key, as the seed names it: (node_id, seq).
    path(
        "logs/<str:node_id>/<str:seq>/",
        _records.as_view({"get": "retrieve"}, basename="logs", detail=True),
        name="logrecord-detail",
    ),
]

urlpatterns = [
    path("logs/", views.viewer, name="viewer"),
]
