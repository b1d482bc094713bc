"""The detailed CSV log of a run, as a payroll admin downloads it from the logs page and opens
it in a spreadsheet: one row per line, the warnings, nothing a spreadsheet would execute."""

from __future__ import annotations

import csv
import io

import pytest
from django.http import StreamingHttpResponse

from tests import factories
from timesync import services
from timesync.models import SyncLogEntry, SyncOutcome, SyncState
from timesync.sync import services as sync_services

from .conftest import WORK_DATE, run_to_completion

pytestmark = pytest.mark.django_db

HEADER = ["Action", "Integration", "Project", "Timesheet Date", "Worker", "Employee Number",
          "Shift", "Outcome", "Hours", "Remote ID", "Warning"]
FORMULA_STARTS = ("=", "+", "-", "@")


def csv_url(world, run) -> str:
    return (f"/o/{world.project.organization.slug}/integrations/{world.integration.pk}/logs/"
            f"{run.pk}/csv/")


def download(browser_client, world, run):
    response = browser_client(world.payroll).get(csv_url(world, run))
    assert response.status_code == 200, response.status_code
    return response


def parsed(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def as_dicts(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def synced(world):
    return run_to_completion(world.start_run().pk)


def test_the_csv_starts_with_its_header(browser_client, world):
    world.shift("ana")
    table = parsed(download(browser_client, world, synced(world)))
    assert table[0] == HEADER


def test_the_csv_is_a_download_named_after_the_day_and_project(browser_client, world):
    response = download(browser_client, world, synced(world))
    assert response["Content-Type"].startswith("text/csv")
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "2026-06-03" in disposition
    assert "24-101" in disposition


def test_each_log_line_is_one_row_with_its_outcome_hours_and_remote_id(browser_client, world):
    ana = world.shift("ana", hours=8.5)
    ben = world.shift("ben", start_hour=6, hours=10.5)
    run = synced(world)
    assert run.state == SyncState.SUCCEEDED

    table = as_dicts(download(browser_client, world, run))

    remote = {e["employee_code"]: e["id"] for e in world.remote_entries()}
    assert table == [
        {"Action": "Timecard Sync", "Integration": "Plexxis V2",
         "Project": "24-101 King Street Tower", "Timesheet Date": "2026-06-03",
         "Worker": "Ana Silva", "Employee Number": "1001", "Shift": str(ana.pk),
         "Outcome": "created", "Hours": "8.00", "Remote ID": remote["1001"], "Warning": ""},
        {"Action": "Timecard Sync", "Integration": "Plexxis V2",
         "Project": "24-101 King Street Tower", "Timesheet Date": "2026-06-03",
         "Worker": "Ben Okafor", "Employee Number": "1002", "Shift": str(ben.pk),
         "Outcome": "created", "Hours": "10.00", "Remote ID": remote["1002"], "Warning": ""},
    ]


def test_unchanged_updated_and_deleted_lines_say_so(browser_client, world):
    kept = world.shift("ana")
    edited = world.shift("ben")
    gone = world.shift("ana", start_hour=17, hours=3)
    synced(world)
    services.shift_update(actor=world.payroll, shift=edited, break_minutes=60)
    services.shift_delete(actor=world.payroll, shift=gone)

    table = as_dicts(download(browser_client, world, synced(world)))

    outcomes = {row["Shift"]: row["Outcome"] for row in table}
    assert outcomes == {str(kept.pk): "unchanged", str(edited.pk): "updated",
                        str(gone.pk): "deleted"}
    deleted = next(row for row in table if row["Outcome"] == "deleted")
    assert deleted["Warning"] == "Shift deleted in Timesync."


def test_a_skipped_unknown_worker_row_carries_the_warning(browser_client, world):
    world.shift("ana")
    world.shift("cy")

    table = as_dicts(download(browser_client, world, synced(world)))

    skipped = [row for row in table if row["Outcome"] == "skipped"]
    assert len(skipped) == 1
    assert skipped[0]["Worker"] == "Cy Unknown"
    assert skipped[0]["Employee Number"] == "9999"
    assert skipped[0]["Remote ID"] == ""
    assert "Cy Unknown" in skipped[0]["Warning"]
    assert "not found in Plexxis" in skipped[0]["Warning"]


def test_the_hours_mismatch_warning_is_a_row(browser_client, world):
    world.shift("ana")
    world.emulator.seed(entries=[{
        "employee_code": "1002", "job_number": "24-101", "work_date": WORK_DATE.isoformat(),
        "hours": "4.00", "hour_type": "Regular", "external_reference": "", "notes": "by hand",
    }])
    run = synced(world)
    assert run.state == SyncState.SUCCEEDED_WITH_WARNINGS

    table = as_dicts(download(browser_client, world, run))

    warnings = [row for row in table if row["Outcome"] == "warning"]
    assert len(warnings) == 1
    assert "holds 12.00 hours" in warnings[0]["Warning"]
    assert "sent 8.00" in warnings[0]["Warning"]
    assert (warnings[0]["Action"], warnings[0]["Timesheet Date"]) \
        == ("Timecard Sync", "2026-06-03")


def test_a_failed_runs_reason_is_a_row(browser_client, world):
    sync_services.integration_update(actor=world.admin, integration=world.integration,
                                     credentials={"api_key": "wrong"})
    world.shift("ana")
    run = synced(world)
    assert run.state == SyncState.FAILED

    table = as_dicts(download(browser_client, world, run))

    failed = [row for row in table if row["Outcome"] == "failed"]
    assert len(failed) == 1
    assert "API key" in failed[0]["Warning"]


@pytest.mark.parametrize("name", [
    '=HYPERLINK("http://evil","x")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "=cmd|' /C calc'!A0",
])
def test_a_worker_name_a_spreadsheet_would_run_is_neutralised(browser_client, world, name):
    world.workers["mal"] = factories.WorkerFactory(
        organization=world.project.organization, name=name, employee_number="6666")
    world.shift("mal")

    table = parsed(download(browser_client, world, synced(world)))

    (row,) = [r for r in table[1:] if r[HEADER.index("Employee Number")] == "6666"]
    cell = row[HEADER.index("Worker")]
    assert not cell.startswith(FORMULA_STARTS), cell
    assert name.replace("|", "\\|") in cell  # still readable as the name it is
    for value in row:
        assert not value.startswith(FORMULA_STARTS), row


def test_a_project_name_a_spreadsheet_would_run_is_neutralised(browser_client, world):
    services.project_update(actor=world.payroll, project=world.project, code="",
                            name='=HYPERLINK("http://evil","x")')
    world.shift("ana")

    table = parsed(download(browser_client, world, synced(world)))

    for row in table[1:]:
        assert not row[HEADER.index("Project")].startswith(FORMULA_STARTS), row


def test_a_run_of_5000_lines_streams_5001_rows(browser_client, world):
    run = synced(world)  # nothing to send: no lines, no warnings
    assert run.state == SyncState.SUCCEEDED
    SyncLogEntry.objects.bulk_create(
        SyncLogEntry(run=run, worker_name=f"Worker {n:04d}", employee_number=f"{n:04d}",
                     outcome=SyncOutcome.UNCHANGED, hours="8.00", remote_id=f"TE-{n:06d}")
        for n in range(5000)
    )

    response = download(browser_client, world, run)

    assert isinstance(response, StreamingHttpResponse)
    table = parsed(response)
    assert len(table) == 5001
    assert table[0] == HEADER
    assert table[1][HEADER.index("Worker")] == "Worker 0000"
    assert table[-1][HEADER.index("Worker")] == "Worker 4999"
