"""Write paths of the sync engine: start a run, execute it exactly once, recover stuck runs,
run schedules, notify failures.

Exactly once, per remote write (see DESIGN.md "The sync ledger"):
1. commit the intent: the ledger record in a pending state, with the idempotency key;
2. call the remote with the key;
3. commit the result (synced, remote id, hash).
A record found pending later is reconciled first: its key is looked up remotely and what is
there is adopted; only when nothing is there is it written again. A crash anywhere leaves a
pending record or a synced one, never a duplicate or a lost hour.
"""

from __future__ import annotations

import contextlib
import logging
import random
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from connectors.base import (
    Connector,
    PermanentError,
    RejectedEntry,
    RemoteNotFound,
    TransientError,
    check_remote_url,
)
from connectors.registry import connector_for
from timesync import crypto, roles
from timesync.models import (
    ACTIVE_SYNC_STATES,
    CostCode,
    CostCodeLink,
    ExternalRecord,
    Integration,
    MatchField,
    Membership,
    Project,
    ProjectLink,
    RecordState,
    Role,
    SyncLogEntry,
    SyncOutcome,
    SyncRun,
    SyncState,
    SyncTrigger,
    Worker,
    WorkerLink,
)
from timesync.sync.matching import MatchReport, refresh_links
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
            transaction.on_commit(lambda: enqueue(run.pk))
    except IntegrityError:
        # The partial unique index said no: someone (or a double click) got there first.
        run = SyncRun.objects.get(
            integration=integration, project=project, work_date=work_date,
            state__in=ACTIVE_SYNC_STATES,
        )
        return StartedRun(run=run, created=False)
    return StartedRun(run=run, created=True)


def enqueue(run_id: int, *, countdown: float | None = None) -> None:
    from timesync.tasks import execute_sync_run

    execute_sync_run.apply_async(kwargs={"run_id": run_id}, countdown=countdown)


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
            transaction.on_commit(lambda: _notify_failure(run.pk))


def _notify_failure(run_id: int) -> None:
    from timesync.tasks import send_sync_failure_email

    send_sync_failure_email.delay(run_id=run_id)


# --- Recovery and schedules -----------------------------------------------------------------


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
        enqueue(run_id)
    return run_ids


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


def sync_failure_notify(*, run_id: int) -> int:
    """Email the admins who opted in, once per failed run (not per retry). Returns how many."""
    with transaction.atomic():
        claimed = SyncRun.objects.filter(
            pk=run_id, state=SyncState.FAILED, failure_notified_at__isnull=True
        ).update(failure_notified_at=timezone.now())
        if not claimed:
            return 0
        run = SyncRun.objects.select_related("integration", "project", "organization").get(
            pk=run_id
        )
        recipients = list(
            Membership.objects.filter(
                organization_id=run.organization_id, is_active=True, notify_sync_failures=True,
                role=Role.ADMIN, user__is_active=True,
            ).values_list("user__email", flat=True)
        )
        if not recipients:
            return 0
        log_url = settings.SITE_URL + reverse(
            "sync_run_detail",
            kwargs={"organization_slug": run.organization.slug,
                    "integration_id": run.integration_id, "run_id": run.pk},
        )
        context = {"run": run, "log_url": log_url}
        send_mail(
            subject=f"Timecard Sync failed: {run.project} on {run.work_date:%b %-d, %Y} "
                    f"({run.integration.name})",
            message=render_to_string("emails/sync_failed.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
    return len(recipients)


# --- Integrations and their links -----------------------------------------------------------


def _check_settings(settings_: dict) -> None:
    base_url = settings_.get("base_url")
    if base_url:
        try:
            check_remote_url(base_url,
                             allowed_private_hosts=settings.CONNECTOR_PRIVATE_HOSTS_ALLOWED)
        except ValueError as error:
            raise ValidationError({"base_url": str(error)}) from error


def _require_admin(actor: Membership, integration: Integration | None = None) -> None:
    roles.require(roles.can_manage_organization(actor), "Only admins manage integrations.")
    if integration is not None and integration.organization_id != actor.organization_id:
        raise roles.PermissionDenied("That integration belongs to another organization.")


@transaction.atomic
def integration_create(
    *, actor: Membership, kind: str, name: str, settings: dict | None = None,
    credentials: dict | None = None,
) -> Integration:
    _require_admin(actor)
    if Integration.objects.filter(organization_id=actor.organization_id, name=name).exists():
        raise ValidationError({"name": f"An integration named {name} exists already."})
    _check_settings(settings or {})
    integration = Integration(
        organization_id=actor.organization_id, kind=kind, name=name, settings=settings or {},
        credentials_encrypted=crypto.encrypt_json(credentials) if credentials else "",
    )
    integration.full_clean(exclude=["organization"], validate_constraints=False)
    integration.save()
    return integration


@transaction.atomic
def integration_update(
    *, actor: Membership, integration: Integration, credentials: dict | None = None, **fields
) -> Integration:
    """Change settings; `credentials` given are merged into the stored (encrypted) ones and
    connect the integration again if it was disconnected."""
    _require_admin(actor, integration)
    name = fields.get("name")
    if name and Integration.objects.filter(organization_id=integration.organization_id,
                                           name=name).exclude(pk=integration.pk).exists():
        raise ValidationError({"name": f"An integration named {name} exists already."})
    if "settings" in fields:
        _check_settings(fields["settings"] or {})
    for name, value in fields.items():
        setattr(integration, name, value)
    if credentials:
        # New credentials are how a disconnected integration is connected again.
        integration.is_connected = True
        stored = (crypto.decrypt_json(integration.credentials_encrypted)
                  if integration.credentials_encrypted else {})
        integration.credentials_encrypted = crypto.encrypt_json({**stored, **credentials})
    integration.full_clean(exclude=["organization"], validate_constraints=False)
    integration.save()
    return integration


@transaction.atomic
def integration_disconnect(*, actor: Membership, integration: Integration) -> Integration:
    """Remove every link and the credentials. The logs and the ledger stay: they are the
    record of what was sent."""
    _require_admin(actor, integration)
    integration.project_links.all().delete()
    integration.worker_links.all().delete()
    integration.cost_code_links.all().delete()
    integration.credentials_encrypted = ""
    integration.is_connected = False
    integration.schedule_enabled = False
    integration.save()
    return integration


def integration_refresh_links(
    *, actor: Membership, integration: Integration, connector: Connector | None = None
) -> MatchReport:
    """Read the remote's employees, jobs and cost codes and link what matches."""
    _require_admin(actor, integration)
    connector = connector or connector_for(integration)
    try:
        with transaction.atomic():
            return refresh_links(integration=integration, connector=connector)
    finally:
        connector.close()


@transaction.atomic
def project_link_set(
    *, actor: Membership, integration: Integration, project: Project,
    remote_project_id: str | None = None, enabled: bool | None = None,
    sync_only_approved: bool | None = None,
) -> ProjectLink:
    roles.require(roles.can_edit_reference_data(actor),
                  "Only admins and payroll admins change how a project syncs.")
    if integration.organization_id != actor.organization_id \
            or project.organization_id != actor.organization_id:
        raise roles.PermissionDenied("That belongs to another organization.")
    link = ProjectLink.objects.filter(integration=integration, project=project).first()
    if link is None:
        if not remote_project_id:
            raise ValidationError({"remote_project_id": "Give the remote job to link to."})
        link = ProjectLink(organization_id=actor.organization_id, integration=integration,
                           project=project, remote_project_id=remote_project_id)
    if remote_project_id:
        link.remote_project_id = remote_project_id
    if enabled is not None:
        link.enabled = enabled
    if sync_only_approved is not None:
        link.sync_only_approved = sync_only_approved
    link.save()
    return link


@transaction.atomic
def worker_link_set(
    *, actor: Membership, integration: Integration, worker: Worker, remote_worker_id: str
) -> WorkerLink | None:
    """Link a worker by hand (matching will not overwrite it); an empty id removes the link."""
    return _manual_link(actor=actor, integration=integration, model=WorkerLink,
                        ours=worker, field="worker", remote_id=remote_worker_id)


def _manual_link(
    *, actor: Membership, integration: Integration, model: type[WorkerLink | CostCodeLink],
    ours: Worker | CostCode, field: str, remote_id: str,
) -> WorkerLink | CostCodeLink | None:
    """The one write path of links set by hand (workers, cost codes)."""
    roles.require(roles.can_edit_reference_data(actor),
                  "Only admins and payroll admins change mappings.")
    if integration.organization_id != actor.organization_id \
            or ours.organization_id != actor.organization_id:
        raise roles.PermissionDenied("That belongs to another organization.")
    if not remote_id:
        model.objects.filter(integration=integration, **{field: ours}).delete()
        return None
    link, _ = model.objects.update_or_create(
        integration=integration, **{field: ours},
        defaults={"organization_id": actor.organization_id,
                  f"remote_{field}_id": remote_id, "matched_by": MatchField.MANUAL},
    )
    return link


# --- Connecting from the pages, testing, cost codes linked by hand --------------------------


def integration_test_connection(
    *, actor: Membership, integration: Integration, connector: Connector | None = None
) -> None:
    """Ask the remote whether the integration's address and credentials work. Raises the
    connector's PermanentError (refused, wrong address) or TransientError (unreachable) with a
    reason an admin can act on; returns nothing when they work."""
    _require_admin(actor, integration)
    connector = connector or connector_for(integration)
    try:
        connector.test_connection()
    finally:
        connector.close()


def integration_connect(
    *, actor: Membership, kind: str, name: str, settings: dict, credentials: dict,
    connector: Connector | None = None,
) -> Integration:
    """Create an integration and prove its credentials in the same transaction: when the remote
    refuses them (or cannot be reached) the creation is rolled back and the connector's error
    raised, so no integration is ever left connected with credentials that do not work. The
    transaction holds only the new row while the connector's bounded timeouts run."""
    with transaction.atomic():
        integration = integration_create(actor=actor, kind=kind, name=name, settings=settings,
                                         credentials=credentials)
        integration_test_connection(actor=actor, integration=integration, connector=connector)
    return integration


def integration_reconfigure(
    *, actor: Membership, integration: Integration, credentials: dict | None = None,
    connector: Connector | None = None, **fields
) -> Integration:
    """`integration_update`, and when the address or the credentials change on a connected
    integration, a connection test in the same transaction: a refusal rolls every change back
    (the instance is reloaded) and raises the connector's error."""
    previous_base_url = (integration.settings or {}).get("base_url")
    try:
        with transaction.atomic():
            integration = integration_update(actor=actor, integration=integration,
                                             credentials=credentials, **fields)
            moved = (integration.settings or {}).get("base_url") != previous_base_url
            if integration.is_connected and (credentials or moved):
                integration_test_connection(actor=actor, integration=integration,
                                            connector=connector)
    except Exception:
        integration.refresh_from_db()
        raise
    return integration


@transaction.atomic
def cost_code_link_set(
    *, actor: Membership, integration: Integration, cost_code: CostCode, remote_cost_code_id: str
) -> CostCodeLink | None:
    """Link a cost code by hand (matching will not overwrite it); an empty id removes the link."""
    return _manual_link(actor=actor, integration=integration, model=CostCodeLink,
                        ours=cost_code, field="cost_code", remote_id=remote_cost_code_id)
