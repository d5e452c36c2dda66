"""The release registry app: which spec each agent name runs, promoted and rolled back over time."""

from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "releases"
    verbose_name = "Releases"
