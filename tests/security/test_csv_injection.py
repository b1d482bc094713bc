"""The CSV log a payroll admin downloads and opens in a spreadsheet runs nothing a tenant typed,
and downloads whatever a project's code holds (finding 6 of issue 8: cells led by a tab, a
carriage return or a space before `=` passed the formula guard; a code with CR/LF or `"` broke
the download or its file name)."""

from __future__ import annotations

import csv
import io
from urllib.parse import unquote

import pytest

from tests import factories
from tests.timesync.sync.conftest import emulator as emulator
from tests.timesync.sync.conftest import run_to_completion
from tests.timesync.sync.conftest import world as world
from timesync import services
from timesync.models import SyncLogEntry, SyncOutcome

pytestmark = pytest.mark.django_db

HEADER = ["Action", "Integration", "Project", "Timesheet Date", "Worker", "Employee Number",
          "Shift", "Outcome", "Hours", "Remote ID", "Warning"]
# Spreadsheets skip leading blanks before deciding a cell is a formula.
HOSTILE = ["\t=1+1", "\r=1+1", "\n=1+1", " =1+1", "   @SUM(A1)", "\t-2+3", " +1+1",
           "\u00a0=HYPERLINK(\"http://evil\",\"x\")", "\t", "=1+1", "@SUM(A1)",
           "=cmd|' /C calc'!A0"]


def runs_as_formula(cell: str) -> bool:
    """What a spreadsheet would evaluate: OWASP's leading characters, after any blanks."""
    return cell.startswith(("\t", "\r", "\n")) or cell.lstrip().startswith(("=", "+", "-", "@"))


def csv_url(world, run) -> str:
    return (f"/o/{world.project.organization.slug}/integrations/{world.integration.pk}/logs/"
            f"{run.pk}/csv/")


def download(browser_client, world, run):
    response = browser_client(world.payroll).get(csv_url(world, run))
    assert response.status_code == 200, response.status_code
    return response


def table(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode(),
                                       newline="")))


def synced(world):
    return run_to_completion(world.start_run().pk)


def column(rows: list[list[str]], name: str) -> list[str]:
    return [row[HEADER.index(name)] for row in rows[1:]]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_worker_name_a_spreadsheet_would_run_is_text(browser_client, world, name):
    world.workers["mal"] = factories.WorkerFactory(
        organization=world.project.organization, name=name, employee_number="6666")
    world.shift("mal")

    rows = table(download(browser_client, world, synced(world)))

    (row,) = [r for r in rows[1:] if r[HEADER.index("Employee Number")] == "6666"]
    assert [cell for cell in row if runs_as_formula(cell)] == []
    assert name.replace("|", "\\|") in row[HEADER.index("Worker")]  # still its name


@pytest.mark.parametrize("code", HOSTILE)
def test_a_project_code_a_spreadsheet_would_run_is_text(browser_client, world, code):
    services.project_update(actor=world.payroll, project=world.project, code=code)
    world.shift("ana")

    rows = table(download(browser_client, world, synced(world)))

    assert len(rows) == 2
    assert [cell for row in rows for cell in row if runs_as_formula(cell)] == []


@pytest.mark.parametrize("code", ["\t=1+1", "\r\n=1+1", " @SUM(A1)"])
def test_a_cost_code_a_spreadsheet_would_run_is_text(browser_client, world, code):
    hostile = factories.CostCodeFactory(organization=world.project.organization, code=code)
    world.shift("ana", cost_code=hostile)  # unknown to Plexxis: skipped, with its code named

    rows = table(download(browser_client, world, synced(world)))

    (skipped,) = [row for row in rows[1:] if row[HEADER.index("Outcome")] == "skipped"]
    assert code in skipped[HEADER.index("Warning")]
    assert [cell for row in rows for cell in row if runs_as_formula(cell)] == []


def test_hours_stay_numbers_even_when_negative(browser_client, world):
    run = synced(world)  # nothing to send: no lines
    SyncLogEntry.objects.bulk_create([
        SyncLogEntry(run=run, worker_name="Ana Silva", employee_number="1001",
                     outcome=SyncOutcome.UPDATED, hours="-2.00", remote_id="TE-1"),
        SyncLogEntry(run=run, worker_name="Ben Okafor", employee_number="1002",
                     outcome=SyncOutcome.CREATED, hours="8.50", remote_id="TE-2"),
    ])

    rows = table(download(browser_client, world, run))

    assert column(rows, "Hours") == ["-2.00", "8.50"]


@pytest.mark.parametrize("code", ['24-101"\r\nSet-Cookie: x=1', "24\n101", 'A"B\\C/D',
                                  "Caf\u00e9\uff02\uff38", "\r\n"])
def test_a_project_code_with_line_breaks_or_quotes_downloads(browser_client, world, code):
    services.project_update(actor=world.payroll, project=world.project, code=code)
    world.shift("ana")

    response = download(browser_client, world, synced(world))

    rows = table(response)
    assert len(rows) == 2
    world.project.refresh_from_db()
    assert rows[1][HEADER.index("Project")] == str(world.project)
    disposition = response["Content-Disposition"]
    assert "\r" not in disposition
    assert "\n" not in disposition
    assert "Set-Cookie" not in response.headers or "x=1" not in response["Set-Cookie"]


def filename_of(disposition: str) -> tuple[str, str]:
    """(the UTF-8 name a modern browser saves under, the ASCII fallback older ones read)."""
    fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
    encoded = disposition.split("filename*=UTF-8''", 1)[1].split(";", 1)[0]
    return unquote(encoded, errors="strict"), fallback


# A fullwidth quotation mark (U+FF02) decomposes into '"' on the way to ASCII.
@pytest.mark.parametrize(("code", "saved", "fallback"), [
    ("24-101", "timecard-sync-2026-06-03-24-101-run{pk}.csv",
     "timecard-sync-2026-06-03-24-101-run{pk}.csv"),
    ('A"B\\C/D', "timecard-sync-2026-06-03-A_B_C_D-run{pk}.csv",
     "timecard-sync-2026-06-03-A_B_C_D-run{pk}.csv"),
    ("24\r\n101", "timecard-sync-2026-06-03-24_101-run{pk}.csv",
     "timecard-sync-2026-06-03-24_101-run{pk}.csv"),
    ("Caf\u00e9\uff02", "timecard-sync-2026-06-03-Caf\u00e9\uff02-run{pk}.csv",
     "timecard-sync-2026-06-03-Cafe_-run{pk}.csv"),
])
def test_the_file_name_is_the_code_made_safe_with_an_ascii_fallback(
    browser_client, world, code, saved, fallback
):
    services.project_update(actor=world.payroll, project=world.project, code=code)
    run = synced(world)

    disposition = download(browser_client, world, run)["Content-Disposition"]

    assert disposition.startswith("attachment; ")
    assert filename_of(disposition) == (saved.format(pk=run.pk), fallback.format(pk=run.pk))
