"""The nightly schedule: each integration's enabled projects, synced once a day."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from timesync.models import (
    Integration,
    SyncTrigger,
)
from timesync.sync.runs import sync_run_start


def scheduled_syncs_start(*, now: datetime | None = None) -> list[int]:
    """Start the nightly syncs that are due: for each integration with a schedule whose local
    time has passed today, every enabled project link's day (yesterday by default)."""
    now = now or timezone.now()
    started = []
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
            for link in integration.project_links.filter(enabled=True).select_related("project"):
                result = sync_run_start(
                    integration=integration, project=link.project, work_date=day,
                    trigger=SyncTrigger.SCHEDULE,
                )
                started.append(result.run.pk)
    return started
