"""A real Celery worker killed with SIGKILL in the middle of a run: the database, not the
broker, knows the run is unfinished; recovery hands it to another worker, which finishes it
without a duplicate or a lost entry."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection

from config.celery import all_queues, app
from tests import factories
from timesync import services
from timesync.models import SyncRun, SyncState
from timesync.sync import recovery
from timesync.sync import services as sync_services

from .conftest import TORONTO, WORK_DATE

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[3]
SHIFTS = 24


def start_worker(log: Path, stale_seconds: int) -> subprocess.Popen:
    database = connection.settings_dict
    env = {
        **os.environ,
        # The worker must see the test database, where this test's rows are committed.
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
                        f"/{database['NAME']}",
        "SYNC_RUN_STALE_SECONDS": str(stale_seconds),
        # The emulator's latency here is 150 ms: a write it holds lands well within 2 s.
        "SYNC_REMOTE_REQUEST_LIFETIME_SECONDS": "2",
    }
    return subprocess.Popen(  # noqa: S603 - our interpreter and fixed arguments
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
         "--queues", ",".join(all_queues()),
         "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_killed_mid_run_is_recovered_without_duplicates(world, settings, tmp_path):
    settings.SYNC_RUN_STALE_SECONDS = 2
    app.control.purge()  # messages left by earlier tests name runs that no longer exist
    organization = world.project.organization
    employees = []
    for n in range(SHIFTS):
        worker = factories.WorkerFactory(organization=organization, name=f"Crew {n:02d}",
                                         employee_number=f"2{n:03d}")
        employees.append({"code": worker.employee_number, "first_name": "Crew",
                          "last_name": f"{n:02d}"})
        start = datetime(WORK_DATE.year, WORK_DATE.month, WORK_DATE.day, 7, tzinfo=TORONTO)
        services.shift_create(actor=world.payroll, worker=worker, project=world.project,
                              start=start, end=start + timedelta(hours=8), break_minutes=30)
    world.emulator.seed(employees=employees)
    sync_services.integration_refresh_links(actor=world.admin, integration=world.integration)
    world.emulator.set_latency(150)

    first = start_worker(tmp_path / "worker-1.log", stale_seconds=2)
    second = None
    try:
        run = world.start_run()  # enqueued on commit, to the real broker
        wait_for(lambda: len(world.emulator.entries()) >= 5, 60, "the first writes")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        run.refresh_from_db()
        assert run.state == SyncState.RUNNING
        assert len(world.emulator.entries()) < SHIFTS

        world.emulator.set_latency(0)
        second = start_worker(tmp_path / "worker-2.log", stale_seconds=2)
        wait_for(lambda: run.pk in recovery.sync_runs_recover(), 30, "recovery")
        wait_for(
            lambda: SyncRun.objects.get(pk=run.pk).state not in ("queued", "running"), 60,
            "the second worker to finish the run",
        )
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=15)
    run.refresh_from_db()
    assert run.state == SyncState.SUCCEEDED, (tmp_path / "worker-2.log").read_text()[-3000:]
    references = Counter(e["external_reference"] for e in world.emulator.entries())
    assert len(references) == SHIFTS
    assert set(references.values()) == {1}
