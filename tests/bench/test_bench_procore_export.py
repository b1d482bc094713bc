"""Benchmark (`make bench`): the Procore export of a 1,000-shift project-day through the engine,
against the Procore emulator over HTTP, and its re-sync after 100 edits and 50 deletions.
Figures are printed, never asserted against a clock; what is asserted is correctness (every
shift's entry once, as it should be).

The emulator answers every API request 50 ms late (a round trip to Procore's API from a
North American data centre) and counts Procore's default rate limit, 3,600 requests an hour,
in a window of an hour. A run makes its requests one after the other, so it cannot take less
than requests x 50 ms, nor less than a full window for each 3,600 requests past the first:
the bound printed is the larger of the two, and says which one binds.
"""

from __future__ import annotations

import math
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from connectors.procore.emulator import ProcoreEmulator
from tests import factories
from tests.connectors.procore.fixtures import COMPANY_ID, PROJECT_ID, SEED
from tests.timesync.sync.conftest import procore_integration_for, run_to_completion
from timesync import time_rules
from timesync.models import (
    CostCode,
    CostCodeLink,
    MatchField,
    ProjectLink,
    Shift,
    SyncRun,
    SyncState,
    Worker,
    WorkerLink,
)
from timesync.sync import runs as sync_runs

pytestmark = [pytest.mark.bench, pytest.mark.django_db]
DAY = date(2026, 6, 3)
ZONE = ZoneInfo("America/Toronto")
SHIFTS = 1000
EDITS, DELETES = 100, 50
LATENCY_MS = 50
RATE_LIMIT, RATE_WINDOW_SECONDS = 3600, 3600.0  # Procore's default: 3,600 an hour
FIRST_PARTY_ID = 9_500_000_000


def bound(requests: int) -> tuple[float, str]:
    """The least time `requests` sequential requests can take on the emulator, and why."""
    by_latency = requests * LATENCY_MS / 1000
    by_rate = max(0, math.ceil(requests / RATE_LIMIT) - 1) * RATE_WINDOW_SECONDS
    if by_rate > by_latency:
        return by_rate, "the rate limit binds"
    return by_latency, f"latency x {requests} requests binds; the rate limit is not reached"


def report(title: str, *, requests: int, queries: int, shifts: int, elapsed: float) -> None:
    least, why = bound(requests)
    print(f"\n[bench] procore {title}: {requests} requests ({requests / shifts:.3f} per "
          f"shift), {elapsed:.1f} s; bound {least:.1f} s (latency {LATENCY_MS} ms, "
          f"{RATE_LIMIT} req/h; {why}); {elapsed / least:.1f}x the bound")
    # Where the rest goes: the ledger's and the log's writes, a few per shift.
    print(f"[bench]   database: {queries} queries ({queries / shifts:.1f} per shift)")


def run_once(emulator: ProcoreEmulator, integration, project
             ) -> tuple[SyncRun, int, int, float]:
    """Start and execute a run as the worker does (again while it asks to): the run, the
    requests it made, the database queries and the seconds it took."""
    run = sync_runs.sync_run_start(integration=integration, project=project, work_date=DAY,
                                   trigger="api").run
    before = len(emulator.request_log())
    queries = [0]

    def count(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    began = time.perf_counter()
    with connection.execute_wrapper(count):
        run = run_to_completion(run.pk)
    elapsed = time.perf_counter() - began
    return run, len(emulator.request_log()) - before, queries[0], elapsed


def test_bench_procore_export_of_a_1000_shift_day_and_its_resync(settings):
    settings.SYNC_REMOTE_REQUEST_LIFETIME_SECONDS = 0
    emulator = ProcoreEmulator(rate_limit=RATE_LIMIT, rate_window=RATE_WINDOW_SECONDS)
    emulator.seed(**SEED)
    emulator.seed(people=[
        {"id": FIRST_PARTY_ID + n, "company_id": COMPANY_ID, "first_name": "Worker",
         "last_name": f"{n:04d}", "employee_id": f"B{n:04d}"} for n in range(SHIFTS)])
    emulator.start()
    try:
        organization = factories.OrganizationFactory(time_zone="America/Toronto")
        integration = procore_integration_for(organization, emulator)
        project = factories.ProjectFactory(organization=organization, code="24-101")
        ProjectLink.objects.create(organization=organization, integration=integration,
                                   project=project, remote_project_id=str(PROJECT_ID))
        cost_code = CostCode.objects.create(organization=organization, code="03-100",
                                            name="Concrete Formwork")
        CostCodeLink.objects.create(organization=organization, integration=integration,
                                    cost_code=cost_code, remote_cost_code_id="03-100",
                                    matched_by=MatchField.CODE)
        workers = Worker.objects.bulk_create([
            Worker(organization=organization, name=f"Worker {n:04d}",
                   employee_number=f"B{n:04d}") for n in range(SHIFTS)])
        WorkerLink.objects.bulk_create([
            WorkerLink(organization=organization, integration=integration, worker=worker,
                       remote_worker_id=str(FIRST_PARTY_ID + n),
                       matched_by=MatchField.EMPLOYEE_NUMBER)
            for n, worker in enumerate(workers)])
        # 07:00 to 15:30 less a 30-minute break: 8.00 hours, whole hours the bulk carries.
        start = datetime(DAY.year, DAY.month, DAY.day, 7, tzinfo=ZONE)
        end = start + timedelta(hours=8, minutes=30)
        shifts = Shift.objects.bulk_create([
            Shift(organization=organization, worker=worker, project=project, start=start,
                  end=end, break_minutes=30, work_date=DAY, cost_code=cost_code,
                  paid_seconds=time_rules.paid_seconds(start, end, 30))
            for worker in workers])
        emulator.set_latency(LATENCY_MS)

        run, requests, queries, elapsed = run_once(emulator, integration, project)
        assert run.state == SyncState.SUCCEEDED, run.error
        assert run.created_count == SHIFTS
        live = emulator.entries()
        assert len(live) == SHIFTS
        assert len({e["origin_data"] for e in live}) == SHIFTS  # each shift once
        report(f"export {SHIFTS} shifts", requests=requests, queries=queries, shifts=SHIFTS,
               elapsed=elapsed)

        # 100 shifts lose another half hour to their break, 50 are deleted.
        edited = [s.pk for s in shifts[:EDITS]]
        deleted = [s.pk for s in shifts[EDITS:EDITS + DELETES]]
        Shift.objects.filter(pk__in=edited).update(
            break_minutes=60, paid_seconds=time_rules.paid_seconds(start, end, 60),
            version=F("version") + 1)
        Shift.objects.filter(pk__in=deleted).update(deleted_at=timezone.now(),
                                                    version=F("version") + 1)

        again, requests, queries, elapsed = run_once(emulator, integration, project)
        assert again.state == SyncState.SUCCEEDED, again.error
        assert (again.updated_count, again.deleted_count, again.unchanged_count) == (
            EDITS, DELETES, SHIFTS - EDITS - DELETES)
        live = emulator.entries()
        assert len(live) == SHIFTS - DELETES
        assert len({e["origin_data"] for e in live}) == SHIFTS - DELETES
        assert sorted(e["hours"] for e in live).count("7.50") == EDITS
        report(f"re-sync after {EDITS} edits and {DELETES} deletes", requests=requests,
               queries=queries, shifts=SHIFTS, elapsed=elapsed)
    finally:
        emulator.stop()
