"""The one way the sync engine sends work to Celery. Tasks are sent by name, so the engine never
imports `timesync.tasks` (which imports the engine): no import circle. Looked up in the app's
registry rather than `send_task`, so eager mode (tests, debugging) still runs them in place."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError

from config.celery import app
from timesync.models import SyncRun, SyncState

logger = logging.getLogger(__name__)

EXECUTE_RUN = "timesync.tasks.execute_sync_run"
SEND_FAILURE_EMAIL = "timesync.tasks.send_sync_failure_email"
SEND_RECONNECT_EMAIL = "timesync.tasks.send_reconnect_needed_email"


def run_enqueue(run_id: int, *, countdown: float | None = None) -> None:
    """Send a run to the workers. With the broker unreachable (Redis restarting) the run stays
    queued in the database, marked as lost so that recovery's next tick sends it: the click
    that started it still succeeds, and nothing waits for SYNC_RUN_LOST_SECONDS."""
    try:
        app.tasks[EXECUTE_RUN].apply_async(kwargs={"run_id": run_id}, countdown=countdown)
    except OperationalError:
        logger.warning("Broker unreachable; run %s waits for recovery to send it.", run_id,
                       exc_info=True)
        long_ago = timezone.now() - timedelta(seconds=settings.SYNC_RUN_LOST_SECONDS + 1)
        SyncRun.objects.filter(pk=run_id, state=SyncState.QUEUED).update(
            next_attempt_at=long_ago)


def runs_enqueue(run_ids: Iterable[int]) -> None:
    """Send many runs (of many tenants): one that cannot be sent is logged and left queued in
    the database, where recovery finds it; the others are still sent."""
    for run_id in run_ids:
        try:
            run_enqueue(run_id)
        except Exception:
            logger.exception("Run %s could not be sent; recovery sends it later.", run_id)


def failure_email_enqueue(run_id: int) -> None:
    """The failed run is recorded whatever happens here; the email is best effort."""
    try:
        app.tasks[SEND_FAILURE_EMAIL].apply_async(kwargs={"run_id": run_id})
    except OperationalError:
        logger.warning("Broker unreachable; no failure email for run %s.", run_id,
                       exc_info=True)


def reconnect_email_enqueue(integration_id: int) -> None:
    """"Reconnect needed" is recorded whatever happens here; the email is best effort."""
    try:
        app.tasks[SEND_RECONNECT_EMAIL].apply_async(kwargs={"integration_id": integration_id})
    except OperationalError:
        logger.warning("Broker unreachable; no reconnect email for integration %s.",
                       integration_id, exc_info=True)
