"""Benchmarks of the engine at scale (`make bench`): figures printed, correctness asserted.

- several workers on one integration: throughput, the most runs executing at once (the cap),
  and the 429s the remote sent (the shared request budget should leave none);
- a night of 100 organizations, one with 1,000 linked projects and 99 with 5, on two workers
  against emulated latency: how long each small organization waits for its last run, next to
  the large one.

Workers are threads taking run ids from an in-process broker (the order Celery's queue would
give, countdowns respected), each calling the same task body as a Celery worker.
"""

from __future__ import annotations

import heapq
import itertools
import statistics
import threading
import time
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import Max

from connectors.plexxis.emulator import PlexxisEmulator
from timesync import crypto, time_rules
from timesync.models import (
    ACTIVE_SYNC_STATES,
    Integration,
    Organization,
    Project,
    ProjectLink,
    Shift,
    SyncRun,
    SyncState,
    Worker,
    WorkerLink,
)
from timesync.sync import dispatch, push, schedule
from timesync.sync import runs as sync_runs

pytestmark = [pytest.mark.bench, pytest.mark.django_db(transaction=True)]
DAY = date(2026, 6, 3)
ZONE = ZoneInfo("America/Toronto")
API_KEY = "bench-key"


def report(title: str, **figures: object) -> None:
    print(f"\n[bench] {title}")
    for name, value in figures.items():
        print(f"[bench]   {name}: {value}")


class LocalBroker:
    """A queue in order of due time (FIFO among the due), as Celery's would deliver."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int]] = []
        self._seq = itertools.count()
        self._lock = threading.Condition()

    def send(self, run_id: int, *, countdown: float | None = None) -> None:
        with self._lock:
            due = time.monotonic() + (countdown or 0)
            heapq.heappush(self._heap, (due, next(self._seq), run_id))
            self._lock.notify()

    def take(self, timeout: float = 0.2) -> int | None:
        with self._lock:
            if not self._heap:
                self._lock.wait(timeout)
                return None
            due, _, run_id = self._heap[0]
            wait = due - time.monotonic()
            if wait > 0:
                self._lock.wait(min(wait, timeout))
                return None
            heapq.heappop(self._heap)
            return run_id


def work_until_done(broker: LocalBroker, workers: int, run_ids: list[int],
                    deadline_seconds: float = 900) -> None:
    stop = threading.Event()

    def worker() -> None:
        try:
            while not stop.is_set():
                run_id = broker.take()
                if run_id is None:
                    continue
                execution = push.sync_run_execute(run_id=run_id)
                if execution.retry_in is not None:
                    broker.send(run_id, countdown=execution.retry_in)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + deadline_seconds
    try:
        while time.monotonic() < deadline:
            if not SyncRun.objects.filter(pk__in=run_ids, state__in=ACTIVE_SYNC_STATES).exists():
                break
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def linked_organization(emulator: PlexxisEmulator, *, projects: int, shifts_per_project: int,
                        name: str) -> tuple[Integration, list[Project]]:
    organization = Organization.objects.create(name=name, slug=name.lower(),
                                               time_zone="America/Toronto")
    integration = Integration.objects.create(
        organization=organization, kind="plexxis", name="Plexxis",
        settings={"base_url": emulator.base_url},
        credentials_encrypted=crypto.encrypt_json({"api_key": API_KEY}),
        schedule_enabled=True, schedule_time=clock_time(2, 0),
    )
    made = Project.objects.bulk_create([
        Project(organization=organization, name=f"{name} {n}", code=f"{name}-{n:04d}")
        for n in range(projects)
    ])
    crew = Worker.objects.bulk_create([
        Worker(organization=organization, name=f"{name} worker {n}",
               employee_number=f"{name}-{n}")
        for n in range(shifts_per_project)
    ])
    ProjectLink.objects.bulk_create([
        ProjectLink(organization=organization, integration=integration, project=project,
                    remote_project_id=project.code)
        for project in made
    ])
    WorkerLink.objects.bulk_create([
        WorkerLink(organization=organization, integration=integration, worker=worker,
                   remote_worker_id=worker.employee_number, matched_by="employee_number")
        for worker in crew
    ])
    start = datetime(DAY.year, DAY.month, DAY.day, 7, tzinfo=ZONE)
    end = start + timedelta(hours=8)
    Shift.objects.bulk_create([
        Shift(organization=organization, worker=worker, project=project, start=start, end=end,
              work_date=DAY, paid_seconds=time_rules.paid_seconds(start, end, 0))
        for project in made for worker in crew
    ], batch_size=2000)
    emulator.seed(employees=[{"code": w.employee_number} for w in crew],
                  jobs=[{"job_number": p.code} for p in made])
    return integration, made


@pytest.fixture
def broker(monkeypatch) -> LocalBroker:
    broker = LocalBroker()
    monkeypatch.setattr(dispatch, "run_enqueue", broker.send)
    monkeypatch.setattr(dispatch, "failure_email_enqueue", lambda run_id: None)
    return broker


def test_bench_several_workers_on_one_integration(broker, settings):
    settings.SYNC_MAX_RUNS_PER_INTEGRATION = 2
    settings.SYNC_RETRY_BASE_SECONDS = 0.2
    workers, project_days, shifts_each = 4, 12, 20
    # A tight rate limit: three workers calling at will would run into it.
    emulator = PlexxisEmulator(api_key=API_KEY, rate_limit=120, rate_window=10)
    emulator.start()
    emulator.set_latency(20)
    sampler_stop = threading.Event()
    most_running = [0]
    try:
        integration, projects = linked_organization(
            emulator, projects=project_days, shifts_per_project=shifts_each, name="Solo")

        def sample() -> None:
            try:
                while not sampler_stop.is_set():
                    running = SyncRun.objects.filter(integration=integration,
                                                     state=SyncState.RUNNING).count()
                    most_running[0] = max(most_running[0], running)
                    time.sleep(0.02)
            finally:
                connection.close()

        sampler = threading.Thread(target=sample)
        sampler.start()
        began = time.perf_counter()
        run_ids = [sync_runs.sync_run_start(integration=integration, project=project,
                                            work_date=DAY, trigger="api").run.pk
                   for project in projects]
        work_until_done(broker, workers, run_ids)
        elapsed = time.perf_counter() - began
        sampler_stop.set()
        sampler.join()
        statuses = [request.status for request in emulator.request_log()]
    finally:
        sampler_stop.set()
        emulator.stop()
    states = set(SyncRun.objects.filter(pk__in=run_ids).values_list("state", flat=True))
    assert states == {SyncState.SUCCEEDED}
    assert len(emulator.entries()) == project_days * shifts_each
    report(
        f"{workers} workers, one integration: {project_days} project-days of {shifts_each} "
        "shifts, 20 ms latency, remote limit 120 requests / 10 s",
        elapsed_seconds=f"{elapsed:.1f}",
        shifts_per_second=f"{project_days * shifts_each / elapsed:.1f}",
        requests=len(statuses),
        remote_429s=statuses.count(429),
        most_runs_executing_at_once=most_running[0],
        cap=settings.SYNC_MAX_RUNS_PER_INTEGRATION,
    )


def test_bench_a_night_of_100_organizations_one_of_them_large(broker, settings):
    settings.SYNC_MAX_RUNS_PER_INTEGRATION = 2
    emulator = PlexxisEmulator(api_key=API_KEY, rate_limit=1_000_000)
    emulator.start()
    try:
        large, _ = linked_organization(emulator, projects=1000, shifts_per_project=1,
                                       name="Large")
        small = [linked_organization(emulator, projects=5, shifts_per_project=1,
                                     name=f"Small{n:02d}")[0] for n in range(99)]
        emulator.set_latency(10)
        night = datetime(2026, 6, 4, 2, 5, tzinfo=ZONE)
        began = time.perf_counter()
        started_at = time.time()
        run_ids = schedule.scheduled_syncs_start(now=night)
        work_until_done(broker, 2, run_ids, deadline_seconds=1800)
        elapsed = time.perf_counter() - began
    finally:
        emulator.stop()
    assert len(run_ids) == 1000 + 99 * 5
    assert not SyncRun.objects.exclude(state=SyncState.SUCCEEDED).exists()

    def waited(integration: Integration) -> float:
        last = SyncRun.objects.filter(integration=integration).aggregate(
            last=Max("finished_at"))["last"]
        return last.timestamp() - started_at

    small_waits = sorted(waited(integration) for integration in small)
    report(
        "a night: 1 organization with 1,000 projects and 99 with 5, two workers, 10 ms latency",
        runs=len(run_ids),
        whole_night_seconds=f"{elapsed:.1f}",
        small_organizations_wait_median_seconds=f"{statistics.median(small_waits):.1f}",
        small_organizations_wait_max_seconds=f"{small_waits[-1]:.1f}",
        large_organization_wait_seconds=f"{waited(large):.1f}",
    )
