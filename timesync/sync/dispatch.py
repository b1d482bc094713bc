"""The one way the sync engine sends work to Celery. Tasks are sent by name, so the engine never
imports `timesync.tasks` (which imports the engine): no import circle. Looked up in the app's
registry rather than `send_task`, so eager mode (tests, debugging) still runs them in place."""

from __future__ import annotations

from config.celery import app

EXECUTE_RUN = "timesync.tasks.execute_sync_run"
SEND_FAILURE_EMAIL = "timesync.tasks.send_sync_failure_email"


def run_enqueue(run_id: int, *, countdown: float | None = None) -> None:
    app.tasks[EXECUTE_RUN].apply_async(kwargs={"run_id": run_id}, countdown=countdown)


def failure_email_enqueue(run_id: int) -> None:
    app.tasks[SEND_FAILURE_EMAIL].apply_async(kwargs={"run_id": run_id})
