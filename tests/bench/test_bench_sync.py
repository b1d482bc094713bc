"""Benchmarks (`make bench`): figures printed, never asserted against a clock.

- shifts synced per second for a 1,000-shift project-day against the Plexxis emulator with
  20 ms injected latency, next to the lower bound (round trips * latency);
- the query count and time of a week of dashboard cells for 10 and 500 projects;
- the peak memory of streaming the CSV of a 100,000-line run.
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectors.plexxis.emulator import PlexxisEmulator
from tests import factories
from timesync import time_rules
from timesync.models import (
    ExternalRecord,
    Project,
    ProjectLink,
    RecordState,
    Role,
    Shift,
    SyncLogEntry,
    SyncRun,
    SyncState,
    Worker,
    WorkerLink,
)
from timesync.sync import cells as grid_cells
from timesync.sync import csvlog, push
from timesync.sync import runs as sync_runs
from timesync.sync import services as sync_services

pytestmark = [pytest.mark.bench, pytest.mark.django_db]
DAY = date(2026, 6, 3)
ZONE = ZoneInfo("America/Toronto")
LATENCY_MS = 20


def report(title: str, **figures: object) -> None:
    print(f"\n[bench] {title}")
    for name, value in figures.items():
        print(f"[bench]   {name}: {value}")


def _organization_with_integration(emulator: PlexxisEmulator | None = None):
    organization = factories.OrganizationFactory(time_zone="America/Toronto")
    admin = factories.MembershipFactory(organization=organization, role=Role.ADMIN)
    integration = sync_services.integration_create(
        actor=admin, kind="plexxis", name="Plexxis",
        settings={"base_url": emulator.base_url if emulator else "http://127.0.0.1:9"},
        credentials={"api_key": emulator.api_key if emulator else "none"},
    )
    return organization, admin, integration


def _bulk_shifts(organization, project, workers, day: date) -> list[Shift]:
    start = datetime(day.year, day.month, day.day, 7, tzinfo=ZONE)
    end = start + timedelta(hours=8, minutes=30)
    return Shift.objects.bulk_create([
        Shift(organization=organization, worker=worker, project=project, start=start, end=end,
              break_minutes=30, work_date=day,
              paid_seconds=time_rules.paid_seconds(start, end, 30))
        for worker in workers
    ])


def test_bench_sync_throughput_of_a_1000_shift_day():
    shifts = 1000
    emulator = PlexxisEmulator(rate_limit=100_000)
    emulator.start()
    try:
        organization, _, integration = _organization_with_integration(emulator)
        project = factories.ProjectFactory(organization=organization, code="24-101")
        workers = Worker.objects.bulk_create([
            Worker(organization=organization, name=f"Worker {n:04d}", employee_number=f"{n:05d}")
            for n in range(shifts)
        ])
        emulator.seed(employees=[{"code": w.employee_number} for w in workers],
                      jobs=[{"job_number": "24-101"}])
        ProjectLink.objects.create(organization=organization, integration=integration,
                                   project=project, remote_project_id="24-101")
        WorkerLink.objects.bulk_create([
            WorkerLink(organization=organization, integration=integration, worker=w,
                       remote_worker_id=w.employee_number, matched_by="employee_number")
            for w in workers
        ])
        _bulk_shifts(organization, project, workers, DAY)
        emulator.set_latency(LATENCY_MS)
        run = sync_runs.sync_run_start(integration=integration, project=project,
                                           work_date=DAY, trigger="api").run
        requests_before = len(emulator.request_log())
        began = time.perf_counter()
        push.sync_run_execute(run_id=run.pk)
        elapsed = time.perf_counter() - began
        run.refresh_from_db()
        round_trips = len(emulator.request_log()) - requests_before
    finally:
        emulator.stop()
    assert run.state == SyncState.SUCCEEDED
    assert run.created_count == shifts
    lower_bound = round_trips * LATENCY_MS / 1000
    report(
        f"sync of a {shifts}-shift project-day, {LATENCY_MS} ms latency per request",
        elapsed_seconds=f"{elapsed:.2f}",
        shifts_per_second=f"{shifts / elapsed:.1f}",
        round_trips=round_trips,
        lower_bound_seconds=f"{lower_bound:.2f} (round trips * latency)",
        lower_bound_shifts_per_second=f"{shifts / lower_bound:.1f}",
        overhead_over_lower_bound=f"{elapsed / lower_bound:.2f}x",
    )


@pytest.mark.parametrize("project_count", [10, 500])
def test_bench_week_of_cells(project_count):
    organization, _, integration = _organization_with_integration()
    projects = Project.objects.bulk_create([
        Project(organization=organization, name=f"Project {n}", code=f"P-{n:04d}")
        for n in range(project_count)
    ])
    workers = Worker.objects.bulk_create([
        Worker(organization=organization, name=f"Worker {n}", employee_number=f"W{n}")
        for n in range(8)
    ])
    week = grid_cells.week_of(DAY)
    for project in projects:
        for day in week[:5]:
            day_shifts = _bulk_shifts(organization, project, workers[:4], day)
            if day == week[0]:  # Monday is synced
                ExternalRecord.objects.bulk_create([
                    ExternalRecord(organization=organization, integration=integration,
                                   shift=s, idempotency_key=f"k-{s.pk}", remote_id=f"r-{s.pk}",
                                   state=RecordState.SYNCED, payload_hash="x", project=project,
                                   remote_project_id=project.code, work_date=day,
                                   shift_version=s.version, hours=8)
                    for s in day_shifts
                ])
        SyncRun.objects.create(organization=organization, integration=integration,
                               project=project, work_date=week[0], trigger="api",
                               state=SyncState.SUCCEEDED)
    project_ids = [p.pk for p in projects]
    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        cells = grid_cells.sync_cells(integration=integration, project_ids=project_ids,
                                     dates=week)
        elapsed = time.perf_counter() - began
    assert len(cells) == project_count * 7
    report(f"a week of Sync Dashboard cells for {project_count} projects",
           cells=len(cells), queries=len(queries), milliseconds=f"{elapsed * 1000:.1f}")


def test_bench_csv_of_a_100000_line_run_streams_in_bounded_memory():
    lines = 100_000
    organization, _, integration = _organization_with_integration()
    project = factories.ProjectFactory(organization=organization)
    run = SyncRun.objects.create(organization=organization, integration=integration,
                                 project=project, work_date=DAY, trigger="api",
                                 state=SyncState.SUCCEEDED)
    SyncLogEntry.objects.bulk_create(
        (SyncLogEntry(run=run, worker_name=f"Worker {n}", employee_number=str(n),
                      outcome="created", hours=8, remote_id=f"TE-{n:06d}")
         for n in range(lines)),
        batch_size=5000,
    )
    tracemalloc.start()
    began = time.perf_counter()
    rows = size = 0
    for row in csvlog.run_csv_rows(run):
        rows += 1
        size += len(row)
    elapsed = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert rows == lines + 1
    report(f"CSV of a {lines}-line run, streamed",
           rows=rows, megabytes_streamed=f"{size / 1e6:.1f}",
           peak_python_memory_megabytes=f"{peak / 1e6:.1f}", seconds=f"{elapsed:.2f}")
