"""The enhance log app: one entry per enhance attempt, and reviews of the rejected ones."""

from django.apps import AppConfig


class EnhancelogConfig(AppConfig):
    name = "enhancelog"
    verbose_name = "Enhance log"
