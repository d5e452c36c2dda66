from django.apps import AppConfig


class LogchainConfig(AppConfig):
    name = "logchain"
