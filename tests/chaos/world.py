"""One trial's world (an organization with a Plexxis integration on the emulator, a linked
project, workers, shifts on a few days) and the judge: what the remote, the ledger and the
run logs must say once the dust has settled.

The judge computes the desired state from the shifts themselves (start, end, break), not from
the engine's planning code, so a bug there cannot hide from it.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from tests import factories
from timesync import services
from timesync.models import (
    ApprovalState,
    ExternalRecord,
    Integration,
    Membership,
    Project,
    ProjectLink,
    RecordState,
    Role,
    Shift,
    SyncLogEntry,
    SyncOutcome,
    SyncRun,
    Worker,
    WorkerLink,
)
from timesync.sync import services as sync_services

from .stack import CountingEmulator

TORONTO = ZoneInfo("America/Toronto")
DAYS = (date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3))
JOB = "24-101"
API_KEY = "chaos-plexxis-key"
KNOWN = [("1001", "Ana", "Silva"), ("1002", "Ben", "Okafor"), ("1003", "Chen", "Li"),
         ("1004", "Dara", "Nowak"), ("1005", "Eli", "Haddad"), ("1006", "Fay", "Moreau"),
         ("1007", "Gus", "Tran"), ("1008", "Hana", "Sato"), ("1009", "Ivo", "Petrov"),
         ("1010", "Jo", "Mensah")]
UNKNOWN = ("9999", "Cy", "Unknown")  # not in Plexxis: its shifts are skipped, never sent
COUNTS = {SyncOutcome.CREATED: "created_count", SyncOutcome.UPDATED: "updated_count",
          SyncOutcome.DELETED: "deleted_count", SyncOutcome.UNCHANGED: "unchanged_count",
          SyncOutcome.SKIPPED: "skipped_count"}


@dataclass
class World:
    emulator: CountingEmulator
    admin: Membership
    payroll: Membership
    integration: Integration
    project: Project
    link: ProjectLink
    workers: list[Worker]
    days: list[date]
    touched: set[date] = field(default_factory=set)

    @property
    def key_prefix(self) -> str:
        return f"timesync-{self.integration.organization_id}-{self.integration.pk}-"

    def shifts(self) -> list[Shift]:
        return list(Shift.objects.filter(project=self.project).select_related("worker"))

    def runs(self) -> list[SyncRun]:
        return list(SyncRun.objects.filter(integration=self.integration).order_by("pk"))


def build_world(emulator: CountingEmulator, rng: random.Random) -> World:
    """A fresh organization each trial (the emulator is reset too), so no trial sees
    another's entries, records or runs."""
    emulator.reset()
    emulator.seed(
        employees=[{"code": code, "first_name": first, "last_name": last}
                   for code, first, last in KNOWN],
        jobs=[{"job_number": JOB, "name": "King Street Tower"}],
        cost_codes=[{"code": "03.100", "description": "Concrete Formwork"}],
    )
    organization = factories.OrganizationFactory(time_zone="America/Toronto")
    admin = factories.MembershipFactory(organization=organization, role=Role.ADMIN)
    payroll = factories.MembershipFactory(organization=organization, role=Role.PAYROLL_ADMIN)
    project = factories.ProjectFactory(organization=organization, code=JOB,
                                       name="King Street Tower")
    workers = [factories.WorkerFactory(organization=organization, name=f"{first} {last}",
                                       employee_number=code)
               for code, first, last in [*KNOWN, UNKNOWN]]
    cost_code = factories.CostCodeFactory(organization=organization, code="03.100",
                                          name="Concrete Formwork")
    integration = sync_services.integration_create(
        actor=admin, kind="plexxis", name="Plexxis V2",
        settings={"base_url": emulator.base_url}, credentials={"api_key": API_KEY},
    )
    sync_services.integration_refresh_links(actor=admin, integration=integration)
    link = sync_services.project_link_set(
        actor=admin, integration=integration, project=project,
        sync_only_approved=rng.random() < 0.4,
    )
    days = list(DAYS[: rng.choice((2, 3))])
    for day in days:
        for worker in rng.sample(workers, rng.randint(4, 9)):
            start = datetime(day.year, day.month, day.day, 7, tzinfo=TORONTO)
            # Whole quarter hours: the judge's hours are exact, whatever the rounding.
            hours = Decimal(rng.randint(24, 40)) / 4
            shift = services.shift_create(
                actor=payroll, worker=worker, project=project, start=start,
                end=start + timedelta(hours=float(hours)), break_minutes=30,
                cost_code=cost_code,
            )
            decision = rng.random()
            if decision < 0.65:
                services.shift_decide(actor=payroll, shift=shift, approve=True)
            elif decision < 0.75:
                services.shift_decide(actor=payroll, shift=shift, approve=False,
                                      reason="Not on site")
    return World(emulator=emulator, admin=admin, payroll=payroll, integration=integration,
                 project=project, link=link, workers=workers, days=days, touched=set(days))


# --- The judge ------------------------------------------------------------------------------


@dataclass
class Verdict:
    duplicates: int = 0
    losses: int = 0
    wrong: int = 0
    notes: list[str] = field(default_factory=list)

    def note(self, kind: str, text: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        self.notes.append(f"{kind}: {text}")


def _expected_hours(shift: Shift) -> Decimal:
    worked = shift.end - shift.start - timedelta(minutes=shift.break_minutes)
    return (Decimal(int(worked.total_seconds())) / 3600).quantize(Decimal("0.01"))


def should_be_remote(shift: Shift, link: ProjectLink, known_workers: set[int]) -> bool:
    return (
        shift.deleted_at is None and shift.end is not None
        and shift.project_id == link.project_id
        and shift.approval_state != ApprovalState.REJECTED
        and (not link.sync_only_approved or shift.approval_state == ApprovalState.APPROVED)
        and shift.worker_id in known_workers
    )


def judge(world: World) -> Verdict:
    """Each eligible shift exactly once in the remote, with its hours, on the job and its day;
    nothing for the others; the ledger saying the same; each run's counts equal to its lines."""
    verdict = Verdict()
    link = ProjectLink.objects.get(pk=world.link.pk)
    known = set(WorkerLink.objects.filter(integration=world.integration)
                .values_list("worker_id", flat=True))
    numbers = {w.pk: w.employee_number for w in world.workers}
    by_shift: dict[int, list[dict]] = defaultdict(list)
    for entry in world.emulator.entries():
        reference = entry.get("external_reference") or ""
        parts = reference.split("-")
        if not reference.startswith(world.key_prefix) or len(parts) != 5:
            verdict.note("wrong", f"an entry nobody should have written: {entry}")
            continue
        by_shift[int(parts[3])].append(entry)
    records = {r.shift_id: r for r in ExternalRecord.objects.filter(integration=world.integration)}

    for shift in world.shifts():
        entries = by_shift.pop(shift.pk, [])
        record = records.get(shift.pk)
        if len(entries) > 1:
            verdict.duplicates += len(entries) - 1
            verdict.notes.append(f"duplicates: shift {shift.pk} is in Plexxis {len(entries)} "
                                 f"times: {[e['id'] for e in entries]}")
        if not should_be_remote(shift, link, known):
            if entries:
                verdict.note("wrong", f"shift {shift.pk} ({_why_not(shift, link, known)}) is "
                                      f"still in Plexxis as {[e['id'] for e in entries]}")
            elif record is not None and record.state != RecordState.DELETED:
                verdict.note("wrong", f"shift {shift.pk} is gone from Plexxis but its ledger "
                                      f"record says {record.state} {record.remote_id}")
            continue
        if not entries:
            verdict.note("losses", f"shift {shift.pk} ({shift.worker.name}, {shift.work_date}, "
                                   f"{_expected_hours(shift)} h) is not in Plexxis; ledger: "
                                   f"{record.state if record else 'no record'}")
            continue
        entry = entries[0]
        want = {"employee_code": numbers[shift.worker_id], "job_number": link.remote_project_id,
                "sub_job_code": None, "work_date": shift.work_date.isoformat(),
                "hours": f"{_expected_hours(shift):.2f}"}
        got = {name: entry.get(name) for name in want}
        if got != want:
            verdict.note("wrong", f"shift {shift.pk} is in Plexxis as {got}, should be {want}")
        elif record is None or record.state != RecordState.SYNCED or (
            len(entries) == 1 and record.remote_id != entry["id"]
        ) or record.hours != _expected_hours(shift) or record.work_date != shift.work_date:
            verdict.note("wrong", f"shift {shift.pk}: the ledger ({_describe(record)}) disagrees "
                                  f"with Plexxis ({entry['id']}, {entry['hours']} h, "
                                  f"{entry['work_date']})")
    for shift_id, entries in by_shift.items():
        verdict.note("wrong", f"entries for shift {shift_id}, not one of this project's: "
                              f"{[e['id'] for e in entries]}")
    _judge_run_logs(world, verdict)
    return verdict


def _judge_run_logs(world: World, verdict: Verdict) -> None:
    lines = Counter(SyncLogEntry.objects.filter(run__integration=world.integration)
                    .values_list("run_id", "outcome"))
    per_shift = Counter(SyncLogEntry.objects.filter(run__integration=world.integration)
                        .values_list("run_id", "shift_id"))
    for run in world.runs():
        counted = {field_: getattr(run, field_) for field_ in COUNTS.values()}
        logged = {field_: lines.get((run.pk, outcome), 0) for outcome, field_ in COUNTS.items()}
        if run.state in ("succeeded", "succeeded_with_warnings", "failed") and counted != logged:
            verdict.note("wrong", f"run {run.pk} ({run.state}) counts {counted} but its log "
                                  f"has {logged}")
    for (run_id, shift_id), n in per_shift.items():
        if shift_id is not None and n > 1:
            verdict.note("wrong", f"run {run_id} logged shift {shift_id} {n} times")


def _why_not(shift: Shift, link: ProjectLink, known: set[int]) -> str:
    if shift.deleted_at is not None:
        return "deleted"
    if shift.approval_state == ApprovalState.REJECTED:
        return "rejected"
    if shift.worker_id not in known:
        return "worker unknown to Plexxis"
    if link.sync_only_approved and shift.approval_state != ApprovalState.APPROVED:
        return "not approved"
    return "not eligible"


def _describe(record: ExternalRecord | None) -> str:
    if record is None:
        return "no record"
    return (f"{record.state} {record.remote_id or '-'} {record.hours} h {record.work_date} "
            f"rev {record.revision}")
