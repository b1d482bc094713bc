"""A run is claimed with a fencing token (its attempt number); a worker that lost its run
writes nothing more. What cannot be decided now reschedules the run instead of failing it."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from tests import factories
from timesync.models import SyncLogEntry, SyncRun, SyncState
from timesync.sync import push, recovery, runs
from timesync.sync.remotes import connector_for

from .conftest import WORK_DATE, run_to_completion

pytestmark = pytest.mark.django_db


def go_quiet(run: SyncRun) -> None:
    """The run's worker stopped beating (killed, or frozen) past the stale window."""
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))


def test_each_claim_hands_out_a_new_fencing_token(world):
    run = world.start_run()
    first = runs.claim(run.pk).fence
    go_quiet(run)
    second = runs.claim(run.pk).fence
    assert second.attempt == first.attempt + 1


def test_a_live_run_is_not_claimed_twice(world):
    run = world.start_run()
    assert runs.claim(run.pk).fence is not None
    assert runs.claim(run.pk).fence is None


def test_a_worker_that_lost_its_run_can_write_nothing_to_it(world):
    shift = world.shift("ana")
    run = world.start_run()
    old = runs.claim(run.pk).fence
    go_quiet(run)
    assert runs.claim(run.pk).fence is not None

    with pytest.raises(runs.RunLost):
        runs.heartbeat(old)
    with pytest.raises(runs.RunLost):
        runs.log_line(old, shift=shift, worker=shift.worker, outcome="created", hours=None)
    with pytest.raises(runs.RunLost):
        runs.finish(old, hours_sent=0, hours_remote=0, warnings=[])
    with pytest.raises(runs.RunLost):
        runs.fail(old, "stale worker")
    assert not SyncLogEntry.objects.filter(run=run).exists()
    run.refresh_from_db()
    assert run.state == SyncState.RUNNING
    assert run.error == ""


def test_recovery_takes_a_quiet_run_back_and_fences_its_old_worker_out(world):
    run = world.start_run()
    old = runs.claim(run.pk).fence
    go_quiet(run)
    assert recovery.sync_runs_recover() == [run.pk]
    with pytest.raises(runs.RunLost):
        runs.heartbeat(old)
    assert run_to_completion(run.pk).state == SyncState.SUCCEEDED


def test_recovery_sends_a_lost_queued_run_once_per_period(world, settings):
    settings.SYNC_RUN_LOST_SECONDS = 600
    run = world.start_run()
    SyncRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert recovery.sync_runs_recover() == [run.pk]
    assert recovery.sync_runs_recover() == []  # a backlog is not multiplied every minute


def test_a_queued_run_still_due_soon_is_left_to_its_message(world, settings):
    settings.SYNC_RUN_LOST_SECONDS = 600
    world.start_run()
    assert recovery.sync_runs_recover() == []


def test_an_integration_runs_at_most_its_cap_at_once(world, settings):
    settings.SYNC_MAX_RUNS_PER_INTEGRATION = 2
    others = [factories.ProjectFactory(organization=world.project.organization)
              for _ in range(2)]
    first, second = world.start_run(), world.start_run(project=others[0])
    third = world.start_run(project=others[1])
    assert runs.claim(first.pk).fence
    assert runs.claim(second.pk).fence
    waiting = runs.claim(third.pk)
    assert waiting.fence is None
    assert waiting.busy_for > 0
    third.refresh_from_db()
    assert third.state == SyncState.QUEUED


def test_a_soft_time_limit_reschedules_the_run(world):
    world.shift("ana")
    run = world.start_run()
    connector = connector_for(world.integration)

    def out_of_time(entry):
        raise SoftTimeLimitExceeded()

    connector.create_entry = out_of_time
    execution = push.sync_run_execute(run_id=run.pk, connector=connector)
    run.refresh_from_db()
    assert run.state == SyncState.QUEUED
    assert execution.retry_in is not None
    assert run_to_completion(run.pk).state == SyncState.SUCCEEDED
    assert len(world.remote_entries()) == 1


@pytest.mark.django_db(transaction=True)
def test_a_dropped_database_connection_reschedules_the_run_without_a_failure_email(world):
    world.shift("ana")
    world.shift("ben")
    run = world.start_run()
    connector = connector_for(world.integration)
    original_create = connector.create_entry

    def create_then_lose_the_database(entry):
        created = original_create(entry)
        # The database drops our session (a failover, an idle timeout, an admin).
        backend = connection.connection.info.backend_pid
        params = connection.get_connection_params()
        with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"},
                             autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [backend])
        return created

    connector.create_entry = create_then_lose_the_database
    execution = push.sync_run_execute(run_id=run.pk, connector=connector)
    assert execution.retry_in is not None
    run.refresh_from_db()
    assert run.state == SyncState.QUEUED
    assert run_to_completion(run.pk).state == SyncState.SUCCEEDED
    assert len(world.remote_entries()) == 2
    assert mail.outbox == []


def test_waiting_for_the_remote_keeps_the_project_day_busy(world):
    run = world.start_run()
    SyncRun.objects.filter(pk=run.pk).update(state=SyncState.WAITING)
    again = runs.sync_run_start(integration=world.integration, project=world.project,
                                work_date=WORK_DATE, trigger="api", actor=world.payroll)
    assert not again.created
    assert again.run.pk == run.pk
    go_quiet(run)
    assert recovery.sync_runs_recover() == []  # the remote collects it when it polls


@pytest.mark.django_db(transaction=True)
def test_recovery_is_not_stalled_by_a_run_locked_in_a_frozen_transaction(world):
    """A worker stopped mid-transaction holds its run's row: recovery skips it, not waits."""
    import threading

    frozen_run = world.start_run()
    other = factories.ProjectFactory(organization=world.project.organization)
    quiet_run = world.start_run(project=other)
    for run in (frozen_run, quiet_run):
        runs.claim(run.pk)
        go_quiet(run)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                SyncRun.objects.select_for_update().get(pk=frozen_run.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        assert recovery.sync_runs_recover() == [quiet_run.pk]
    finally:
        release.set()
        holder.join(timeout=30)
    assert recovery.sync_runs_recover() == [frozen_run.pk]


def test_a_click_while_the_broker_is_down_is_sent_by_the_next_recovery(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from timesync.sync import dispatch

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(dispatch.app.tasks[dispatch.EXECUTE_RUN], "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        started = runs.sync_run_start(integration=world.integration, project=world.project,
                                      work_date=WORK_DATE, trigger="api", actor=world.payroll)
    assert started.created
    monkeypatch.undo()
    assert recovery.sync_runs_recover() == [started.run.pk]


def test_an_unreachable_request_budget_does_not_stop_a_sync(world, monkeypatch):
    from timesync.sync import budget

    class CacheDown:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise ConnectionError("Redis is restarting.")

            return fail

    monkeypatch.setattr(budget, "cache", CacheDown())
    world.shift("ana")
    run = run_to_completion(world.start_run().pk)
    assert run.state == SyncState.SUCCEEDED
    assert len(world.remote_entries()) == 1
