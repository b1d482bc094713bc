from django.apps import AppConfig


class TimesyncConfig(AppConfig):
    name = "timesync"
    verbose_name = "Timesync"

    def ready(self) -> None:
        # Register the tasks in every process (web too), so timesync.sync.dispatch finds them
        # by name in the app's registry without importing them.
        from timesync import tasks  # noqa: F401
