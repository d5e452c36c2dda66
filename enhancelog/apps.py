from django.apps import AppConfig


class EnhancelogConfig(AppConfig):
    name = "enhancelog"
