"""Runs the broker may have lost are found in the database (the truth about runs) and sent
again, each at most once per period, so a long backlog never multiplies its messages."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from timesync.models import SyncRun, SyncState
from timesync.sync import dispatch
from timesync.sync.runs import stale_before


def sync_runs_recover() -> list[int]:
    """Send again the runs whose message may be gone:
    - running with a heartbeat gone quiet (a worker killed with SIGKILL, or frozen): put back
      in the queue, which also fences the old worker out if it ever wakes;
    - queued, and neither claimed nor re-sent for SYNC_RUN_LOST_SECONDS past when it was due
      (a broker restarted without its messages).
    Runs waiting for a pulled remote (the Web Connector) are the remote's to collect. Sending
    a run twice is always safe: the claim lets one worker in."""
    now = timezone.now()
    recovered = []
    for run_id in SyncRun.objects.filter(
        state=SyncState.RUNNING, heartbeat_at__lt=stale_before(now)
    ).values_list("pk", flat=True):
        # Conditional: the worker may have beaten in between.
        if SyncRun.objects.filter(pk=run_id, state=SyncState.RUNNING,
                                  heartbeat_at__lt=stale_before(now)).update(
                state=SyncState.QUEUED, next_attempt_at=now):
            recovered.append(run_id)
    lost_before = now - timedelta(seconds=settings.SYNC_RUN_LOST_SECONDS)
    queued = SyncRun.objects.alias(due=Coalesce("next_attempt_at", "created_at")).filter(
        Q(state=SyncState.QUEUED) & Q(due__lt=lost_before)
    )
    for run_id in queued.values_list("pk", flat=True):
        if SyncRun.objects.alias(due=Coalesce("next_attempt_at", "created_at")).filter(
                pk=run_id, state=SyncState.QUEUED, due__lt=lost_before).update(
                next_attempt_at=now):
            recovered.append(run_id)
    for run_id in recovered:
        dispatch.run_enqueue(run_id)
    return recovered
