"""Runs the broker may have lost are found in the database (the truth about runs) and sent
again, each at most once per period, so a long backlog never multiplies its messages."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from timesync.models import PULLED_KINDS, SyncRun, SyncState
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
    lost_before = now - timedelta(seconds=settings.SYNC_RUN_LOST_SECONDS)
    with transaction.atomic():
        # Rows locked by a live transaction (a worker beating, or one frozen mid-transaction)
        # are skipped, not waited on: one stuck process never stalls every other recovery.
        quiet = list(SyncRun.objects.select_for_update(skip_locked=True).filter(
            state=SyncState.RUNNING, heartbeat_at__lt=stale_before(now),
        ).values_list("pk", "integration__kind"))
        # A pulled remote's run whose session went quiet waits for its next session; moving
        # the attempt on fences the old session out should it ever come back.
        pulled = [pk for pk, kind in quiet if kind in PULLED_KINDS]
        quiet = [pk for pk, kind in quiet if kind not in PULLED_KINDS]
        SyncRun.objects.filter(pk__in=pulled).update(state=SyncState.WAITING,
                                                     attempts=F("attempts") + 1)
        SyncRun.objects.filter(pk__in=quiet).update(state=SyncState.QUEUED, next_attempt_at=now)
        lost = list(SyncRun.objects.select_for_update(skip_locked=True)
                    .alias(due=Coalesce("next_attempt_at", "created_at"))
                    .filter(Q(state=SyncState.QUEUED) & Q(due__lt=lost_before))
                    .values_list("pk", flat=True))
        SyncRun.objects.filter(pk__in=lost).update(next_attempt_at=now)
    recovered = quiet + lost
    dispatch.runs_enqueue(recovered)
    return recovered
