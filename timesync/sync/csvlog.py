"""The detailed CSV log of a run, streamed row by row, and the name it downloads under.

No cell may run as a formula when a payroll admin opens the file in a spreadsheet: a worker
named "=HYPERLINK(...)" must stay text. defusedcsv prefixes a single quote to a text cell that
starts with = + - @ | %, but a spreadsheet skips leading blanks before it looks, so "\\t=1+1",
" =1+1" and "\\r@SUM(A1)" slipped past it; `_neutralised` quotes those too (OWASP's rule: a cell
starting with = + - @, tab, carriage return or line feed, after any blanks). Numbers (hours,
shift ids) are written as numbers, never quoted: "-2.00" hours stay a number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from numbers import Number
from urllib.parse import quote

from defusedcsv import csv

from timesync.models import SyncRun
from timesync.sync.selectors import run_log_lines

HEADER = [
    "Action", "Integration", "Project", "Timesheet Date", "Worker", "Employee Number",
    "Shift", "Outcome", "Hours", "Remote ID", "Warning",
]

# What a spreadsheet reads as the start of a formula once it has skipped leading blanks (the
# first four are OWASP's; defusedcsv adds | and %, which start DDE and some locales' formulas).
_FORMULA_STARTS = ("=", "+", "-", "@", "|", "%")
# Characters that make a file name unsafe in a header or on a disk: control characters (CR and
# LF would end the header), quotes and backslashes (they end or escape the quoted name), slashes.
_UNSAFE_IN_FILENAME = re.compile(r'[\x00-\x1f\x7f"\\/]+')


class _Line:
    """A file-like object whose write() returns what it was given (Django's streaming CSV
    recipe): the writer formats one row, the response sends it."""

    def write(self, value: str) -> str:
        return value


def _neutralised(value: object) -> object:
    """A text cell led by blanks before a formula character (or by a tab, CR or LF) gets
    defusedcsv's single quote in front; everything else is left to defusedcsv."""
    if value is None or isinstance(value, Number):
        return value
    text = str(value)
    stripped = text.lstrip()
    if stripped != text and (text[0] in "\t\r\n" or stripped.startswith(_FORMULA_STARTS)):
        return "'" + text
    return text


class _Writer:
    def __init__(self) -> None:
        self._writer = csv.writer(_Line())

    def row(self, cells: Iterable[object]) -> str:
        return self._writer.writerow([_neutralised(cell) for cell in cells])


def run_csv_rows(run: SyncRun) -> Iterator[str]:
    writer = _Writer()
    common = ["Timecard Sync", run.integration.name, str(run.project),
              run.work_date.isoformat()]
    yield writer.row(HEADER)
    for line in run_log_lines(run=run):
        yield writer.row([
            *common, line["worker_name"], line["employee_number"], line["shift_id"] or "",
            line["outcome"], "" if line["hours"] is None else line["hours"],  # Decimal: 8.00
            line["remote_id"], line["message"],
        ])
    for warning in run.warnings:
        yield writer.row([*common, "", "", "", "warning", "", "", warning])
    if run.error:
        yield writer.row([*common, "", "", "", "failed", "", "", run.error])


def run_csv_disposition(run: SyncRun) -> str:
    """The Content-Disposition of a run's CSV download, named after its day and project."""
    return attachment_disposition(
        f"timecard-sync-{run.work_date:%Y-%m-%d}-{run.project.code or run.project_id}"
        f"-run{run.pk}.csv")


def attachment_disposition(filename: str) -> str:
    """An attachment header as RFC 6266 has it: `filename*` carries the name in UTF-8,
    percent-encoded, and `filename` an ASCII fallback for clients that read only that. Text a
    tenant typed (a project code) goes into both, so neither may hold what would end the
    header or the quoted string, or a path."""
    name = _UNSAFE_IN_FILENAME.sub("_", filename)
    # Accents dropped ("Café" → "Cafe"), then checked again: compatibility forms decompose
    # into the very characters refused above (a fullwidth quote into '"').
    ascii_only = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    fallback = _UNSAFE_IN_FILENAME.sub("_", ascii_only)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
