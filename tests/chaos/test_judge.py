"""The chaos judge sees what it must: a trial that left a duplicate, a loss, wrong hours, a
rejected shift in the remote or a run whose counts are not its log lines is not clean; two-way
with Procore, an entry entered there that never became a shift of ours, or a deletion made
there that our shifts ignore, is not clean either. Fast, in-process (no workers), part of
`make test`: a judge that sees nothing would make every chaos run green."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import requests

from timesync import services
from timesync.models import InboundEvent, InboundState, Integration, SyncRun, SyncTrigger
from timesync.sync import procore_receive, push
from timesync.sync import runs as sync_runs

from .stack import CountingEmulator, CountingProcoreEmulator
from .world import (
    API_KEY,
    KNOWN,
    PARTIES,
    PROCORE_PROJECT,
    ProcoreAction,
    World,
    build_world,
    judge,
    now,
    procore_reconnect_if_needed,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def emulator() -> Iterator[CountingEmulator]:
    emulator = CountingEmulator(api_key=API_KEY)
    emulator.start()
    yield emulator
    emulator.stop()


def _sync_every_day(world: World) -> World:
    for day in world.days:
        run = sync_runs.sync_run_start(integration=world.integration, project=world.project,
                                       work_date=day, trigger=SyncTrigger.API,
                                       actor=world.payroll).run
        push.sync_run_execute(run_id=run.pk)
    return world


@pytest.fixture
def synced(emulator) -> World:
    """A trial's world with every day synced, in this process, with nothing broken."""
    return _sync_every_day(build_world(emulator, random.Random("judge")))


@pytest.fixture
def procore_emulator() -> Iterator[CountingProcoreEmulator]:
    emulator = CountingProcoreEmulator()
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def two_way(procore_emulator, live_server, settings) -> World:
    """A Procore trial's world, direction both (webhooks reach the live server), every day
    synced in this process with nothing broken."""
    settings.SITE_URL = live_server.url
    world = build_world(procore_emulator, random.Random("judge"), direction="both")
    return _sync_every_day(world)


def _receive(world: World) -> None:
    """What the workers would do with the webhooks delivered so far."""
    world.emulator.wait_for_deliveries()
    for event in InboundEvent.objects.filter(integration=world.integration,
                                             state=InboundState.PENDING):
        procore_receive.inbound_event_process(event_id=event.pk)


def _entered_in_procore(world: World) -> dict:
    entry = world.emulator.create_in_procore(
        PROCORE_PROJECT, party_id=PARTIES[KNOWN[0][0]], date=world.days[0].isoformat(),
        hours="6.25")
    world.procore_actions.append(ProcoreAction("create", entry["id"], now()))
    return entry


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


def test_a_two_way_procore_trial_with_nothing_broken_is_judged_clean(two_way):
    _entered_in_procore(two_way)
    _receive(two_way)

    verdict = judge(two_way)

    assert (verdict.duplicates, verdict.losses, verdict.wrong) == (0, 0, 0), verdict.notes
    assert len(_sent(two_way)) > 1, "the world sends something, or the other tests prove nothing"


def test_an_entry_entered_in_procore_that_never_became_a_shift_is_a_loss(two_way):
    two_way.emulator.inject_delivery("drop")
    _entered_in_procore(two_way)
    _receive(two_way)

    assert judge(two_way).losses == 1


def test_a_procore_deletion_our_shifts_ignore_is_wrong(two_way):
    entry = _sent(two_way)[0]
    shift_id = int(entry["origin_data"].split("-")[3])
    two_way.emulator.inject_delivery("drop")
    two_way.emulator.delete_in_procore(entry["id"])
    two_way.procore_actions.append(ProcoreAction("delete", entry["id"], now(), shift_id))
    _receive(two_way)

    assert judge(two_way).wrong == 1


def test_a_procore_entry_of_ours_written_twice_is_a_duplicate(two_way):
    entry = _sent(two_way)[0]
    two_way.emulator.seed(entries=[{
        "project_id": PROCORE_PROJECT, "party_id": entry["party"]["id"], "date": entry["date"],
        "hours": entry["hours"], "origin_id": entry["origin_id"],
        "origin_data": entry["origin_data"]}])

    assert judge(two_way).duplicates == 1


def test_procore_hours_our_shift_does_not_say_are_wrong(two_way):
    entry = _sent(two_way)[0]
    two_way.emulator.inject_delivery("drop")
    two_way.emulator.edit_in_procore(entry["id"], hours="0.25")
    _receive(two_way)

    assert judge(two_way).wrong == 1


def test_a_lost_procore_grant_is_connected_again_as_an_admin_would(two_way):
    # A worker killed between Procore's answer to a refresh and its commit loses the grant
    # (single-use refresh tokens): the trial reconnects, then its clean syncs must go through.
    Integration.objects.filter(pk=two_way.integration.pk).update(
        reconnect_reason="Procore no longer accepts this connection's authorization")
    two_way.emulator.expire_access_tokens()

    assert procore_reconnect_if_needed(two_way)
    assert procore_reconnect_if_needed(two_way) is None
    _sync_every_day(two_way)
    assert all(run.state != "failed" for run in two_way.runs())
