"""The Celery application. Settings come from Django settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("timesync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def all_queues() -> list[str]:
    """Every queue tasks are routed to (CELERY_TASK_QUEUES): what a worker that does all the
    work consumes (run_local's, the test suite's); production runs a worker per queue."""
    return [queue.name for queue in app.conf.task_queues]
