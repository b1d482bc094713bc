"""A write whose answer was lost is not sent again until the remote can no longer apply it, and
every run ends with a read-back that removes what the ledger does not hold."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.base import TimecardEntry
from connectors.plexxis.client import PlexxisConnector
from timesync.models import ExternalRecord, RecordState, SyncRun, SyncState
from timesync.sync import push
from timesync.sync.remotes import remote_address_policy

from .conftest import API_KEY, run_to_completion

pytestmark = pytest.mark.django_db


def wait_until(condition, what: str, timeout: float = 30) -> None:
    """Wait for something the emulator does on its own thread (a held request landing)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def impatient_connector(world) -> PlexxisConnector:
    """The real connector, giving up after 0.3 s instead of 30 s (a scaled-down clock)."""
    return PlexxisConnector(world.emulator.base_url, API_KEY, read_timeout=0.3,
                            policy=remote_address_policy())


def test_a_write_the_remote_applies_after_we_gave_up_is_adopted_not_sent_twice(world, settings):
    settings.SYNC_REMOTE_REQUEST_LIFETIME_SECONDS = 60
    shift = world.shift("ana")
    world.emulator.inject("apply_late", count=1, method="POST", seconds=1.0)
    run = world.start_run()

    first = push.sync_run_execute(run_id=run.pk, connector=impatient_connector(world))
    assert first.retry_in >= 60  # come back once the remote can no longer apply it
    record = ExternalRecord.objects.get(shift=shift)
    assert record.state == RecordState.PENDING_CREATE

    # Delivered again early (a duplicate message, an impatient retry): nothing is sent.
    SyncRun.objects.filter(pk=run.pk).update(state=SyncState.QUEUED)
    early = push.sync_run_execute(run_id=run.pk, connector=impatient_connector(world))
    assert early.retry_in > 0
    wait_until(lambda: len(world.emulator.entries()) == 1, "the held create to land")
    assert world.emulator.request_count("POST") == 1  # the early delivery sent nothing

    # The lifetime has passed since the write was sent: now "not found" would mean "never".
    ExternalRecord.objects.filter(pk=record.pk).update(
        attempt_started_at=timezone.now() - timedelta(seconds=61))
    finished = run_to_completion(run.pk)
    assert finished.state == SyncState.SUCCEEDED
    assert finished.created_count == 1
    assert world.emulator.request_count("POST") == 1
    assert len(world.emulator.entries()) == 1
    assert ExternalRecord.objects.get(pk=record.pk).remote_id == world.emulator.entries()[0]["id"]


def test_a_duplicate_carrying_our_key_is_removed_by_the_read_back(world):
    shift = world.shift("ana")
    run_to_completion(world.start_run().pk)
    record = ExternalRecord.objects.get(shift=shift)
    held = world.emulator.entries()[0]
    # What a write applied after a takeover leaves: a second entry with one of our keys.
    duplicate = impatient_connector(world).create_entry(TimecardEntry(
        idempotency_key=record.idempotency_key, worker_remote_id=held["employee_code"],
        project_remote_id=held["job_number"], cost_code_remote_id=held["cost_code"],
        work_date=record.work_date, hours=record.hours, time_type="regular",
    ))
    hand_entry = impatient_connector(world).create_entry(TimecardEntry(
        idempotency_key="typed-in-plexxis-by-hand", worker_remote_id=held["employee_code"],
        project_remote_id=held["job_number"], cost_code_remote_id=None,
        work_date=record.work_date, hours=record.hours, time_type="regular",
    ))

    run = run_to_completion(world.start_run().pk)

    remaining = {e["id"] for e in world.emulator.entries()}
    assert remaining == {held["id"], hand_entry.remote_id}
    assert duplicate.remote_id not in remaining
    assert any("duplicate" in warning for warning in run.warnings)


def test_a_rate_limited_write_is_sent_again_without_waiting_out_the_lifetime(world, settings):
    settings.SYNC_REMOTE_REQUEST_LIFETIME_SECONDS = 600
    world.shift("ana")
    world.emulator.inject("rate_limit", count=1, method="POST", seconds=1)
    run = world.start_run()
    first = push.sync_run_execute(run_id=run.pk)
    assert 1 <= first.retry_in < 600  # a 429 is refused before any work: nothing in flight
    finished = run_to_completion(run.pk)
    assert finished.state == SyncState.SUCCEEDED
    references = Counter(e["external_reference"] for e in world.emulator.entries())
    assert list(references.values()) == [1]
