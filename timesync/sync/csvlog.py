"""The detailed CSV log of a run, streamed row by row.

defusedcsv neutralises cells a spreadsheet would run as a formula (=, +, -, @ ...): a worker
named "=HYPERLINK(...)" must stay text when a payroll admin opens the file.
"""

from __future__ import annotations

from collections.abc import Iterator

from defusedcsv import csv

from timesync.models import SyncRun
from timesync.sync.selectors import run_log_lines

HEADER = [
    "Action", "Integration", "Project", "Timesheet Date", "Worker", "Employee Number",
    "Shift", "Outcome", "Hours", "Remote ID", "Warning",
]


class _Line:
    """A file-like object whose write() returns what it was given (Django's streaming CSV
    recipe): the writer formats one row, the response sends it."""

    def write(self, value: str) -> str:
        return value


def run_csv_rows(run: SyncRun) -> Iterator[str]:
    writer = csv.writer(_Line())
    common = ["Timecard Sync", run.integration.name, str(run.project),
              run.work_date.isoformat()]
    yield writer.writerow(HEADER)
    for line in run_log_lines(run=run):
        yield writer.writerow([
            *common, line["worker_name"], line["employee_number"], line["shift_id"] or "",
            line["outcome"], "" if line["hours"] is None else f"{line['hours']:.2f}",
            line["remote_id"], line["message"],
        ])
    for warning in run.warnings:
        yield writer.writerow([*common, "", "", "", "warning", "", "", warning])
    if run.error:
        yield writer.writerow([*common, "", "", "", "failed", "", "", run.error])
