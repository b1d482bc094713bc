"""A sync run from start to end: queued once per project and day, claimed by one worker, executed
exactly once against the ledger, retried on transient faults, finished or failed."""

from __future__ import annotations

import contextlib
import logging
import random
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from connectors.base import (
    Connector,
    PermanentError,
    RejectedEntry,
    RemoteNotFound,
    TransientError,
)
from connectors.registry import connector_for
from timesync import roles
from timesync.models import (
    ACTIVE_SYNC_STATES,
    ExternalRecord,
    Integration,
    Membership,
    Project,
    RecordState,
    SyncLogEntry,
    SyncOutcome,
    SyncRun,
    SyncState,
)
from timesync.sync import dispatch
from timesync.sync.planning import Action, Plan, PlanItem, build_plan, idempotency_key

logger = logging.getLogger(__name__)

_WRITE_OUTCOMES = (SyncOutcome.CREATED, SyncOutcome.UPDATED, SyncOutcome.DELETED)

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
) -> StartedRun:
    """Queue a timecard sync of one project and day, or return the one already in progress."""
    if actor is not None:
        if actor.organization_id != integration.organization_id:
            raise roles.PermissionDenied("That integration belongs to another organization.")
        roles.require(
            roles.can_work_on_project(actor, project),
            "You can sync only projects assigned to you.",
        )
    if project.organization_id != integration.organization_id:
        raise roles.PermissionDenied("That project belongs to another organization.")
    if not integration.is_connected:
        raise PermanentError(f"{integration.name} is disconnected: connect it again first.")
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                organization_id=integration.organization_id, integration=integration,
                project=project, work_date=work_date, trigger=trigger,
                requested_by=actor.user if actor else None,
            )
            transaction.on_commit(lambda: dispatch.run_enqueue(run.pk))
    except IntegrityError:
        # The partial unique index said no: someone (or a double click) got there first.
        run = SyncRun.objects.get(
            integration=integration, project=project, work_date=work_date,
            state__in=ACTIVE_SYNC_STATES,
        )
        return StartedRun(run=run, created=False)
    return StartedRun(run=run, created=True)


# --- Executing a run ------------------------------------------------------------------------


@dataclass(frozen=True)
class Execution:
    """What the task should do next: nothing, or try again after `retry_in` seconds."""

    run_id: int
    claimed: bool
    retry_in: float | None = None


def _stale_before() -> datetime:
    return timezone.now() - timedelta(seconds=settings.SYNC_RUN_STALE_SECONDS)


def claim(run_id: int) -> bool:
    """Take a run for this worker: queued, or running with a heartbeat gone quiet (its worker
    died). One UPDATE, so two deliveries of the same task cannot both win."""
    now = timezone.now()
    return bool(
        SyncRun.objects.filter(pk=run_id)
        .filter(Q(state=SyncState.QUEUED)
                | Q(state=SyncState.RUNNING, heartbeat_at__lt=_stale_before()))
        .update(state=SyncState.RUNNING, heartbeat_at=now, attempts=F("attempts") + 1,
                started_at=Coalesce("started_at", Value(now)), next_attempt_at=None)
    )


def sync_run_execute(*, run_id: int, connector: Connector | None = None) -> Execution:
    """Execute a claimed run. Safe to call any number of times for the same run."""
    if not claim(run_id):
        return Execution(run_id=run_id, claimed=False)
    run = SyncRun.objects.select_related("integration", "project__organization").get(pk=run_id)
    _forget_non_writes(run)
    try:
        connector = connector or connector_for(run.integration)
    except PermanentError as error:
        _finish_failed(run, str(error))
        return Execution(run_id=run_id, claimed=True)
    try:
        plan = build_plan(integration=run.integration, project=run.project,
                          work_date=run.work_date)
        if plan.error:
            _finish_failed(run, plan.error)
            return Execution(run_id=run_id, claimed=True)
        executor = _Executor(run=run, connector=connector, plan=plan)
        for item in plan.items:
            executor.apply(item)
        _finish(run, connector=connector, plan=plan)
    except TransientError as error:
        return _retry_later(run, error)
    except PermanentError as error:
        _finish_failed(run, str(error))
    except Exception:
        logger.exception("Sync run %s crashed", run_id)
        _finish_failed(run, "An unexpected error stopped the sync; support was notified. "
                            "Nothing was sent twice: syncing again is safe.")
    finally:
        connector.close()
    return Execution(run_id=run_id, claimed=True)


def _forget_non_writes(run: SyncRun) -> None:
    # A retried run logs again; what an earlier attempt wrote remotely stays in its log.
    run.entries.exclude(outcome__in=_WRITE_OUTCOMES).delete()


class _Executor:
    def __init__(self, *, run: SyncRun, connector: Connector, plan: Plan) -> None:
        self.run = run
        self.connector = connector
        self.plan = plan
        self.last_beat = timezone.now()
        # Beat well inside the staleness window, or a healthy run would look dead.
        self.beat_every = timedelta(seconds=min(5.0, settings.SYNC_RUN_STALE_SECONDS / 4))
        self.logged_writes = set(
            run.entries.filter(outcome__in=_WRITE_OUTCOMES).values_list("shift_id", flat=True)
        )

    def apply(self, item: PlanItem) -> None:
        self._heartbeat()
        if item.action == Action.SKIP:
            self._log(item, SyncOutcome.SKIPPED, message=item.reason)
        elif item.action == Action.UNCHANGED:
            self._still_current(item.record, item)
            self._log(item, SyncOutcome.UNCHANGED, remote_id=item.record.remote_id)
        elif item.action == Action.DELETE:
            self._delete(item)
        else:
            self._write(item)

    # The three remote writes, each bracketed by commits.

    def _write(self, item: PlanItem) -> None:
        record = item.record
        if record is not None and item.moved:
            self._remote_delete(record)
            record.refresh_from_db()
        adopted = False
        if record is not None and record.state == RecordState.PENDING_CREATE:
            record = self._reconcile(record)
            adopted = record.state == RecordState.SYNCED
        if record is None or record.state == RecordState.DELETED:
            self._create(item, record)
            return
        if record.payload_hash == item.entry.payload_hash() and record.state == RecordState.SYNCED:
            if adopted:  # the create went through; only its reply was lost
                self._log(item, SyncOutcome.CREATED, remote_id=record.remote_id,
                          message="Confirmed in the remote after a lost reply.")
            else:
                self._still_current(record, item)
                self._log(item, SyncOutcome.UNCHANGED, remote_id=record.remote_id)
            return
        self._update(item, record)

    def _create(self, item: PlanItem, record: ExternalRecord | None) -> None:
        entry = item.entry
        with transaction.atomic():
            if record is None:
                record = ExternalRecord(
                    organization_id=self.run.organization_id, integration=self.run.integration,
                    shift=item.shift,
                )
            elif record.idempotency_key != entry.idempotency_key:
                record.generation += 1
            record.idempotency_key = entry.idempotency_key
            self._intent(record, item, RecordState.PENDING_CREATE)
        try:
            remote = self.connector.create_entry(entry)
        except RejectedEntry as error:
            with transaction.atomic():
                # Refused means not written: nothing remote to remember.
                record.state = RecordState.DELETED
                record.save(update_fields=["state", "updated_at"])
                self._log(item, SyncOutcome.SKIPPED, message=str(error))
            return
        with transaction.atomic():
            record.remote_id = remote.remote_id
            record.state = RecordState.SYNCED
            record.save(update_fields=["remote_id", "state", "updated_at"])
            self._log(item, SyncOutcome.CREATED, remote_id=remote.remote_id)

    def _update(self, item: PlanItem, record: ExternalRecord) -> None:
        previous_state = record.state
        with transaction.atomic():
            self._intent(record, item, RecordState.PENDING_UPDATE)
        try:
            self.connector.update_entry(record.remote_id, item.entry)
        except RemoteNotFound:
            # Deleted in the remote by someone else: the hours must still arrive.
            with transaction.atomic():
                record.state = RecordState.DELETED
                record.save(update_fields=["state", "updated_at"])
            item.entry = replace(item.entry, idempotency_key=idempotency_key(
                self.run.integration, item.shift, record.generation + 1))
            self._create(item, record)
            return
        except RejectedEntry as error:
            with transaction.atomic():
                record.state = previous_state
                record.save(update_fields=["state", "updated_at"])
                self._log(item, SyncOutcome.SKIPPED, message=str(error))
            return
        with transaction.atomic():
            record.state = RecordState.SYNCED
            record.save(update_fields=["state", "updated_at"])
            self._log(item, SyncOutcome.UPDATED, remote_id=record.remote_id)

    def _delete(self, item: PlanItem) -> None:
        record = item.record
        if record.state == RecordState.PENDING_CREATE:
            record = self._reconcile(record)
            if record.state == RecordState.DELETED:
                self._log(item, SyncOutcome.DELETED, message=item.reason)
                return
        remote_id = record.remote_id
        self._remote_delete(record)
        self._log(item, SyncOutcome.DELETED, remote_id=remote_id, message=item.reason)

    def _remote_delete(self, record: ExternalRecord) -> None:
        with transaction.atomic():
            record.state = RecordState.PENDING_DELETE
            record.save(update_fields=["state", "updated_at"])
        with contextlib.suppress(RemoteNotFound):  # already gone: the goal is reached
            self.connector.delete_entry(record.remote_id)
        with transaction.atomic():
            record.state = RecordState.DELETED
            record.save(update_fields=["state", "updated_at"])

    def _reconcile(self, record: ExternalRecord) -> ExternalRecord:
        """A create whose outcome was never recorded: adopt what the remote has, if anything."""
        found = self.connector.find_entry(
            idempotency_key=record.idempotency_key,
            project_remote_id=record.remote_project_id,
            work_date=record.work_date,
        )
        with transaction.atomic():
            if found is None:
                record.state = RecordState.DELETED
            else:
                record.remote_id = found.remote_id
                record.state = RecordState.SYNCED
            record.save(update_fields=["remote_id", "state", "updated_at"])
        return record

    def _still_current(self, record: ExternalRecord, item: PlanItem) -> None:
        """An edit that changes nothing remote (an approval, say) still moves the version:
        the ledger records that the remote holds this version, so the cell turns green."""
        if record.shift_version != item.shift.version:
            record.shift_version = item.shift.version
            record.save(update_fields=["shift_version", "updated_at"])

    def _intent(self, record: ExternalRecord, item: PlanItem, state: str) -> None:
        entry = item.entry
        record.state = state
        record.payload_hash = entry.payload_hash()
        record.project = self.run.project
        record.remote_project_id = entry.project_remote_id
        record.work_date = entry.work_date
        record.shift_version = item.shift.version
        record.hours = entry.hours
        record.save()

    def _log(self, item: PlanItem, outcome: str, *, remote_id: str = "", message: str = "") -> None:
        if outcome == SyncOutcome.UNCHANGED and item.shift.pk in self.logged_writes:
            return  # an earlier attempt of this run wrote it; that line tells the story
        SyncLogEntry.objects.create(
            run=self.run, shift=item.shift, worker=item.worker, worker_name=item.worker.name,
            employee_number=item.worker.employee_number, outcome=outcome, hours=item.hours,
            remote_id=remote_id, message=message,
        )

    def _heartbeat(self) -> None:
        now = timezone.now()
        if now - self.last_beat >= self.beat_every:
            SyncRun.objects.filter(pk=self.run.pk).update(heartbeat_at=now)
            self.last_beat = now


def _finish(run: SyncRun, *, connector: Connector, plan: Plan) -> None:
    counts = dict(run.entries.values_list("outcome").annotate(n=Count("id")))
    sent = ExternalRecord.objects.filter(
        integration=run.integration, project=run.project, work_date=run.work_date,
        state=RecordState.SYNCED,
    ).aggregate(total=Sum("hours"))["total"] or Decimal("0.00")
    remote = sum(
        (entry.hours for entry in connector.list_entries(
            project_remote_id=plan.link.remote_project_id, work_date=run.work_date)),
        Decimal("0.00"),
    )
    warnings = []
    if sent != remote:
        warnings.append(
            f"{run.integration.name} holds {remote} hours for this job and day; Timesync sent "
            f"{sent}. Entries made elsewhere (or by hand) may be the difference."
        )
    skipped = counts.get(SyncOutcome.SKIPPED, 0)
    state = SyncState.SUCCEEDED_WITH_WARNINGS if skipped or warnings else SyncState.SUCCEEDED
    SyncRun.objects.filter(pk=run.pk).update(
        state=state, finished_at=timezone.now(), error="", warnings=warnings,
        created_count=counts.get(SyncOutcome.CREATED, 0),
        updated_count=counts.get(SyncOutcome.UPDATED, 0),
        deleted_count=counts.get(SyncOutcome.DELETED, 0),
        unchanged_count=counts.get(SyncOutcome.UNCHANGED, 0),
        skipped_count=skipped, hours_sent=sent, hours_remote=remote,
    )


def _retry_later(run: SyncRun, error: TransientError) -> Execution:
    run.refresh_from_db(fields=["attempts"])
    if run.attempts >= settings.SYNC_MAX_ATTEMPTS:
        tries = f"{run.attempts} attempt{'' if run.attempts == 1 else 's'}"
        _finish_failed(run, f"{error} Gave up after {tries}; the remote may be down. Syncing "
                            "again later is safe.")
        return Execution(run_id=run.pk, claimed=True)
    delay = retry_delay(attempt=run.attempts, retry_after=error.retry_after)
    SyncRun.objects.filter(pk=run.pk, state=SyncState.RUNNING).update(
        state=SyncState.QUEUED, error=str(error),
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )
    return Execution(run_id=run.pk, claimed=True, retry_in=delay)


def retry_delay(*, attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with jitter, never sooner than the remote asked, never longer than
    the cap (which stays far below the broker's visibility timeout)."""
    base = settings.SYNC_RETRY_BASE_SECONDS * (2 ** max(0, attempt - 1))
    delay = min(settings.SYNC_RETRY_MAX_SECONDS, base)
    delay *= random.uniform(1.0, 1.25)  # noqa: S311 - jitter, not security
    if retry_after is not None:
        delay = max(delay, retry_after + random.uniform(0, 0.25 * max(1.0, retry_after)))  # noqa: S311
    return min(delay, settings.SYNC_RETRY_MAX_SECONDS * 1.25)


def _finish_failed(run: SyncRun, message: str) -> None:
    with transaction.atomic():
        updated = SyncRun.objects.filter(pk=run.pk).exclude(
            state__in=(SyncState.SUCCEEDED, SyncState.SUCCEEDED_WITH_WARNINGS)
        ).update(state=SyncState.FAILED, error=message, finished_at=timezone.now(),
                 next_attempt_at=None)
        if updated:
            counts = dict(run.entries.values_list("outcome").annotate(n=Count("id")))
            SyncRun.objects.filter(pk=run.pk).update(
                created_count=counts.get(SyncOutcome.CREATED, 0),
                updated_count=counts.get(SyncOutcome.UPDATED, 0),
                deleted_count=counts.get(SyncOutcome.DELETED, 0),
                unchanged_count=counts.get(SyncOutcome.UNCHANGED, 0),
                skipped_count=counts.get(SyncOutcome.SKIPPED, 0),
            )
            transaction.on_commit(lambda: dispatch.failure_email_enqueue(run.pk))
