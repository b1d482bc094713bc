"""Whatever fails in between, the remote ends up holding exactly the eligible shifts: no
duplicate, no lost entry. One test per point of failure."""

import threading
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from connectors.plexxis.client import PlexxisConnector
from timesync.models import ExternalRecord, RecordState, SyncRun, SyncState
from timesync.sync import push, recovery
from timesync.sync.remotes import connector_for, remote_address_policy

from .conftest import API_KEY, run_to_completion

pytestmark = pytest.mark.django_db


def eligible_three(world):
    world.shift("ana")
    world.shift("ben")
    world.shift("ana", start_hour=17, hours=3)


def assert_remote_is_exactly_the_eligible_shifts(world, expected: int = 3) -> None:
    entries = world.remote_entries()
    references = Counter(e["external_reference"] for e in entries)
    assert len(entries) == expected, entries
    assert all(n == 1 for n in references.values()), f"duplicates: {references}"
    records = ExternalRecord.objects.filter(integration=world.integration,
                                            state=RecordState.SYNCED)
    assert sorted(r.remote_id for r in records) == sorted(e["id"] for e in entries)


def test_failure_before_the_remote_call_is_retried(world):
    eligible_three(world)
    world.emulator.inject("server_error", count=2, method="POST")
    run = run_to_completion(world.start_run().pk)
    assert run.state == SyncState.SUCCEEDED
    assert run.attempts == 3
    assert_remote_is_exactly_the_eligible_shifts(world)


def test_response_lost_after_the_remote_applied_the_create(world):
    eligible_three(world)
    world.emulator.inject("lose_response", count=1, method="POST")
    run = run_to_completion(world.start_run().pk)
    assert run.state == SyncState.SUCCEEDED
    assert run.created_count == 3
    assert_remote_is_exactly_the_eligible_shifts(world)


def test_response_lost_after_the_remote_applied_an_update_and_a_delete(world):
    from timesync import services

    eligible_three(world)
    run_to_completion(world.start_run().pk)
    first, second, _ = world.shifts
    services.shift_update(actor=world.payroll, shift=first, notes="edited")
    services.shift_delete(actor=world.payroll, shift=second)
    world.emulator.inject("lose_response", count=1, method="PATCH")
    world.emulator.inject("lose_response", count=1, method="DELETE")
    run = run_to_completion(world.start_run().pk)
    assert run.state == SyncState.SUCCEEDED
    assert_remote_is_exactly_the_eligible_shifts(world, expected=2)
    assert "edited" in {e["notes"] for e in world.remote_entries()}


class SimulatedCrash(BaseException):
    """The worker process dying: nothing after this point runs, nothing is committed."""


def test_worker_killed_between_the_remote_write_and_recording_it(world, monkeypatch):
    eligible_three(world)
    run = world.start_run()
    real_connector = connector_for(world.integration)
    calls = {"n": 0}
    original_create = real_connector.create_entry

    def create_then_die(entry):
        result = original_create(entry)
        calls["n"] += 1
        if calls["n"] == 2:
            raise SimulatedCrash
        return result

    monkeypatch.setattr(real_connector, "create_entry", create_then_die)
    with pytest.raises(SimulatedCrash):
        push.sync_run_execute(run_id=run.pk, connector=real_connector)
    monkeypatch.undo()
    run.refresh_from_db()
    assert run.state == SyncState.RUNNING  # as a killed worker leaves it
    assert ExternalRecord.objects.filter(state=RecordState.PENDING_CREATE).count() == 1

    # Its heartbeat goes quiet; the recovery task finds it and runs it again.
    SyncRun.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now() - timezone.timedelta(hours=1)
    )
    assert run.pk in recovery.sync_runs_recover()
    run = run_to_completion(run.pk)
    assert run.state == SyncState.SUCCEEDED
    assert run.created_count == 3
    assert_remote_is_exactly_the_eligible_shifts(world)


def test_task_delivered_twice_runs_once(world):
    eligible_three(world)
    run = world.start_run()
    first = push.sync_run_execute(run_id=run.pk)
    second = push.sync_run_execute(run_id=run.pk)
    assert first.claimed
    assert not second.claimed
    assert_remote_is_exactly_the_eligible_shifts(world)


@pytest.mark.django_db(transaction=True)
def test_task_delivered_twice_at_the_same_moment_runs_once(world):
    eligible_three(world)
    world.emulator.set_latency(50)
    run = world.start_run()
    results = []

    def deliver():
        try:
            results.append(push.sync_run_execute(run_id=run.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.claimed for r in results) == [False, True]
    assert_remote_is_exactly_the_eligible_shifts(world)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_clicks_start_one_run(world):
    eligible_three(world)
    barrier = threading.Barrier(2)
    started = []

    def click():
        try:
            barrier.wait()
            started.append(world.start_run())
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({run.pk for run in started}) == 1
    assert SyncRun.objects.count() == 1


def test_a_storm_of_429_is_waited_out_as_the_remote_asks(world):
    eligible_three(world)
    world.emulator.inject("rate_limit", count=4, method="POST", seconds=0.3)
    run = world.start_run()
    delays = []
    for _ in range(20):
        execution = push.sync_run_execute(run_id=run.pk)
        if execution.retry_in is None:
            break
        delays.append(execution.retry_in)  # delivered again at once: an early delivery
    run.refresh_from_db()
    assert run.state == SyncState.SUCCEEDED
    assert len(delays) == 4
    assert all(delay >= 0.3 for delay in delays)  # never sooner than Retry-After
    assert_remote_is_exactly_the_eligible_shifts(world)


def test_500_then_recovery(world):
    eligible_three(world)
    world.emulator.inject("server_error", count=1, method="POST")
    run = world.start_run()
    first = push.sync_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert first.retry_in is not None
    assert run.state == SyncState.QUEUED
    assert "500" in run.error
    run = run_to_completion(run.pk)
    assert run.state == SyncState.SUCCEEDED
    assert run.error == ""
    assert_remote_is_exactly_the_eligible_shifts(world)


def test_a_remote_down_for_good_fails_the_run_with_a_message(world, settings):
    settings.SYNC_MAX_ATTEMPTS = 3
    eligible_three(world)
    world.emulator.inject("server_error", count=None)
    run = run_to_completion(world.start_run().pk)
    assert run.state == SyncState.FAILED
    assert "Gave up after 3 attempts" in run.error
    assert "safe" in run.error


def test_a_remote_that_stops_answering_is_retried_without_duplicates(world):
    eligible_three(world)
    impatient = PlexxisConnector(world.emulator.base_url, API_KEY, read_timeout=0.3,
                                 policy=remote_address_policy())
    world.emulator.inject("timeout", count=1, method="POST", seconds=1.0)
    run = world.start_run()
    execution = push.sync_run_execute(run_id=run.pk, connector=impatient)
    assert execution.retry_in is not None
    run = run_to_completion(run.pk)
    assert run.state == SyncState.SUCCEEDED
    assert_remote_is_exactly_the_eligible_shifts(world)


def test_worker_killed_after_recording_the_intent_before_calling_the_remote(world, monkeypatch):
    eligible_three(world)
    run = world.start_run()
    connector = connector_for(world.integration)
    calls = {"n": 0}
    original_create = connector.create_entry

    def die_before_sending(entry):
        calls["n"] += 1
        if calls["n"] == 2:
            raise SimulatedCrash
        return original_create(entry)

    monkeypatch.setattr(connector, "create_entry", die_before_sending)
    with pytest.raises(SimulatedCrash):
        push.sync_run_execute(run_id=run.pk, connector=connector)
    monkeypatch.undo()
    assert len(world.remote_entries()) == 1
    assert ExternalRecord.objects.filter(state=RecordState.PENDING_CREATE).count() == 1

    SyncRun.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now() - timezone.timedelta(hours=1)
    )
    recovery.sync_runs_recover()
    run = run_to_completion(run.pk)
    assert run.state == SyncState.SUCCEEDED
    assert_remote_is_exactly_the_eligible_shifts(world)
