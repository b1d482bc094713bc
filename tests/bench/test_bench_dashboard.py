"""Benchmark (`make bench`): the Sync Dashboard's server time for 300 projects by 7 days, next
to a trivial signed-in page's time in the same run (the ratio is the figure)."""

from __future__ import annotations

import statistics
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests import factories
from timesync import time_rules
from timesync.models import (
    ExternalRecord,
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
from timesync.sync import selectors

pytestmark = [pytest.mark.bench, pytest.mark.django_db]
ZONE = ZoneInfo("America/Toronto")
DAY = date(2026, 6, 3)
PROJECTS = 300
ROUNDS = 7


def _median_ms(client: Client, url: str) -> float:
    client.get(url)  # warm caches (templates, URL resolvers)
    samples = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200
    return statistics.median(samples)


def test_bench_dashboard_for_300_projects(settings):
    settings.DEBUG = False
    organization = factories.OrganizationFactory(time_zone="America/Toronto")
    payroll = factories.MembershipFactory(organization=organization, role=Role.PAYROLL_ADMIN)
    admin = factories.MembershipFactory(organization=organization, role=Role.ADMIN)
    from timesync.sync import services as sync_services

    integration = sync_services.integration_create(
        actor=admin, kind="plexxis", name="Plexxis", settings={"base_url": "http://127.0.0.1:9"},
        credentials={"api_key": "x"},
    )
    projects = Project.objects.bulk_create([
        Project(organization=organization, name=f"Project {n:03d}", code=f"P-{n:03d}")
        for n in range(PROJECTS)
    ])
    ProjectLink.objects.bulk_create([
        ProjectLink(organization=organization, integration=integration, project=p,
                    remote_project_id=p.code) for p in projects
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
    week = selectors.week_of(DAY)
    shifts = []
    for index, project in enumerate(projects):
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
        for p in projects
    ])
    client = Client()
    client.force_login(payroll.user)
    slug = organization.slug
    dashboard = f"/o/{slug}/integrations/{integration.pk}/dashboard/?week={DAY.isoformat()}"
    trivial = f"/o/{slug}/integrations/"
    dashboard_ms = _median_ms(client, dashboard)
    trivial_ms = _median_ms(client, trivial)
    with CaptureQueriesContext(connection) as queries:
        client.get(dashboard)
    print(f"\n[bench] Sync Dashboard, {PROJECTS} projects x 7 days (median of {ROUNDS})")
    print(f"[bench]   dashboard_ms: {dashboard_ms:.1f}")
    print(f"[bench]   trivial_signed_in_page_ms: {trivial_ms:.1f}")
    print(f"[bench]   ratio: {dashboard_ms / trivial_ms:.1f}x")
    print(f"[bench]   dashboard_queries: {len(queries)}")
