"""Runs the broker may have lost are found in the database (the truth about runs) and sent again."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from timesync.models import (
    SyncRun,
    SyncState,
)
from timesync.sync import dispatch


def sync_runs_recover() -> list[int]:
    """Re-enqueue runs the broker may have lost: queued past their retry time, or running with
    a heartbeat gone quiet (a worker killed with SIGKILL loses its message on some brokers).
    Re-running is always safe."""
    now = timezone.now()
    grace = timedelta(seconds=settings.SYNC_RUN_STALE_SECONDS)
    lost = SyncRun.objects.filter(
        Q(state=SyncState.QUEUED, next_attempt_at__isnull=True, created_at__lt=now - grace)
        | Q(state=SyncState.QUEUED, next_attempt_at__lt=now - grace)
        | Q(state=SyncState.RUNNING, heartbeat_at__lt=now - grace)
    ).values_list("pk", flat=True)
    run_ids = list(lost)
    for run_id in run_ids:
        dispatch.run_enqueue(run_id)
    return run_ids
