"""The benchmarks' organization: 300 projects linked to Plexxis, six linked workers, a week of
shifts (five working days), the Monday synced; shared by the in-process and the load bench."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tests import factories
from timesync import time_rules
from timesync.models import (
    ExternalRecord,
    Integration,
    Membership,
    Project,
    ProjectLink,
    RecordState,
    Role,
    Shift,
    SyncRun,
    SyncState,
    Worker,
    WorkerLink,
)
from timesync.sync import cells

ZONE = ZoneInfo("America/Toronto")
DAY = date(2026, 6, 3)


@dataclass(frozen=True)
class DashboardWorld:
    payroll: Membership
    integration: Integration

    @property
    def dashboard_path(self) -> str:
        return (f"/o/{self.payroll.organization.slug}/integrations/{self.integration.pk}"
                f"/dashboard/?week={DAY.isoformat()}")

    @property
    def trivial_path(self) -> str:
        return f"/o/{self.payroll.organization.slug}/integrations/"


def build_dashboard_world(projects: int = 300) -> DashboardWorld:
    organization = factories.OrganizationFactory(time_zone="America/Toronto")
    payroll = factories.MembershipFactory(organization=organization, role=Role.PAYROLL_ADMIN)
    admin = factories.MembershipFactory(organization=organization, role=Role.ADMIN)
    from timesync.sync import services as sync_services

    integration = sync_services.integration_create(
        actor=admin, kind="plexxis", name="Plexxis", settings={"base_url": "http://127.0.0.1:9"},
        credentials={"api_key": "x"},
    )
    rows = Project.objects.bulk_create([
        Project(organization=organization, name=f"Project {n:03d}", code=f"P-{n:03d}")
        for n in range(projects)
    ])
    ProjectLink.objects.bulk_create([
        ProjectLink(organization=organization, integration=integration, project=p,
                    remote_project_id=p.code) for p in rows
    ])
    workers = Worker.objects.bulk_create([
        Worker(organization=organization, name=f"Worker {n}", employee_number=f"W{n}")
        for n in range(6)
    ])
    WorkerLink.objects.bulk_create([
        WorkerLink(organization=organization, integration=integration, worker=w,
                   remote_worker_id=w.employee_number, matched_by="employee_number")
        for w in workers
    ])
    week = cells.week_of(DAY)
    shifts = []
    for index, project in enumerate(rows):
        for offset, day in enumerate(week[:5]):
            # Each worker's shifts sit at distinct hours, so nothing overlaps.
            start = datetime(day.year, day.month, day.day, tzinfo=ZONE) + timedelta(
                minutes=(index * 5 + offset) % (24 * 60))
            end = start + timedelta(minutes=4)
            shifts.append(Shift(organization=organization, worker=workers[index % 6],
                                project=project, start=start, end=end, work_date=day,
                                paid_seconds=time_rules.paid_seconds(start, end, 0)))
    shifts = Shift.objects.bulk_create(shifts, batch_size=2000)
    ExternalRecord.objects.bulk_create([
        ExternalRecord(organization=organization, integration=integration, shift=s,
                       idempotency_key=f"k-{s.pk}", remote_id=f"r-{s.pk}",
                       state=RecordState.SYNCED, payload_hash="x", project_id=s.project_id,
                       remote_project_id="x", work_date=s.work_date, shift_version=1, hours=1)
        for s in shifts if s.work_date == week[0]
    ], batch_size=2000)
    SyncRun.objects.bulk_create([
        SyncRun(organization=organization, integration=integration, project=p,
                work_date=week[0], trigger="api", state=SyncState.SUCCEEDED)
        for p in rows
    ])
    return DashboardWorld(payroll=payroll, integration=integration)
