"""The chaos judge sees what it must: a trial that left a duplicate, a loss, wrong hours, a
rejected shift in the remote or a run whose counts are not its log lines is not clean. Fast,
in-process (no workers), part of `make test`: a judge that sees nothing would make every
chaos run green."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import requests

from timesync import services
from timesync.models import SyncRun, SyncTrigger
from timesync.sync import push
from timesync.sync import runs as sync_runs

from .stack import CountingEmulator
from .world import API_KEY, World, build_world, judge

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def emulator() -> Iterator[CountingEmulator]:
    emulator = CountingEmulator(api_key=API_KEY)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def synced(emulator) -> World:
    """A trial's world with every day synced, in this process, with nothing broken."""
    world = build_world(emulator, random.Random("judge"))
    for day in world.days:
        run = sync_runs.sync_run_start(integration=world.integration, project=world.project,
                                       work_date=day, trigger=SyncTrigger.API,
                                       actor=world.payroll).run
        push.sync_run_execute(run_id=run.pk)
    return world


def _remote(world: World, method: str, entry: dict, **body) -> None:
    response = requests.request(
        method, f"{world.emulator.base_url}/timecard-entries/{entry['id']}",
        headers={"X-API-Key": API_KEY}, json=body or None, timeout=5,
    )
    response.raise_for_status()


def _sent(world: World) -> list[dict]:
    return sorted(world.emulator.entries(), key=lambda entry: entry["id"])


def test_a_clean_sync_is_judged_clean(synced):
    verdict = judge(synced)

    assert (verdict.duplicates, verdict.losses, verdict.wrong) == (0, 0, 0), verdict.notes
    assert _sent(synced), "the world sends something, or the other tests prove nothing"


def test_an_entry_written_twice_is_a_duplicate(synced):
    entry = _sent(synced)[0]
    synced.emulator.seed(entries=[{k: v for k, v in entry.items()
                                   if k not in ("id", "created_at", "updated_at")}])

    assert judge(synced).duplicates == 1


def test_an_eligible_shift_missing_from_the_remote_is_a_loss(synced):
    _remote(synced, "DELETE", _sent(synced)[0])

    assert judge(synced).losses == 1


def test_wrong_hours_in_the_remote_are_wrong(synced):
    _remote(synced, "PATCH", _sent(synced)[0], hours="0.25")

    assert judge(synced).wrong == 1


def test_a_rejected_shift_left_in_the_remote_is_wrong(synced):
    reference = _sent(synced)[0]["external_reference"]
    shift = next(s for s in synced.shifts() if reference.endswith(f"-{s.pk}-1"))
    services.shift_decide(actor=synced.payroll, shift=shift, approve=False, reason="No")

    assert judge(synced).wrong == 1


def test_run_counts_that_are_not_its_log_lines_are_wrong(synced):
    SyncRun.objects.filter(pk=synced.runs()[0].pk).update(created_count=99)

    assert judge(synced).wrong == 1
