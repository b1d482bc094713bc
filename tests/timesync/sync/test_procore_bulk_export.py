"""A day's new entries reach Procore through its bulk create, a batch per request, with each
entry's own outcome, exactly once: against the Procore emulator over HTTP, through the engine
(every request is checked against the OpenAPI subset by the emulator fixture)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from connectors.procore.client import BULK_CREATE_MAX
from tests import factories
from tests.connectors.procore.fixtures import COMPANY_ID, PROJECT_ID
from timesync import services
from timesync.models import MatchField, Shift, SyncState, Worker, WorkerLink

from .test_procore_export import TORONTO, WORK_DATE, ProcoreWorld, procore_emulator, world

__all__ = ["procore_emulator", "world"]
pytestmark = pytest.mark.django_db

BULK = "/timesheets"  # POST /rest/v1.0/companies/{company_id}/timesheets
SINGLE = f"/projects/{PROJECT_ID}/timecard_entries"
CREW_PARTY_IDS = 9_150_000_000
NOBODY_IN_PROCORE = "9159999999"


def crew(world: ProcoreWorld, size: int) -> list[Worker]:
    """`size` workers of ours, each a Procore employee of the company, linked."""
    organization = world.project.organization
    world.emulator.seed(people=[
        {"id": CREW_PARTY_IDS + n, "company_id": COMPANY_ID, "first_name": "Crew",
         "last_name": f"Member {n:04d}", "employee_id": f"C{n:04d}"} for n in range(size)])
    workers = []
    for n in range(size):
        worker = factories.WorkerFactory(organization=organization, name=f"Crew Member {n:04d}",
                                         employee_number=f"C{n:04d}")
        WorkerLink.objects.create(organization=organization, integration=world.integration,
                                  worker=worker, remote_worker_id=str(CREW_PARTY_IDS + n),
                                  matched_by=MatchField.EMPLOYEE_NUMBER)
        workers.append(worker)
    return workers


def whole_day(world: ProcoreWorld, worker: Worker) -> Shift:
    """07:00 to 15:30 with a 30-minute break: 8.00 hours, whole hours the bulk create carries."""
    start = datetime(WORK_DATE.year, WORK_DATE.month, WORK_DATE.day, 7, tzinfo=TORONTO)
    return services.shift_create(actor=world.payroll, worker=worker, project=world.project,
                                 start=start, end=start + timedelta(hours=8.5),
                                 break_minutes=30, cost_code=world.cost_code)


def entries_per_key(world: ProcoreWorld) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in world.emulator.entries(include_deleted=True):
        counts[entry["origin_data"]] = counts.get(entry["origin_data"], 0) + 1
    return counts


def test_a_day_of_new_shifts_is_created_in_bulk_requests_of_at_most_the_batch_size(world):
    shifts = [whole_day(world, worker) for worker in crew(world, BULK_CREATE_MAX + 5)]

    run = world.sync()

    assert run.state == SyncState.SUCCEEDED
    assert run.created_count == len(shifts) == len(world.emulator.entries())
    assert world.emulator.request_count("POST", BULK) == 2  # 25, then 5
    assert world.emulator.request_count("POST", SINGLE) == 0
    assert set(entries_per_key(world).values()) == {1}
    assert {e["hours"] for e in world.emulator.entries()} == {"8.00"}


def test_an_entry_procore_refuses_in_a_batch_is_a_warning_naming_the_worker_and_the_others_arrive(
        world):
    workers = crew(world, 4)
    WorkerLink.objects.filter(worker=workers[2]).update(remote_worker_id=NOBODY_IN_PROCORE)
    for worker in workers:
        whole_day(world, worker)

    run = world.sync()

    assert run.state == SyncState.SUCCEEDED_WITH_WARNINGS
    assert (run.created_count, run.skipped_count) == (3, 1)
    skipped = run.entries.get(outcome="skipped")
    assert skipped.worker_name == "Crew Member 0002"
    assert "party_id" in skipped.message
    assert WORK_DATE.isoformat() in skipped.message
    assert "{" not in skipped.message  # Procore's words, not its JSON
    assert sorted(e["party"]["id"] for e in world.emulator.entries()) == [
        CREW_PARTY_IDS, CREW_PARTY_IDS + 1, CREW_PARTY_IDS + 3]
    # The refused batch named its entry: the three others went again together.
    assert world.emulator.request_count("POST", BULK) == 2
    assert world.emulator.request_count("POST", SINGLE) == 0


def test_a_lost_answer_to_a_bulk_create_reconciles_every_entry_without_a_duplicate(world):
    shifts = [whole_day(world, worker) for worker in crew(world, 6)]
    world.emulator.inject("lose_response", count=1, method="POST", path_contains=BULK)

    run = world.sync()

    assert run.state == SyncState.SUCCEEDED
    assert run.created_count == len(shifts)
    assert world.emulator.request_count("POST", BULK) == 1  # found by key, never sent again
    assert len(world.emulator.entries(include_deleted=True)) == len(shifts)
    assert set(entries_per_key(world).values()) == {1}
    assert run.hours_sent == run.hours_remote


def test_fractional_hours_go_one_by_one_beside_a_bulk_of_whole_hours(world):
    workers = crew(world, 3)
    for worker in workers[:2]:
        whole_day(world, worker)
    start = datetime(WORK_DATE.year, WORK_DATE.month, WORK_DATE.day, 7, tzinfo=TORONTO)
    services.shift_create(actor=world.payroll, worker=workers[2], project=world.project,
                          start=start, end=start + timedelta(hours=8), break_minutes=30,
                          cost_code=world.cost_code)

    run = world.sync()

    assert run.state == SyncState.SUCCEEDED
    assert sorted(e["hours"] for e in world.emulator.entries()) == ["7.50", "8.00", "8.00"]
    assert world.emulator.request_count("POST", BULK) == 1
    assert world.emulator.request_count("POST", SINGLE) == 1


def test_creates_begun_beside_an_update_that_stopped_the_attempt_are_sent_next_time_at_once(
        world, settings):
    # A write whose answer was lost waits out the request lifetime before it is looked up; a
    # create begun in the same batch but never sent must not wait with it.
    settings.SYNC_REMOTE_REQUEST_LIFETIME_SECONDS = 90
    workers = crew(world, 3)
    edited = whole_day(world, workers[0])
    world.sync()
    services.shift_update(actor=world.payroll, shift=edited, break_minutes=60)
    for worker in workers[1:]:
        whole_day(world, worker)
    # The update meets 429s past the waits one call makes (refused before any work): the
    # attempt stops before the creates are sent.
    world.emulator.inject("rate_limit", count=6, method="PATCH", seconds=0.1)

    run = world.sync()

    assert run.state == SyncState.SUCCEEDED, run.error
    assert (run.created_count, run.updated_count) == (2, 1)
    assert sorted(e["hours"] for e in world.emulator.entries()) == ["7.50", "8.00", "8.00"]
    assert set(entries_per_key(world).values()) == {1}
