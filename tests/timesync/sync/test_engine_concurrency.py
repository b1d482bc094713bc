"""Two runs, or two workers, meeting on the same ledger records: real threads at a barrier or an
event, never a sleep. Whatever the interleaving, the remote ends up holding each eligible shift
exactly once, and the ledger says where."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from timesync import services
from timesync.models import ExternalRecord, RecordState, SyncLogEntry, SyncRun, SyncState
from timesync.sync import push
from timesync.sync.engine import RunEngine
from timesync.sync.remotes import connector_for

from .conftest import WORK_DATE, run_to_completion

pytestmark = pytest.mark.django_db(transaction=True)
NEXT_DAY = WORK_DATE + timedelta(days=1)


def in_thread(target, *args, **kwargs) -> threading.Thread:
    def body():
        try:
            target(*args, **kwargs)
        finally:
            connection.close()

    thread = threading.Thread(target=body)
    thread.start()
    return thread


def entries_by_key(world) -> Counter:
    return Counter(e["external_reference"] for e in world.emulator.entries())


def test_a_shift_moved_to_the_next_day_is_sent_once_when_both_days_sync_at_once(
    world, monkeypatch
):
    shift = world.shift("ana")
    run_to_completion(world.start_run().pk)
    services.shift_update(actor=world.payroll, shift=shift, start=shift.start + timedelta(days=1),
                          end=shift.end + timedelta(days=1))
    monday, tuesday = world.start_run(WORK_DATE), world.start_run(NEXT_DAY)

    # Monday's run reads the ledger (the entry is on Monday: delete it), then Tuesday's run
    # moves the entry to Tuesday before Monday's run writes anything.
    monday_planned, tuesday_done = threading.Event(), threading.Event()
    original_plan = RunEngine._plan

    def plan_then_wait_for_tuesday(engine):
        original_plan(engine)
        if engine.run.pk == monday.pk and not monday_planned.is_set():
            monday_planned.set()
            assert tuesday_done.wait(timeout=60)

    monkeypatch.setattr(RunEngine, "_plan", plan_then_wait_for_tuesday)
    monday_thread = in_thread(push.sync_run_execute, run_id=monday.pk)
    assert monday_planned.wait(timeout=30)
    assert run_to_completion(tuesday.pk).state == SyncState.SUCCEEDED
    tuesday_done.set()
    monday_thread.join(timeout=60)
    monkeypatch.undo()
    assert run_to_completion(monday.pk).state == SyncState.SUCCEEDED

    assert world.remote_entries(WORK_DATE) == []
    tuesday_entries = world.remote_entries(NEXT_DAY)
    assert len(tuesday_entries) == 1
    record = ExternalRecord.objects.get(shift=shift)
    assert (record.state, record.work_date, record.remote_id) == (
        RecordState.SYNCED, NEXT_DAY, tuesday_entries[0]["id"])

    # And the next sync of Tuesday finds it there: nothing is created a second time.
    run_to_completion(world.start_run(NEXT_DAY).pk)
    assert len(world.remote_entries(NEXT_DAY)) == 1


def test_a_frozen_worker_that_wakes_after_its_run_was_taken_over_leaves_no_trace(world):
    for name in ("ana", "ben"):
        world.shift(name)
    run = world.start_run()
    frozen_connector = connector_for(world.integration)
    inside_the_call, wake_up = threading.Event(), threading.Event()
    original_create = frozen_connector.create_entry

    def freeze_before_sending(entry):
        if not inside_the_call.is_set():
            inside_the_call.set()
            assert wake_up.wait(timeout=60)  # SIGSTOP, in effect: the run looks dead meanwhile
        return original_create(entry)

    frozen_connector.create_entry = freeze_before_sending
    results = []
    frozen = in_thread(lambda: results.append(
        push.sync_run_execute(run_id=run.pk, connector=frozen_connector)))
    assert inside_the_call.wait(timeout=30)

    # Past the stale window, another worker takes the run over and finishes it.
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    finished = run_to_completion(run.pk)
    assert finished.state == SyncState.SUCCEEDED

    wake_up.set()  # the frozen worker sends its create after all
    frozen.join(timeout=60)
    assert results[0].claimed
    assert results[0].retry_in is None

    keys = entries_by_key(world)
    assert sorted(keys.values()) == [1, 1], keys
    synced = ExternalRecord.objects.filter(integration=world.integration, state=RecordState.SYNCED)
    assert sorted(r.remote_id for r in synced) == sorted(e["id"] for e in world.remote_entries())
    lines = SyncLogEntry.objects.filter(run=run)
    assert sorted(lines.values_list("worker_name", flat=True)) == ["Ana Silva", "Ben Okafor"]
    finished.refresh_from_db()
    assert finished.created_count == 2
    assert finished.state == SyncState.SUCCEEDED


def test_two_runs_reaching_the_same_record_never_write_over_each_other(world):
    """The compare-and-set itself: a record changed since it was read refuses the write."""
    from timesync.sync import ledger, runs

    shift = world.shift("ana")
    run_to_completion(world.start_run().pk)
    stale_copy = ExternalRecord.objects.get(shift=shift)
    fresh_copy = ExternalRecord.objects.get(shift=shift)
    run = world.start_run()
    fence = runs.claim(run.pk).fence
    ledger.op_begin_delete(fence=fence, record=fresh_copy)
    with pytest.raises(ledger.Conflict):
        ledger.op_begin_delete(fence=fence, record=stale_copy)
    assert ExternalRecord.objects.get(shift=shift).revision == stale_copy.revision + 1


def test_a_write_completed_by_a_worker_that_lost_its_run_is_still_in_the_runs_log(
    world, settings
):
    settings.SYNC_REMOTE_REQUEST_LIFETIME_SECONDS = 60
    world.shift("ana")
    run = world.start_run()
    frozen_connector = connector_for(world.integration)
    sent, wake_up = threading.Event(), threading.Event()
    original_create = frozen_connector.create_entry

    def freeze_after_sending(entry):
        created = original_create(entry)
        sent.set()
        assert wake_up.wait(timeout=60)  # frozen between the remote's answer and our record
        return created

    frozen_connector.create_entry = freeze_after_sending
    frozen = in_thread(push.sync_run_execute, run_id=run.pk, connector=frozen_connector)
    assert sent.wait(timeout=30)

    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    takeover = push.sync_run_execute(run_id=run.pk)
    assert takeover.retry_in > 50  # the write in flight may still land: it waits, sends nothing
    wake_up.set()
    frozen.join(timeout=60)

    finished = run_to_completion(run.pk)
    assert finished.state == SyncState.SUCCEEDED
    assert finished.created_count == 1
    assert len(world.remote_entries()) == 1
    line = SyncLogEntry.objects.get(run=run)
    assert line.outcome == "created"
    assert line.remote_id == world.remote_entries()[0]["id"]
