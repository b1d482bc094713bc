"""The nightly schedule: each integration's enabled projects, synced once a day, sent to the
queue interleaved across integrations so no tenant waits behind another's thousand projects
(with the per-integration cap on runs at once, a large tenant holds at most that many workers).
"""

from __future__ import annotations

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


def scheduled_syncs_start(*, now: datetime | None = None) -> list[int]:
    """Start the nightly syncs that are due: for each integration with a schedule whose local
    time has passed today, every enabled project link's day (yesterday by default)."""
    now = now or timezone.now()
    started: list[list[int]] = []
    for integration in Integration.objects.filter(
        schedule_enabled=True, is_connected=True
    ).select_related("organization"):
        local_now = now.astimezone(ZoneInfo(integration.organization.time_zone))
        today = local_now.date()
        if local_now.time() < integration.schedule_time:
            continue
        with transaction.atomic():
            claimed = Integration.objects.filter(pk=integration.pk).filter(
                Q(schedule_last_date__isnull=True) | Q(schedule_last_date__lt=today)
            ).update(schedule_last_date=today)
            if not claimed:
                continue  # already ran today (another beat tick or worker got it)
            day = today - timedelta(days=integration.schedule_days_back)
            runs = []
            for link in integration.project_links.filter(enabled=True).select_related("project"):
                result = sync_run_start(
                    integration=integration, project=link.project, work_date=day,
                    trigger=SyncTrigger.SCHEDULE, enqueue=False,
                )
                runs.append(result.run.pk)
            started.append(runs)
    # One run of each integration in turn: a queue read in order serves every tenant early.
    # A message lost between the commit and here is sent again by recovery.
    interleaved = [run_id for turn in zip_longest(*started) for run_id in turn
                   if run_id is not None]
    for run_id in interleaved:
        dispatch.run_enqueue(run_id)
    return interleaved
