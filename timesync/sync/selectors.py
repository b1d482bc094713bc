"""Read paths of the sync engine: integrations and their runs, the preview of a run, the
logs, a project's integration cards. The dashboard's cells are in cells.py."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Max, QuerySet
from django.shortcuts import get_object_or_404

from connectors.base import PermanentError
from timesync import roles
from timesync.models import (
    ACTIVE_SYNC_STATES,
    InboundEvent,
    InboundState,
    Integration,
    IntegrationAuditEntry,
    Membership,
    ProcoreReceiver,
    Project,
    ProjectLink,
    SyncLogEntry,
    SyncRun,
)
from timesync.sync.cells import Cell, sync_cells
from timesync.sync.planning import Action, build_plan

# --- Integrations and runs ------------------------------------------------------------------


def integration_list(*, membership: Membership) -> QuerySet[Integration]:
    return Integration.objects.filter(organization_id=membership.organization_id)


class IntegrationDisconnected(PermanentError):
    """The integration has no credentials (it was disconnected): nothing can reach its remote
    until an admin connects it again. The API answers 409."""

    def __init__(self, integration: Integration) -> None:
        super().__init__(f"{integration.name} is disconnected: connect it again first (enter "
                         "its API key in its settings).")


def access_integration(
    membership: Membership, integration_id: int, *, connected: bool = False,
    for_update: bool = False,
) -> Integration:
    """The one way in to an integration: the caller's organization's, else 404 (never 403: a
    stranger must not learn that the id exists). `connected` refuses a disconnected one with
    IntegrationDisconnected; `for_update` locks its row until the caller's transaction ends.
    Role rules are the caller's business (timesync.roles), checked after this."""
    integrations = integration_list(membership=membership).select_related("organization")
    if for_update:
        integrations = integrations.select_for_update(of=("self",))
    integration = get_object_or_404(integrations, pk=integration_id)
    if connected:
        require_connected(integration)
    return integration


class ReconnectRequired(IntegrationDisconnected):
    """The remote stopped honouring the integration's grant (Procore's OAuth): as disconnected
    until an admin connects it again, with the reason."""

    def __init__(self, integration: Integration) -> None:
        PermanentError.__init__(self, f"{integration.name} must be connected again: "
                                      f"{integration.reconnect_reason}")


def require_connected(integration: Integration) -> None:
    if not integration.is_connected:
        raise IntegrationDisconnected(integration)
    if integration.reconnect_reason:
        raise ReconnectRequired(integration)


class IntegrationReceivesOnly(PermanentError):
    """The integration's direction is `receive` (Procore's time cards come to us): nothing may
    be sent to it. The API answers 409: the request is sound, the integration's setting says
    no, and changing that setting makes the same request succeed."""

    def __init__(self, integration: Integration) -> None:
        super().__init__(f"{integration.name} only receives time cards from "
                         f"{integration.get_kind_display()}: Timesync never sends to it. To sync "
                         "from here, set its direction to send or both in its settings.")


def require_sends(integration: Integration) -> None:
    """Refuse to start a sync to an integration that only receives (`Integration.sends`)."""
    if not integration.sends:
        raise IntegrationReceivesOnly(integration)


def integration_get(*, membership: Membership, integration_id: int) -> Integration:
    """`access_integration` under its older name (the dashboard and project pages use it)."""
    return access_integration(membership, integration_id)


def integration_audit_log(*, integration: Integration) -> QuerySet[IntegrationAuditEntry]:
    """The integration's audit trail, newest first. `integration` comes from
    `access_integration`, so it is the caller's organization's."""
    return (IntegrationAuditEntry.objects
            .filter(integration=integration, organization_id=integration.organization_id)
            .select_related("actor").order_by("-created_at", "-id"))


def run_list(
    *,
    membership: Membership,
    integration: Integration | None = None,
    project_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    state: str | None = None,
) -> QuerySet[SyncRun]:
    """Runs the caller may see, newest first (a project manager: their projects' runs)."""
    runs = SyncRun.objects.filter(organization_id=membership.organization_id)
    if not roles.sees_all_projects(membership):
        runs = runs.filter(project__assigned_memberships=membership)
    filters = {
        "integration": integration, "project_id": project_id, "work_date__gte": date_from,
        "work_date__lte": date_to, "state": state,
    }
    runs = runs.filter(**{k: v for k, v in filters.items() if v is not None})
    return runs.select_related("integration", "project", "requested_by").order_by(
        "-created_at", "-id"
    )


def run_get(*, membership: Membership, run_id: int, integration: Integration | None = None
            ) -> SyncRun:
    return get_object_or_404(run_list(membership=membership, integration=integration), pk=run_id)


# --- Preview --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewLine:
    action: str
    worker: str
    employee_number: str
    shift_id: int
    hours: Decimal | None
    reason: str


@dataclass(frozen=True)
class Preview:
    """What a run would do now, for the confirm dialog and the API. Writes nothing."""

    integration: str
    project: str
    work_date: date
    approved_only: bool
    error: str
    creates: int
    updates: int
    deletes: int
    unchanged: int
    skips: int
    workers: int
    hours: Decimal
    lines: list[PreviewLine] = field(default_factory=list)

    @property
    def skipped_lines(self) -> list[PreviewLine]:
        return [line for line in self.lines if line.action == Action.SKIP]


def sync_preview(*, integration: Integration, project: Project, work_date: date) -> Preview:
    plan = build_plan(integration=integration, project=project, work_date=work_date)
    return Preview(
        integration=integration.name,
        project=str(project),
        work_date=work_date,
        approved_only=bool(plan.link and plan.link.sync_only_approved),
        error=plan.error,
        creates=plan.count(Action.CREATE),
        updates=plan.count(Action.UPDATE),
        deletes=plan.count(Action.DELETE),
        unchanged=plan.count(Action.UNCHANGED),
        skips=plan.count(Action.SKIP),
        workers=plan.workers,
        hours=plan.hours_to_send,
        lines=[
            PreviewLine(
                action=str(item.action), worker=item.worker.name,
                employee_number=item.worker.employee_number, shift_id=item.shift.pk,
                hours=item.hours, reason=item.reason,
            )
            for item in plan.items
        ],
    )


# --- The detailed log -----------------------------------------------------------------------


def run_log_lines(*, run: SyncRun, chunk_size: int = 2000) -> Iterator[dict]:
    """The run's detailed log, line by line, without holding it all in memory."""
    yield from (
        run.entries.order_by("id")
        .values("worker_name", "employee_number", "shift_id", "outcome", "hours", "remote_id",
                "message")
        .iterator(chunk_size=chunk_size)
    )


# --- A project's integration cards ----------------------------------------------------------


@dataclass(frozen=True)
class ProjectSyncDay:
    """One day of a project's recent syncs to one integration: its last run and its cell now."""

    work_date: date
    run: SyncRun | None
    cell: Cell


@dataclass(frozen=True)
class ProjectSyncCard:
    """What the project page shows per connected integration."""

    integration: Integration
    link: ProjectLink | None
    days: list[ProjectSyncDay]
    active_run: SyncRun | None  # a run of this project still queued or running, if any

    @property
    def is_linked(self) -> bool:
        return self.link is not None and self.link.enabled


def project_sync_cards(
    *, membership: Membership, project: Project, dates: Iterable[date]
) -> list[ProjectSyncCard]:
    """Per connected integration of the caller's organization: the project's link, and per
    day (newest first) the last run and the cell status. `project` comes from
    `timesync.selectors.project_get`, so a project manager's is one of theirs."""
    from timesync.selectors import project_get  # the one definition of who sees a project

    project = project_get(membership=membership, project_id=project.pk)  # else 404
    dates = sorted(dates, reverse=True)
    integrations = list(integration_list(membership=membership).filter(is_connected=True))
    if not integrations or not dates:
        return []
    links = {
        link.integration_id: link
        for link in ProjectLink.objects.filter(integration__in=integrations, project=project)
    }
    runs = run_list(membership=membership, project_id=project.pk).filter(
        integration__in=integrations
    )
    last_ids = (
        runs.filter(work_date__range=(dates[-1], dates[0]))
        .order_by()
        .values("integration_id", "work_date")
        .annotate(last_id=Max("id"))
        .values("last_id")
    )
    last_runs = {(run.integration_id, run.work_date): run
                 for run in runs.filter(id__in=last_ids)}
    active = {}
    for run in runs.filter(state__in=ACTIVE_SYNC_STATES):
        active.setdefault(run.integration_id, run)  # newest first: keep the newest
    cards = []
    for integration in integrations:
        cells = sync_cells(integration=integration, project_ids=[project.pk], dates=dates)
        cards.append(ProjectSyncCard(
            integration=integration,
            link=links.get(integration.pk),
            days=[ProjectSyncDay(work_date=day, run=last_runs.get((integration.pk, day)),
                                 cell=cells[(project.pk, day)]) for day in dates],
            active_run=active.get(integration.pk),
        ))
    return cards


@dataclass(frozen=True)
class ProcoreActivity:
    """Procore's activity monitor: what came in, what went out, what waits, what failed."""

    received: list[InboundEvent]
    pending: list[InboundEvent]
    failed: list[InboundEvent]
    sent: list[SyncLogEntry]
    receiver: ProcoreReceiver | None


def procore_activity(*, integration: Integration, size: int = 20) -> ProcoreActivity:
    """The last `size` messages each way, those pending and those failed (with their reason).
    `integration` comes from `access_integration`."""
    events = InboundEvent.objects.filter(integration=integration,
                                         organization_id=integration.organization_id)
    return ProcoreActivity(
        received=list(events.exclude(state__in=[InboundState.PENDING, InboundState.FAILED])
                      .order_by("-processed_at", "-id")[:size]),
        pending=list(events.filter(state=InboundState.PENDING).order_by("received_at")[:size]),
        failed=list(events.filter(state=InboundState.FAILED).order_by("-processed_at")[:size]),
        sent=list(SyncLogEntry.objects.filter(run__integration=integration)
                  .select_related("run__project").order_by("-id")[:size]),
        receiver=ProcoreReceiver.objects.filter(integration=integration).first(),
    )


def inbound_event_list(*, integration: Integration, state: str | None = None
                       ) -> QuerySet[InboundEvent]:
    events = InboundEvent.objects.filter(integration=integration,
                                         organization_id=integration.organization_id)
    if state:
        events = events.filter(state=state)
    return events.order_by("-received_at", "-id")
