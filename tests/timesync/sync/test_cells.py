"""The Sync Dashboard's cells: what a payroll admin reads in each (project, day) square before
clicking it. Dash, blue (ready), green (synced), amber (changed since), red (failed), spinner."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories
from timesync import services
from timesync.models import (
    ApprovalState,
    CostCodeLink,
    ExternalRecord,
    RecordState,
    SyncRun,
    SyncState,
    SyncTrigger,
)
from timesync.sync import cells as grid_cells
from timesync.sync import services as sync_services
from timesync.sync.planning import idempotency_key, round_hours

from .conftest import API_KEY, TORONTO, WORK_DATE, run_to_completion

pytestmark = pytest.mark.django_db


def cell_of(world, day=WORK_DATE, project=None) -> grid_cells.Cell:
    project = project or world.project
    cells = grid_cells.sync_cells(integration=world.integration, project_ids=[project.pk],
                                 dates=[day])
    return cells[(project.pk, day)]


def sync(world, day=WORK_DATE):
    run = run_to_completion(world.start_run(day=day).pk)
    assert run.state in (SyncState.SUCCEEDED, SyncState.SUCCEEDED_WITH_WARNINGS), run.error
    return run


# --- Dash and blue --------------------------------------------------------------------------


def test_a_day_without_shifts_is_a_dash(world):
    cell = cell_of(world)
    assert cell.status == "none"
    assert (cell.workers, cell.shifts, cell.hours) == (0, 0, Decimal("0.00"))


def test_a_day_never_synced_is_ready_with_its_distinct_workers_and_hours(world):
    world.shift("ana", start_hour=6, hours=4.5)  # 4.00 paid
    world.shift("ana", start_hour=12, hours=3.5)  # 3.00 paid
    world.shift("ben", hours=8.5)  # 8.00 paid
    cell = cell_of(world)
    assert cell.status == "ready"
    assert cell.workers == 2
    assert cell.shifts == 3
    assert cell.hours == Decimal("15.00")
    assert cell.changes == 3


def test_a_day_on_another_date_is_not_counted_in_this_days_cell(world):
    world.shift("ana", day=WORK_DATE + timedelta(days=1))
    assert cell_of(world).status == "none"
    assert cell_of(world, day=WORK_DATE + timedelta(days=1)).status == "ready"


def test_an_open_shift_does_not_count(world):
    services.shift_create(
        actor=world.payroll, worker=world.workers["ana"], project=world.project,
        start=datetime(2026, 6, 3, 7, tzinfo=TORONTO), end=None, cost_code=world.cost_code,
    )
    cell = cell_of(world)
    assert cell.status == "none"
    assert (cell.workers, cell.shifts) == (0, 0)


def test_an_open_shift_beside_a_closed_one_is_left_out_of_workers_and_hours(world):
    world.shift("ana", hours=8.5)
    services.shift_create(
        actor=world.payroll, worker=world.workers["ben"], project=world.project,
        start=datetime(2026, 6, 3, 7, tzinfo=TORONTO), end=None, cost_code=world.cost_code,
    )
    cell = cell_of(world)
    assert (cell.status, cell.workers, cell.shifts, cell.hours) \
        == ("ready", 1, 1, Decimal("8.00"))


def test_a_rejected_shift_does_not_count(world):
    rejected = world.shift("ana")
    services.shift_decide(actor=world.payroll, shift=rejected, approve=False, reason="no show")
    assert cell_of(world).status == "none"


def test_a_deleted_shift_that_was_never_synced_does_not_count(world):
    shift = world.shift("ana")
    services.shift_delete(actor=world.payroll, shift=shift)
    assert cell_of(world).status == "none"


def test_sync_only_approved_counts_only_approved_shifts(world):
    sync_services.project_link_set(actor=world.payroll, integration=world.integration,
                                   project=world.project, sync_only_approved=True)
    approved = world.shift("ana", hours=8.5)
    services.shift_decide(actor=world.payroll, shift=approved, approve=True)
    world.shift("ben", hours=10.5)  # pending: not sent by this project
    cell = cell_of(world)
    assert cell.status == "ready"
    assert (cell.workers, cell.shifts, cell.hours) == (1, 1, Decimal("8.00"))


def test_sync_only_approved_with_nothing_approved_is_a_dash(world):
    sync_services.project_link_set(actor=world.payroll, integration=world.integration,
                                   project=world.project, sync_only_approved=True)
    world.shift("ana")
    assert cell_of(world).status == "none"


def test_a_shift_of_a_worker_unknown_remotely_counts_as_unsendable(world):
    world.shift("ana")
    world.shift("cy")
    cell = cell_of(world)
    assert cell.status == "ready"
    assert cell.unsendable == 1
    assert cell.workers == 2


def test_a_shift_without_a_cost_code_is_sendable_when_no_cost_code_is_linked(world):
    # The plan sends a shift without a cost code whatever the links; before, the statement
    # took NULL NOT IN (no links) for true and called the shift unsendable.
    CostCodeLink.objects.filter(integration=world.integration).delete()
    world.shift("ana", cost_code=None)
    cell = cell_of(world)
    assert (cell.status, cell.unsendable, cell.changes) == ("ready", 0, 1)


# --- Green and amber ------------------------------------------------------------------------


def test_after_a_successful_run_the_day_is_synced(world):
    world.shift("ana")
    world.shift("ben")
    sync(world)
    cell = cell_of(world)
    assert cell.status == "synced"
    assert cell.changes == 0
    assert (cell.workers, cell.shifts) == (2, 2)


def test_a_day_synced_except_for_its_unknown_worker_is_synced_and_says_who_was_left_out(world):
    world.shift("ana")
    world.shift("cy")
    sync(world)
    cell = cell_of(world)
    assert cell.status == "synced"
    assert (cell.changes, cell.unsendable) == (0, 1)


def test_a_synced_shift_whose_cost_code_is_unknown_remotely_leaves_the_day_synced(world):
    # The run skips it with a warning, as it does an unknown worker: nothing changed since, so
    # the cell must not stay amber ("changed") forever, asking for a sync that sends nothing.
    unknown_code = factories.CostCodeFactory(organization=world.project.organization,
                                             code="99.999", name="Not in Plexxis")
    world.shift("ana")
    world.shift("ben", cost_code=unknown_code)
    run = sync(world)
    assert run.skipped_count == 1
    cell = cell_of(world)
    assert cell.status == "synced"
    assert cell.changes == 0


def test_approving_synced_shifts_then_syncing_again_leaves_the_day_synced(world):
    # The usual week: sync every day, approve on Friday, sync again. The second run sends
    # nothing (approval is not part of the entry), and the cell must come back to green.
    shift = world.shift("ana")
    sync(world)
    services.shift_decide(actor=world.payroll, shift=shift, approve=True)
    run = sync(world)
    assert (run.created_count, run.updated_count, run.unchanged_count) == (0, 0, 1)
    cell = cell_of(world)
    assert cell.status == "synced"
    assert cell.changes == 0


def _edit(world, shift):
    services.shift_update(actor=world.payroll, shift=shift, break_minutes=60)


def _delete(world, shift):
    services.shift_delete(actor=world.payroll, shift=shift)


def _reject(world, shift):
    services.shift_decide(actor=world.payroll, shift=shift, approve=False, reason="no show")


def _add(world, shift):
    world.shift("ben", start_hour=17, hours=3)


@pytest.mark.parametrize("change", [_edit, _delete, _reject, _add],
                         ids=["edited", "deleted", "rejected", "added"])
def test_a_change_after_the_sync_makes_the_day_changed(world, change):
    synced = world.shift("ana")
    world.shift("ben")
    sync(world)
    change(world, synced)
    cell = cell_of(world)
    assert cell.status == "changed"
    assert cell.changes == 1


def test_a_new_shift_without_a_cost_code_makes_a_synced_day_changed(world):
    # A stale green cell is a payroll bug: the new shift has not reached the remote.
    CostCodeLink.objects.filter(integration=world.integration).delete()
    world.shift("ana", cost_code=None)
    sync(world)
    world.shift("ben", cost_code=None)
    cell = cell_of(world)
    assert (cell.status, cell.changes) == ("changed", 1)


def test_changed_counts_every_edit_delete_rejection_and_new_shift(world):
    edited = world.shift("ana")
    deleted = world.shift("ben")
    rejected = world.shift("ana", start_hour=17, hours=3)
    world.shift("ben", start_hour=17, hours=3)  # untouched
    sync(world)
    services.shift_update(actor=world.payroll, shift=edited, notes="poured slab")
    services.shift_delete(actor=world.payroll, shift=deleted)
    services.shift_decide(actor=world.payroll, shift=rejected, approve=False, reason="no show")
    world.shift("cy", start_hour=6, hours=5)  # new, but Plexxis does not know Cy
    world.shift("ben", start_hour=21, hours=2)  # new
    cell = cell_of(world)
    assert cell.status == "changed"
    assert cell.changes == 4
    assert cell.unsendable == 1


def test_syncing_the_changes_makes_the_day_synced_again(world):
    shift = world.shift("ana")
    sync(world)
    services.shift_update(actor=world.payroll, shift=shift, break_minutes=60)
    sync(world)
    assert cell_of(world).status == "synced"


def test_a_synced_day_whose_shifts_are_all_deleted_is_changed_until_synced(world):
    shift = world.shift("ana")
    sync(world)
    services.shift_delete(actor=world.payroll, shift=shift)
    assert (cell_of(world).status, cell_of(world).changes) == ("changed", 1)
    sync(world)
    assert cell_of(world).status in ("none", "synced")
    assert cell_of(world).changes == 0


def test_a_shift_moved_to_the_next_day_changes_the_day_it_left(world):
    shift = world.shift("ana")
    sync(world)
    services.shift_update(actor=world.payroll, shift=shift, start=shift.start + timedelta(days=1),
                          end=shift.end + timedelta(days=1))
    assert (cell_of(world).status, cell_of(world).changes) == ("changed", 1)
    assert cell_of(world, day=WORK_DATE + timedelta(days=1)).status == "ready"


# --- Red and the spinner --------------------------------------------------------------------


def test_a_failed_last_run_makes_the_day_failed_with_the_reason(world):
    sync_services.integration_update(actor=world.admin, integration=world.integration,
                                     credentials={"api_key": "wrong"})
    world.shift("ana")
    run = run_to_completion(world.start_run().pk)
    assert run.state == SyncState.FAILED
    cell = cell_of(world)
    assert cell.status == "failed"
    assert "API key" in cell.error
    assert cell.run_id == run.pk


def test_a_successful_run_after_a_failed_one_clears_the_red(world):
    sync_services.integration_update(actor=world.admin, integration=world.integration,
                                     credentials={"api_key": "wrong"})
    world.shift("ana")
    run_to_completion(world.start_run().pk)
    sync_services.integration_update(actor=world.admin, integration=world.integration,
                                     credentials={"api_key": API_KEY})
    sync(world)
    cell = cell_of(world)
    assert cell.status == "synced"
    assert cell.error == ""


def test_a_queued_run_shows_in_progress(world):
    world.shift("ana")
    run = world.start_run()
    cell = cell_of(world)
    assert cell.status == "in_progress"
    assert (cell.run_id, cell.run_state) == (run.pk, "queued")


# --- The grid's cost ------------------------------------------------------------------------


def _busy_week(world, n_projects: int):
    """`n_projects` linked projects, each with its own crew of three (two known to Plexxis),
    working Monday to Friday; Monday to Wednesday synced, one project's Thursday failed and
    another's queued."""
    organization = world.project.organization
    monday = WORK_DATE - timedelta(days=WORK_DATE.weekday())
    weekdays = [monday + timedelta(days=n) for n in range(5)]
    projects, records, runs, mondays = [], [], [], []
    for n in range(n_projects):
        project = factories.ProjectFactory(organization=organization, code=f"B-{n:03d}",
                                           name=f"Block {n}")
        sync_services.project_link_set(actor=world.admin, integration=world.integration,
                                       project=project, remote_project_id="24-102")
        crew = [factories.WorkerFactory(organization=organization) for _ in range(3)]
        for worker in crew[:2]:
            sync_services.worker_link_set(actor=world.admin, integration=world.integration,
                                          worker=worker, remote_worker_id="1001")
        for day in weekdays:
            for slot, worker in enumerate(crew):
                start = datetime(day.year, day.month, day.day, 6 + slot, tzinfo=TORONTO)
                shift = factories.ShiftFactory(
                    organization=organization, project=project, worker=worker,
                    cost_code=world.cost_code, start=start, end=start + timedelta(hours=8),
                    break_minutes=30,
                    approval_state=ApprovalState.APPROVED if slot else ApprovalState.PENDING,
                )
                if day == monday and slot == 1:
                    mondays.append(shift)
                if day <= WORK_DATE and slot < 2:
                    records.append(ExternalRecord(
                        organization=organization, integration=world.integration, shift=shift,
                        idempotency_key=idempotency_key(world.integration, shift, 1),
                        remote_id=f"TE-{shift.pk}", state=RecordState.SYNCED,
                        payload_hash="x" * 64, project=project, remote_project_id="24-102",
                        work_date=day, shift_version=shift.version,
                        hours=round_hours(shift.paid_seconds, "none"),
                    ))
            if day <= WORK_DATE:
                runs.append(SyncRun(
                    organization=organization, integration=world.integration, project=project,
                    work_date=day, trigger=SyncTrigger.DASHBOARD,
                    state=SyncState.SUCCEEDED_WITH_WARNINGS, created_count=2, skipped_count=1,
                ))
        projects.append(project)
    ExternalRecord.objects.bulk_create(records)
    thursday = weekdays[3]
    runs.append(SyncRun(organization=organization, integration=world.integration,
                        project=projects[0], work_date=thursday, trigger=SyncTrigger.DASHBOARD,
                        state=SyncState.FAILED, error="Plexxis refused the API key (401)."))
    runs.append(SyncRun(organization=organization, integration=world.integration,
                        project=projects[1], work_date=thursday, trigger=SyncTrigger.DASHBOARD,
                        state=SyncState.QUEUED))
    SyncRun.objects.bulk_create(runs)
    # Amber too: a synced shift of each project's Monday edited since.
    for shift in mondays:
        services.shift_update(actor=world.payroll, shift=shift, notes="fixed")
    return projects, grid_cells.week_of(WORK_DATE)


def _queries_for_a_week(world, project_ids, week) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as captured:
        cells = grid_cells.sync_cells(integration=world.integration, project_ids=project_ids,
                                     dates=week)
    return len(captured.captured_queries), cells


def test_a_weeks_cells_cost_the_same_queries_for_5_projects_as_for_50(world):
    projects, week = _busy_week(world, 50)
    few, few_cells = _queries_for_a_week(world, [p.pk for p in projects[:5]], week)
    many, many_cells = _queries_for_a_week(world, [p.pk for p in projects], week)

    assert len(few_cells) == 5 * 7
    assert len(many_cells) == 50 * 7
    statuses = {cell.status for cell in many_cells.values()}
    assert statuses >= {"none", "ready", "synced", "changed", "failed", "in_progress"}
    assert many == few, f"{few} queries for 5 projects, {many} for 50"


def test_a_weeks_cells_of_a_busy_grid_say_what_each_day_holds(world):
    projects, week = _busy_week(world, 5)
    _, cells = _queries_for_a_week(world, [p.pk for p in projects], week)
    monday, tuesday, thursday, saturday = week[0], week[1], week[3], week[5]
    project = projects[2]
    assert cells[(project.pk, tuesday)].status == "synced"
    assert cells[(project.pk, tuesday)].unsendable == 1
    assert cells[(project.pk, tuesday)].workers == 3
    assert cells[(project.pk, monday)].status == "changed"
    assert cells[(project.pk, thursday)].status == "ready"
    assert cells[(project.pk, saturday)].status == "none"
    assert cells[(projects[0].pk, thursday)].status == "failed"
    assert cells[(projects[1].pk, thursday)].status == "in_progress"


def test_a_day_whose_only_workers_are_unknown_remotely_is_green_once_synced(world):
    world.shift("cy")
    run_to_completion(world.start_run().pk)
    cell = grid_cells.sync_cells(integration=world.integration,
                                     project_ids=[world.project.pk],
                                     dates=[WORK_DATE])[(world.project.pk, WORK_DATE)]
    assert (cell.status, cell.unsendable) == ("synced", 1)


# --- The embedded default's cells -----------------------------------------------------------


def test_the_embedded_defaults_cells_agree_with_the_postgresql_query(world, monkeypatch):
    """SQLite (make run) cannot run the cells' PostgreSQL statement; its ORM path must give
    the same cell for every kind of day."""
    parkade = factories.ProjectFactory(organization=world.project.organization, code="24-102")
    sync_services.project_link_set(actor=world.admin, integration=world.integration,
                                   project=parkade, remote_project_id="24-102",
                                   sync_only_approved=True)
    next_day = WORK_DATE + timedelta(days=1)
    moved, deleted, _ = world.shift("ana"), world.shift("ben"), world.shift("cy")
    world.shift("ana", day=next_day, start_hour=17, hours=3)
    sync(world)
    services.shift_update(actor=world.payroll, shift=moved, start=moved.start + timedelta(days=1),
                          end=moved.end + timedelta(days=1))
    services.shift_delete(actor=world.payroll, shift=deleted)
    world.shift("ben", project=parkade)  # pending, on an approved-only project
    SyncRun.objects.create(organization=world.project.organization, integration=world.integration,
                           project=parkade, work_date=WORK_DATE, trigger=SyncTrigger.API,
                           state=SyncState.FAILED, error="Plexxis refused the key.")
    projects, week = [world.project.pk, parkade.pk], grid_cells.week_of(WORK_DATE)

    on_postgresql = grid_cells.sync_cells(integration=world.integration, project_ids=projects,
                                         dates=week)
    monkeypatch.setattr(connection, "vendor", "sqlite")
    portable = grid_cells.sync_cells(integration=world.integration, project_ids=projects,
                                    dates=week)

    assert portable == on_postgresql
    statuses = {cell.status for cell in on_postgresql.values()}
    assert {"none", "changed", "ready", "failed"} <= statuses
