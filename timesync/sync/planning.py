"""The plan of one sync run: what should be in the remote (the day's eligible shifts) against
what the ledger says is there. Reads only; the preview dialog and the run share it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from django.db.models import Q

from connectors.base import TimecardEntry
from timesync import time_rules
from timesync.models import (
    ApprovalState,
    CostCodeLink,
    ExternalRecord,
    HoursRounding,
    Integration,
    Project,
    ProjectLink,
    RecordState,
    Shift,
    Worker,
    WorkerLink,
)


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UNCHANGED = "unchanged"
    SKIP = "skip"


@dataclass
class PlanItem:
    action: Action
    worker: Worker
    shift: Shift
    hours: Decimal | None
    record: ExternalRecord | None = None
    entry: TimecardEntry | None = None
    reason: str = ""

    @property
    def moved(self) -> bool:
        """A synced entry that now belongs to another project or day: delete there first."""
        return (
            self.action in (Action.CREATE, Action.UPDATE)
            and self.record is not None
            and self.record.state != RecordState.DELETED
            and self.entry is not None
            and (self.record.remote_project_id, self.record.work_date)
            != (self.entry.project_remote_id, self.entry.work_date)
        )


@dataclass
class Plan:
    integration: Integration
    project: Project
    work_date: date
    link: ProjectLink | None
    items: list[PlanItem] = field(default_factory=list)
    error: str = ""

    def count(self, action: Action) -> int:
        return sum(1 for item in self.items if item.action == action)

    @property
    def hours_to_send(self) -> Decimal:
        return sum(
            (item.hours for item in self.items
             if item.action in (Action.CREATE, Action.UPDATE, Action.UNCHANGED) and item.hours),
            Decimal("0.00"),
        )

    @property
    def workers(self) -> int:
        """Workers whose hours will be in the remote after the run (as `hours_to_send`)."""
        return len({item.worker.pk for item in self.items
                    if item.action in (Action.CREATE, Action.UPDATE, Action.UNCHANGED)})


def round_hours(paid_seconds: int, rounding: str) -> Decimal:
    """The one place an integration's rounding applies."""
    exact = Decimal(paid_seconds) / time_rules.SECONDS_PER_HOUR
    if rounding == HoursRounding.QUARTER:
        return ((exact * 4).quantize(Decimal(1), rounding=ROUND_HALF_UP) / 4).quantize(
            time_rules.HOURS_QUANTUM
        )
    if rounding == HoursRounding.TENTH:
        return exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP).quantize(
            time_rules.HOURS_QUANTUM
        )
    return time_rules.hours(paid_seconds)


def idempotency_key(integration: Integration, shift: Shift, generation: int) -> str:
    # Stable across retries of one write; a new generation after a remote delete, so a stale
    # lookup can never adopt an entry that was meant to be gone.
    return f"{key_prefix(integration)}{shift.pk}-{generation}"


def key_prefix(integration: Integration) -> str:
    """What every key this integration writes starts with: the read-back knows ours by it."""
    return f"timesync-{integration.organization_id}-{integration.pk}-"


def key_shift_id(key: str) -> int | None:
    """The shift a key of ours was written for (None for anything else)."""
    parts = key.split("-")
    if len(parts) != 5 or parts[0] != "timesync" or not parts[3].isdigit():
        return None
    return int(parts[3])


def eligible_shifts(*, link: ProjectLink, work_date: date) -> list[Shift]:
    shifts = Shift.objects.filter(
        project_id=link.project_id, work_date=work_date, deleted_at__isnull=True,
        end__isnull=False,
    ).exclude(approval_state=ApprovalState.REJECTED)
    if link.sync_only_approved:
        shifts = shifts.filter(approval_state=ApprovalState.APPROVED)
    return list(shifts.select_related("worker", "cost_code").order_by("worker__name", "start"))


def why_not_eligible(shift: Shift, link: ProjectLink | None, work_date: date) -> str:
    if shift.deleted_at is not None:
        return "Shift deleted in Timesync."
    if shift.approval_state == ApprovalState.REJECTED:
        return "Shift rejected."
    if link is None or shift.project_id != link.project_id or shift.work_date != work_date:
        return "Shift moved to another project or day."
    if link.sync_only_approved and shift.approval_state != ApprovalState.APPROVED:
        return "Shift no longer approved (this project syncs approved shifts only)."
    return "Shift no longer eligible."


def build_plan(*, integration: Integration, project: Project, work_date: date) -> Plan:
    link = ProjectLink.objects.filter(integration=integration, project=project).first()
    plan = Plan(integration=integration, project=project, work_date=work_date, link=link)
    if link is None or not link.enabled:
        plan.error = (
            f"{project} is not linked to a {integration.get_kind_display()} job"
            f"{'' if link is None else ' (its link is disabled)'}: link it on the integration's "
            "Mappings page, then sync again."
        )
        return plan

    shifts = eligible_shifts(link=link, work_date=work_date)
    shift_ids = [shift.pk for shift in shifts]
    records = {
        record.shift_id: record
        for record in ExternalRecord.objects.filter(integration=integration).filter(
            Q(shift_id__in=shift_ids) | Q(project=project, work_date=work_date)
        ).select_related("shift__worker")
    }
    worker_links = dict(
        WorkerLink.objects.filter(
            integration=integration, worker_id__in={s.worker_id for s in shifts}
        ).values_list("worker_id", "remote_worker_id")
    )
    cost_code_links = dict(
        CostCodeLink.objects.filter(
            integration=integration, cost_code_id__in={s.cost_code_id for s in shifts}
        ).values_list("cost_code_id", "remote_cost_code_id")
    )
    system = integration.get_kind_display()

    for shift in shifts:
        record = records.pop(shift.pk, None)
        hours = round_hours(shift.paid_seconds or 0, integration.hours_rounding)
        item = PlanItem(action=Action.SKIP, worker=shift.worker, shift=shift, hours=hours,
                        record=record)
        remote_worker = worker_links.get(shift.worker_id)
        remote_cost_code = cost_code_links.get(shift.cost_code_id)
        if remote_worker is None:
            number = f" (employee #{shift.worker.employee_number})" \
                if shift.worker.employee_number else ""
            item.reason = f"Worker {shift.worker.name}{number} was not found in {system}."
        elif shift.cost_code_id is not None and remote_cost_code is None:
            item.reason = f"Cost code {shift.cost_code} was not found in {system}."
        else:
            generation = record.generation if record else 1
            if record is not None and record.state == RecordState.DELETED:
                generation += 1
            item.entry = TimecardEntry(
                idempotency_key=(
                    record.idempotency_key
                    if record is not None and record.state != RecordState.DELETED
                    else idempotency_key(integration, shift, generation)
                ),
                worker_remote_id=remote_worker,
                project_remote_id=link.remote_project_id,
                cost_code_remote_id=remote_cost_code,
                work_date=work_date,
                hours=hours,
                time_type=shift.time_type,
                start=shift.start,
                end=shift.end,
                break_minutes=shift.break_minutes,
                notes=shift.notes,
            )
            item.action = _action_for(record, item.entry)
            if item.moved:
                item.reason = "Moved here from another project or day."
        if item.action == Action.SKIP and record is not None and record.state == RecordState.SYNCED:
            item.reason += " What was sent before stays as it is."
        plan.items.append(item)

    # What the ledger holds for this project and day but should not be there any more.
    for record in records.values():
        if record.state == RecordState.DELETED:
            continue
        plan.items.append(PlanItem(
            action=Action.DELETE, worker=record.shift.worker, shift=record.shift,
            hours=record.hours, record=record,
            reason=why_not_eligible(record.shift, link, work_date),
        ))
    return plan


def _action_for(record: ExternalRecord | None, entry: TimecardEntry) -> Action:
    if record is None or record.state in (RecordState.DELETED, RecordState.PENDING_CREATE):
        return Action.CREATE  # a pending create is reconciled before it is sent again
    if record.state != RecordState.SYNCED:
        return Action.UPDATE  # an update or delete whose outcome is unknown: send it again
    if record.payload_hash != entry.payload_hash():
        return Action.UPDATE
    return Action.UNCHANGED
