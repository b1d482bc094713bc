"""A Procore project set up for start and stop times gets time_in, time_out and the lunch break
rather than hours: the engine learns which projects those are from the catalog, as the last
fetch of references kept it (no request per run). Against the emulator over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests import factories
from tests.connectors.procore.fixtures import START_STOP_PROJECT_ID
from timesync import services
from timesync.models import CatalogItem, Shift, SyncState
from timesync.sync import remotes
from timesync.sync import runs as sync_runs
from timesync.sync import services as sync_services

from .conftest import run_to_completion
from .test_procore_export import TORONTO, WORK_DATE, ProcoreWorld, procore_emulator, world

__all__ = ["procore_emulator", "world"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def transit(world: ProcoreWorld):
    """Our project 24-102, linked by the catalog fetch to Procore's start/stop project."""
    project = factories.ProjectFactory(organization=world.project.organization, code="24-102",
                                       name="Transit Facility")
    admin = world.integration.organization.memberships.get(role="admin")
    sync_services.integration_refresh_links(actor=admin, integration=world.integration)
    assert world.integration.project_links.get(project=project).remote_project_id == \
        str(START_STOP_PROJECT_ID)
    return project


def shift(world: ProcoreWorld, project, name: str, *, start_hour: int, minutes: int,
          break_minutes: int) -> Shift:
    start = datetime(WORK_DATE.year, WORK_DATE.month, WORK_DATE.day, start_hour,
                     tzinfo=TORONTO)
    return services.shift_create(actor=world.payroll, worker=world.workers[name],
                                 project=project, start=start,
                                 end=start + timedelta(minutes=minutes),
                                 break_minutes=break_minutes, cost_code=world.cost_code)


def sync(world: ProcoreWorld, project):
    run = sync_runs.sync_run_start(integration=world.integration, project=project,
                                   work_date=WORK_DATE, trigger="api", actor=world.payroll).run
    return run_to_completion(run.pk)


def test_the_catalog_keeps_which_procore_projects_take_start_and_stop_times(world, transit):
    projects = CatalogItem.objects.filter(integration=world.integration, kind="project")

    assert {p.remote_id for p in projects if p.start_stop} == {str(START_STOP_PROJECT_ID)}
    assert remotes._start_stop_projects(world.integration) == {str(START_STOP_PROJECT_ID)}


def test_a_start_stop_projects_day_arrives_with_time_in_time_out_and_the_lunch_break(
        world, transit):
    shift(world, transit, "aaron", start_hour=7, minutes=510, break_minutes=30)
    shift(world, transit, "adriana", start_hour=6, minutes=240, break_minutes=0)

    run = sync(world, transit)

    assert run.state == SyncState.SUCCEEDED, run.error or list(run.entries.values("message"))
    entries = {e["party"]["name"]: e for e in world.emulator.entries()}
    assert {e["project"]["id"] for e in entries.values()} == {START_STOP_PROJECT_ID}
    aaron, adriana = entries["Aaron Abbott"], entries["Adriana Alvarez"]
    assert datetime.fromisoformat(aaron["time_in"]) == datetime(2026, 6, 3, 7, tzinfo=TORONTO)
    assert datetime.fromisoformat(aaron["time_out"]) == datetime(2026, 6, 3, 15, 30,
                                                                tzinfo=TORONTO)
    assert (aaron["lunch_time"], aaron["hours"]) == (30, "8.00")  # Procore's own arithmetic
    assert (adriana["lunch_time"], adriana["hours"]) == (0, "4.00")
    assert run.hours_sent == run.hours_remote


def test_a_total_hours_project_of_the_same_integration_still_gets_hours(world, transit):
    world.shift("aaron")

    run = world.sync()

    assert run.state == SyncState.SUCCEEDED
    (entry,) = world.emulator.entries()
    assert (entry["hours"], entry["time_in"], entry["time_out"]) == ("8.00", None, None)
