from django.apps import AppConfig


class TimesyncConfig(AppConfig):
    name = "timesync"
    verbose_name = "Timesync"
