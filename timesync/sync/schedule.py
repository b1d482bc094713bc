"""The nightly schedule: each integration's enabled projects, synced once a day, sent to the
queue interleaved across integrations so no tenant waits behind another's thousand projects
(with the per-integration cap on runs at once, a large tenant holds at most that many workers).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from itertools import zip_longest
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from timesync.models import (
    Integration,
    SyncTrigger,
)
from timesync.sync import dispatch
from timesync.sync.runs import sync_run_start

logger = logging.getLogger(__name__)


def scheduled_syncs_start(*, now: datetime | None = None) -> list[int]:
    """Start the nightly syncs that are due: for each integration with a schedule whose local
    time has passed today, every enabled project link's day (yesterday by default).

    One integration that cannot start (a value the calendar cannot hold, data written around
    the services) is logged with its ids and skipped: every other tenant still gets its night.
    Its claim on the day is rolled back with it, so the next tick tries it again."""
    now = now or timezone.now()
    started: list[list[int]] = []
    for integration in Integration.objects.filter(
        schedule_enabled=True, is_connected=True
    ).select_related("organization"):
        if not integration.sends:
            continue  # it only receives: nothing of ours goes to it, at night or by hand
        try:
            runs = _start_due(integration, now)
        except Exception:
            logger.exception(
                "The nightly sync of integration %s (organization %s) did not start; the "
                "other integrations go on.", integration.pk, integration.organization_id)
            continue
        if runs is not None:
            started.append(runs)
    # One run of each integration in turn: a queue read in order serves every tenant early.
    # A message lost between the commit and here is sent again by recovery.
    interleaved = [run_id for turn in zip_longest(*started) for run_id in turn
                   if run_id is not None]
    dispatch.runs_enqueue(interleaved)
    return interleaved


def _start_due(integration: Integration, now: datetime) -> list[int] | None:
    """The integration's runs of today's night, or None when it is not due (too early, or it
    ran today already)."""
    local_now = now.astimezone(ZoneInfo(integration.organization.time_zone))
    today = local_now.date()
    if local_now.time() < integration.schedule_time:
        return None
    with transaction.atomic():
        claimed = Integration.objects.filter(pk=integration.pk).filter(
            Q(schedule_last_date__isnull=True) | Q(schedule_last_date__lt=today)
        ).update(schedule_last_date=today)
        if not claimed:
            return None  # already ran today (another beat tick or worker got it)
        day = today - timedelta(days=integration.schedule_days_back)
        runs = []
        for link in integration.project_links.filter(enabled=True).select_related("project"):
            result = sync_run_start(
                integration=integration, project=link.project, work_date=day,
                trigger=SyncTrigger.SCHEDULE, enqueue=False,
            )
            runs.append(result.run.pk)
        return runs
