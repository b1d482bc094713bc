"""The integration's logs pages: every run a "Timecard Sync" line with its project, day,
outcome and counts; a run's page with its lines and warnings; the CSV download. A project
manager sees only their projects' runs."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests import factories
from tests.dashboard.helpers import visible_text
from tests.timesync.sync import conftest as sync_world
from timesync.models import Role, SyncState

pytestmark = pytest.mark.django_db

# The sync engine's world (a live Plexxis emulator, a linked project, workers ana, ben and an
# unknown cy), shared with the engine's tests.
emulator = sync_world.emulator
world = sync_world.world
WORK_DATE = sync_world.WORK_DATE


def logs_url(world) -> str:
    return f"/o/{world.project.organization.slug}/integrations/{world.integration.pk}/logs/"


def run_url(world, run, suffix: str = "") -> str:
    return f"{logs_url(world)}{run.pk}/{suffix}"


def rows_of(content: bytes) -> list[str]:
    """The visible text of each row of the page's table body."""
    body = re.search(rb"<tbody>(.*?)</tbody>", content, flags=re.S)
    assert body, "no table on the page"
    return [visible_text(row) for row in re.findall(rb"<tr>.*?</tr>", body.group(1), re.S)]


@pytest.fixture
def synced_day(world):
    """June 3 of King Street Tower synced: Ana and Ben sent, Cy skipped, and 4 hours someone
    typed into Plexxis by hand."""
    world.shift("ana")
    world.shift("ben", start_hour=6, hours=10.5)
    world.shift("cy")
    world.emulator.seed(entries=[{
        "employee_code": "1002", "job_number": "24-101", "work_date": WORK_DATE.isoformat(),
        "hours": "4.00", "hour_type": "Regular", "external_reference": "", "notes": "by hand",
    }])
    run = sync_world.run_to_completion(world.start_run().pk)
    assert run.state == SyncState.SUCCEEDED_WITH_WARNINGS
    return run


@pytest.fixture
def parkade_run(world):
    """A run of another project, Harbour Parkade (not linked: it fails and says so)."""
    parkade = factories.ProjectFactory(organization=world.project.organization, code="24-102",
                                       name="Harbour Parkade")
    run = sync_world.run_to_completion(world.start_run(project=parkade).pk)
    assert run.state == SyncState.FAILED
    return run


# --- The logs page --------------------------------------------------------------------------


def test_the_logs_page_lists_a_run_as_a_timecard_sync_with_its_outcome_and_counts(
    browser_client, world, synced_day
):
    response = browser_client(world.payroll).get(logs_url(world))

    assert response.status_code == 200
    (row,) = rows_of(response.content)
    assert row.startswith("Timecard Sync 24-101 King Street Tower Jun 3, 2026 API")
    assert "Succeeded with warnings" in row
    assert row.endswith("2 0 0 1 Download")  # created, updated, deleted, skipped


def test_the_logs_page_says_who_started_the_run(browser_client, world, synced_day):
    response = browser_client(world.admin).get(logs_url(world))
    assert str(world.payroll.user) in rows_of(response.content)[0]


def test_the_logs_page_links_each_run_to_its_csv(browser_client, world, synced_day):
    response = browser_client(world.payroll).get(logs_url(world))
    assert re.search(
        rf'href="{re.escape(run_url(world, synced_day, "csv/"))}"[^>]*>\s*Download',
        response.content.decode(),
    )


def test_the_logs_page_lists_the_newest_run_first(browser_client, world, synced_day,
                                                  parkade_run):
    response = browser_client(world.payroll).get(logs_url(world))
    rows = rows_of(response.content)
    assert [row.split(" Jun")[0] for row in rows] == [
        "Timecard Sync 24-102 Harbour Parkade", "Timecard Sync 24-101 King Street Tower"]
    assert "Failed" in rows[0]


def test_the_logs_page_of_an_integration_without_runs_says_so(browser_client, world):
    response = browser_client(world.payroll).get(logs_url(world))
    assert "No sync yet" in visible_text(response.content)


# --- A run's page ---------------------------------------------------------------------------


def test_a_runs_page_shows_each_line(browser_client, world, synced_day):
    response = browser_client(world.payroll).get(run_url(world, synced_day))

    assert response.status_code == 200
    lines = rows_of(response.content)
    assert len(lines) == 3
    assert lines[0].startswith("Ana Silva 1001 Created 8.00 TE-")
    assert lines[1].startswith("Ben Okafor 1002 Created 10.00 TE-")
    assert lines[2].startswith("Cy Unknown 9999 Skipped 8.00 —")
    assert "Worker Cy Unknown (employee #9999) was not found in Plexxis." in lines[2]


def test_a_runs_page_shows_its_outcome_counts_and_warnings(browser_client, world, synced_day):
    text = visible_text(browser_client(world.payroll).get(run_url(world, synced_day)).content)

    assert "Timecard Sync 24-101 King Street Tower · Wednesday, Jun 3, 2026" in text
    assert "Succeeded with warnings" in text
    assert "2 created, 0 updated, 0 deleted, 0 unchanged, 1 skipped" in text
    assert "Plexxis V2 holds 22.00 hours for this job and day; Timesync sent 18.00." in text


def test_a_failed_runs_page_says_why(browser_client, world, parkade_run):
    text = visible_text(browser_client(world.payroll).get(run_url(world, parkade_run)).content)
    assert "Failed" in text
    assert "not linked" in text


# --- The CSV --------------------------------------------------------------------------------


def test_the_csv_downloads_with_a_row_per_line_and_per_warning(browser_client, world,
                                                               synced_day):
    response = browser_client(world.payroll).get(run_url(world, synced_day, "csv/"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["Worker"], row["Outcome"]) for row in table] == [
        ("Ana Silva", "created"), ("Ben Okafor", "created"), ("Cy Unknown", "skipped"),
        ("", "warning"),
    ]


# --- Project managers -----------------------------------------------------------------------


@pytest.fixture
def tower_manager(world):
    manager = factories.MembershipFactory(organization=world.project.organization,
                                          role=Role.PROJECT_MANAGER)
    manager.assigned_projects.add(world.project)
    return manager


def test_a_project_manager_sees_only_their_projects_runs(browser_client, world, synced_day,
                                                         parkade_run, tower_manager):
    response = browser_client(tower_manager).get(logs_url(world))

    rows = rows_of(response.content)
    assert len(rows) == 1
    assert "King Street Tower" in rows[0]
    assert "Harbour Parkade" not in response.content.decode()


def test_a_project_manager_opening_another_projects_run_gets_404(browser_client, world,
                                                                  parkade_run, tower_manager):
    response = browser_client(tower_manager).get(run_url(world, parkade_run))
    assert response.status_code == 404


def test_a_project_manager_downloading_another_projects_csv_gets_404(browser_client, world,
                                                                      parkade_run,
                                                                      tower_manager):
    response = browser_client(tower_manager).get(run_url(world, parkade_run, "csv/"))
    assert response.status_code == 404


def test_a_project_manager_opens_their_own_projects_run(browser_client, world, synced_day,
                                                        tower_manager):
    response = browser_client(tower_manager).get(run_url(world, synced_day))
    assert response.status_code == 200


def test_a_run_of_another_organization_is_not_found(browser_client, world, synced_day):
    outsider = factories.MembershipFactory(role=Role.ADMIN)
    response = browser_client(outsider).get(run_url(world, synced_day))
    assert response.status_code == 404
