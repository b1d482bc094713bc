"""A sync run's lifecycle: queued once per project and day, claimed by one worker at a time,
finished, failed or rescheduled.

A claim moves the run's attempt number on and hands it to the worker as its fencing token
(`Fence`). Every later write of the run (heartbeat, log lines, counts, finish, failure,
reschedule) is conditional on that token, so a worker that lost its run (it froze past the
stale window and another worker took over) raises `RunLost` at its next step, having written
nothing. The ledger (ledger.py) guards its own records with compare-and-set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from timesync import roles, time_rules
from timesync.models import (
    ACTIVE_SYNC_STATES,
    PULLED_KINDS,
    Integration,
    Membership,
    Project,
    Shift,
    SyncLogEntry,
    SyncOutcome,
    SyncRun,
    SyncState,
    Worker,
)
from timesync.sync import dispatch
from timesync.sync.selectors import require_connected, require_sends

WRITE_OUTCOMES = (SyncOutcome.CREATED, SyncOutcome.UPDATED, SyncOutcome.DELETED)
FINAL_STATES = (SyncState.SUCCEEDED, SyncState.SUCCEEDED_WITH_WARNINGS, SyncState.FAILED)


class RunLost(Exception):
    """Another worker owns this run now (it took it over from us): stop, write nothing."""


# --- Starting a run -------------------------------------------------------------------------


@dataclass(frozen=True)
class StartedRun:
    run: SyncRun
    created: bool  # False: a run for this project and day was already queued or running


def sync_run_start(
    *,
    integration: Integration,
    project: Project,
    work_date: date,
    trigger: str,
    actor: Membership | None = None,
    enqueue: bool = True,
) -> StartedRun:
    """Queue a timecard sync of one project and day, or return the one already in progress.
    `enqueue=False`: the caller sends the message itself (the schedule interleaves tenants)."""
    if actor is not None:
        if actor.organization_id != integration.organization_id:
            raise roles.PermissionDenied("That integration belongs to another organization.")
        roles.require(
            roles.can_work_on_project(actor, project),
            "You can sync only projects assigned to you.",
        )
    if project.organization_id != integration.organization_id:
        raise roles.PermissionDenied("That project belongs to another organization.")
    problem = time_rules.outside_work_window(work_date)
    if problem:
        raise ValidationError({"work_date": problem})
    require_connected(integration)
    require_sends(integration)
    # A pulled remote's run waits for it (the Web Connector's next session plans and sends it);
    # nothing goes to a worker.
    pulled = integration.kind in PULLED_KINDS
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                organization_id=integration.organization_id, integration=integration,
                project=project, work_date=work_date, trigger=trigger,
                requested_by=actor.user if actor else None,
                state=SyncState.WAITING if pulled else SyncState.QUEUED,
            )
            if enqueue and not pulled:
                transaction.on_commit(lambda: dispatch.run_enqueue(run.pk))
    except IntegrityError:
        # The partial unique index said no: someone (or a double click) got there first.
        run = SyncRun.objects.get(
            integration=integration, project=project, work_date=work_date,
            state__in=ACTIVE_SYNC_STATES,
        )
        return StartedRun(run=run, created=False)
    return StartedRun(run=run, created=True)


# --- Claiming: one worker at a time, and a token that proves it -----------------------------


@dataclass(frozen=True)
class Fence:
    """The claim a worker holds on a run: its id and the attempt number it claimed."""

    run_id: int
    attempt: int


@dataclass(frozen=True)
class Claim:
    fence: Fence | None  # None: not ours (finished, or live in another worker)
    busy_for: float | None = None  # the integration runs its cap already: try after this


def stale_before(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(seconds=settings.SYNC_RUN_STALE_SECONDS)


def claim(run_id: int) -> Claim:
    """Take a run for this worker: queued, or running with a heartbeat gone quiet (its worker
    died or froze). Under a lock on the integration, so two deliveries of the same task cannot
    both win and no integration runs more than SYNC_MAX_RUNS_PER_INTEGRATION at once."""
    now = timezone.now()
    with transaction.atomic():
        run = SyncRun.objects.filter(pk=run_id).values("integration_id", "state").first()
        if run is None or run["state"] not in (SyncState.QUEUED, SyncState.RUNNING):
            return Claim(fence=None)
        # The integration row is the per-integration mutex: claims of its runs queue here.
        Integration.objects.select_for_update().filter(pk=run["integration_id"]).first()
        claimable = SyncRun.objects.filter(pk=run_id).filter(
            Q(state=SyncState.QUEUED)
            | Q(state=SyncState.RUNNING, heartbeat_at__lt=stale_before(now))
        )
        if not claimable.exists():
            return Claim(fence=None)
        running = SyncRun.objects.filter(
            integration_id=run["integration_id"], state=SyncState.RUNNING,
            heartbeat_at__gte=stale_before(now),
        ).exclude(pk=run_id).count()
        if running >= settings.SYNC_MAX_RUNS_PER_INTEGRATION:
            return Claim(fence=None, busy_for=random.uniform(2.0, 5.0))  # noqa: S311 - jitter
        claimable.update(state=SyncState.RUNNING, heartbeat_at=now, attempts=F("attempts") + 1,
                         started_at=Coalesce("started_at", Value(now)), next_attempt_at=None)
        attempt = SyncRun.objects.filter(pk=run_id).values_list("attempts", flat=True).get()
    return Claim(fence=Fence(run_id=run_id, attempt=attempt))


def claim_waiting(run_id: int) -> Fence | None:
    """Take a run that waits for a pulled remote (the Web Connector's session asks for it), as
    `claim` takes a queued one: under the integration's lock, the attempt moved on, a fence
    handed back. None when the run is not waiting any more."""
    now = timezone.now()
    with transaction.atomic():
        run = SyncRun.objects.filter(pk=run_id).values("integration_id").first()
        if run is None:
            return None
        Integration.objects.select_for_update().filter(pk=run["integration_id"]).first()
        taken = SyncRun.objects.filter(pk=run_id, state=SyncState.WAITING).update(
            state=SyncState.RUNNING, heartbeat_at=now, attempts=F("attempts") + 1,
            started_at=Coalesce("started_at", Value(now)), next_attempt_at=None)
        if not taken:
            return None
        attempt = SyncRun.objects.filter(pk=run_id).values_list("attempts", flat=True).get()
    return Fence(run_id=run_id, attempt=attempt)


def give_back(fence: Fence, *, reason: str = "") -> bool:
    """A pulled remote's session ends with the run unfinished: it waits for the next session
    (what was sent and not answered stays unknown in the ledger, settled then)."""
    return bool(_owned(fence).update(state=SyncState.WAITING, error=reason))


def _owned(fence: Fence):
    return SyncRun.objects.filter(pk=fence.run_id, attempts=fence.attempt,
                                  state=SyncState.RUNNING)


def heartbeat(fence: Fence) -> None:
    """Prove the run is still ours and alive; raises RunLost when it is not. Inside a caller's
    transaction it also locks the run row until that transaction ends, so what the caller
    writes beside it cannot race a takeover."""
    if not _owned(fence).update(heartbeat_at=timezone.now()):
        raise RunLost(f"Run {fence.run_id} attempt {fence.attempt} was taken over.")


def log_line(
    fence: Fence, *, shift: Shift, worker: Worker, outcome: str, hours: Decimal | None,
    remote_id: str = "", message: str = "",
) -> None:
    with transaction.atomic():
        heartbeat(fence)
        SyncLogEntry.objects.create(
            run_id=fence.run_id, shift=shift, worker=worker, worker_name=worker.name,
            employee_number=worker.employee_number, outcome=outcome, hours=hours,
            remote_id=remote_id, message=message,
        )


def forget_non_writes(fence: Fence) -> None:
    """A retried run logs its skipped and unchanged lines again; what an earlier attempt wrote
    remotely stays in its log."""
    with transaction.atomic():
        heartbeat(fence)
        SyncLogEntry.objects.filter(run_id=fence.run_id).exclude(
            outcome__in=WRITE_OUTCOMES).delete()


# --- Ending an attempt ----------------------------------------------------------------------


def _counts(run_id: int) -> dict[str, int]:
    counts = dict(SyncLogEntry.objects.filter(run_id=run_id).values_list("outcome")
                  .annotate(n=Count("id")))
    return {
        "created_count": counts.get(SyncOutcome.CREATED, 0),
        "updated_count": counts.get(SyncOutcome.UPDATED, 0),
        "deleted_count": counts.get(SyncOutcome.DELETED, 0),
        "unchanged_count": counts.get(SyncOutcome.UNCHANGED, 0),
        "skipped_count": counts.get(SyncOutcome.SKIPPED, 0),
    }


def finish(
    fence: Fence, *, hours_sent: Decimal, hours_remote: Decimal, warnings: list[str]
) -> SyncRun:
    with transaction.atomic():
        heartbeat(fence)
        counts = _counts(fence.run_id)
        state = (SyncState.SUCCEEDED_WITH_WARNINGS if counts["skipped_count"] or warnings
                 else SyncState.SUCCEEDED)
        _owned(fence).update(state=state, finished_at=timezone.now(), error="",
                             warnings=warnings, hours_sent=hours_sent,
                             hours_remote=hours_remote, next_attempt_at=None, **counts)
    return SyncRun.objects.get(pk=fence.run_id)


def fail(fence: Fence, message: str) -> None:
    """End the run as failed with a reason a payroll admin can act on; the admins who opted
    in hear of it once."""
    with transaction.atomic():
        heartbeat(fence)
        _owned(fence).update(state=SyncState.FAILED, error=message, finished_at=timezone.now(),
                             next_attempt_at=None, **_counts(fence.run_id))
        transaction.on_commit(lambda: dispatch.failure_email_enqueue(fence.run_id))


def reschedule(
    fence: Fence, *, reason: str, retry_after: float | None, not_before: float = 0.0
) -> float | None:
    """Give the run back to the queue to try again later: after the backoff, never sooner than
    `retry_after` (within the backoff's cap) nor than `not_before` (a write still in flight
    must settle, whatever the cap). Returns the delay, or None when the attempts ran out and
    the run failed."""
    attempt = fence.attempt
    if attempt >= settings.SYNC_MAX_ATTEMPTS:
        tries = f"{attempt} attempt{'' if attempt == 1 else 's'}"
        fail(fence, f"{reason} Gave up after {tries}; the remote may be down. Syncing again "
                    "later is safe.")
        return None
    delay = max(retry_delay(attempt=attempt, retry_after=retry_after), not_before)
    with transaction.atomic():
        heartbeat(fence)
        _owned(fence).update(state=SyncState.QUEUED, error=reason,
                             next_attempt_at=timezone.now() + timedelta(seconds=delay))
    return delay


def retry_delay(*, attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with jitter, never sooner than the remote asked, never longer than
    the cap (which stays far below the broker's visibility timeout)."""
    base = settings.SYNC_RETRY_BASE_SECONDS * (2 ** max(0, attempt - 1))
    delay = min(settings.SYNC_RETRY_MAX_SECONDS, base)
    delay *= random.uniform(1.0, 1.25)  # noqa: S311 - jitter, not security
    if retry_after is not None:
        delay = max(delay, retry_after + random.uniform(0, 0.25 * max(1.0, retry_after)))  # noqa: S311
    return min(delay, settings.SYNC_RETRY_MAX_SECONDS * 1.25)
