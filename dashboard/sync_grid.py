"""The Sync Dashboard's grid as HTML, built in Python.

A grid of 300 projects has 2,100 cells: a template tag or include per cell cost most of the
page's time (see `make bench`). Here everything that is the same for a whole column (the day,
its words, a dash, a plain green cell) is built once, and any other cell is one f-string. The
cell's click is handled once for the whole grid by static/js/app.js (event delegation): a cell
carries no hx-* attributes; the dialog's address comes from the table's `data-preview-url`, the
row's `data-project` and the column header's `data-date`.

Colour is never the only cue: every state has an icon and words (the words are visually
hidden; the legend and the column header say the rest).

The icons are HTML entities (&#10003; for a check mark), here and in the dashboard's
templates: Python keeps a string whose characters all fit in one byte at one byte each, and
copies, joins and encodes it at memory speed; a single check mark would hold the whole page
(half a megabyte for 300 rows) at two bytes a character, about 1 ms more a page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

from django.utils.safestring import SafeString, mark_safe

from timesync.sync.cells import Cell, CellStatus, GridProject

# The title of a dash: the same for every empty cell, so the table carries it once and the
# script sets it on the cell that is pointed at (see static/js/app.js).
NONE_TITLE = "No timesheet data"


@dataclass(frozen=True)
class DayTotal:
    workers: int
    hours: Decimal


@dataclass(frozen=True)
class DayHeader:
    iso: str  # 2026-06-01
    weekday: str  # Mon
    month_day: str  # Jun 1
    is_today: bool


def day_headers(week: Sequence[date], today: date) -> list[DayHeader]:
    """The grid's column headers, formatted once here rather than by three template filters
    a column."""
    return [DayHeader(iso=day.isoformat(), weekday=f"{day:%a}", month_day=f"{day:%b} {day.day}",
                      is_today=day == today) for day in week]


def day_header_cells(days: Sequence[DayHeader]) -> SafeString:
    """The column headers' cells (a template loop rendering four variables a day cost the
    page more than building them here)."""
    return mark_safe("".join(  # noqa: S308 (dates formatted here: letters and digits)
        f'<th scope="col" class="day{" today" if day.is_today else ""}" data-date="{day.iso}">'
        f"{day.weekday}<br><small>{day.month_day}</small></th>" for day in days))


def total_cells(totals: Sequence[DayTotal]) -> SafeString:
    """The footer's cells, a day's workers and hours each."""
    return mark_safe("".join(  # noqa: S308 (numbers only)
        f'<td class="total">{total.workers} worker{"" if total.workers == 1 else "s"}<br>'
        f"<small>{total.hours:f} h</small></td>" for total in totals))


def day_label(day: date) -> str:
    """How a cell's hidden words name its day ("Wed Jun 3")."""
    return f"{day:%a %b} {day.day}"


class _Column:
    """What every cell of one day shares, built once per grid. A cell is `<div id=...` and
    then its tail (classes, body, words). Every value is a number, a date, a constant or
    escaped: built with the standard library's html.escape, as Django's lazy-aware escape
    costs more than the rest of the page when called thousands of times."""

    def __init__(self, day: date, *, can_sync: bool, oob: bool = False,
                 held: bool = False) -> None:
        self.day_id = f"{day:%Y%m%d}"
        self.label = label = day_label(day)
        self.oob = oob = ' hx-swap-oob="true"' if oob else ""
        # An integration that must be connected again offers nothing to sync: its cells say
        # how many wait, as plain text, never as a button that could only fail.
        self.held = held
        can_sync = can_sync and not held
        # A button for those who may sync, else plain text.
        self.open, self.close = (('<button type="button" class="cell-body"', "</button>")
                                 if can_sync else ('<span class="cell-body"', "</span>"))
        self.dash = (f' class="cell cell-none"{oob}><span class="cell-body"><span aria-hidden='
                     f'"true">&ndash;</span><span class="visually-hidden">{label}: no timesheet '
                     'data</span></span></div>')
        self.syncing = (f' class="cell cell-in_progress"{oob}><span class="cell-body" role='
                        '"status" title="Syncing&hellip;"><span class="spinner" aria-hidden="true">'
                        f'</span><span class="visually-hidden">{label}: </span>Syncing</span>'
                        '</div>')
        self.synced = self._synced("Synced", "")
        self.ready: dict[tuple[int, Decimal], str] = {}

    def _synced(self, title: str, warning: str) -> str:
        return (f' class="cell cell-synced"{self.oob}>{self.open} title="{title}"><span '
                f'aria-hidden="true">&#10003;</span><span class="visually-hidden">{self.label}: '
                f'synced</span>{warning}{self.close}</div>')

    def tail(self, cell: Cell | None) -> str:
        status = _NONE if cell is None else cell.status
        # Module constants, not CellStatus.X: an Enum member read costs as much as a cell.
        if status == _NONE:
            return self.dash
        if status == _SYNCED:
            if not cell.unsendable:
                return self.synced
            n = cell.unsendable
            return self._synced(f"Synced; {n} skipped (unknown remotely)",
                                f' <span class="warn-mark" aria-label="{n} skipped">!</span>')
        if status == _IN_PROGRESS:
            return self.syncing
        if status == _READY:
            # A column repeats the same crews and hours (five workers, 40.00 h): built once.
            key = (cell.workers, cell.hours)
            tail = self.ready.get(key)
            if tail is None:
                n = cell.workers
                workers = f"{n} worker{'' if n == 1 else 's'}, {cell.hours!s} h"
                if self.held:
                    title = f"Waiting: {workers}; nothing syncs until it is connected again"
                    words = f"workers waiting on {self.label}: reconnect needed"
                else:
                    title, words = f"Ready: {workers}", f"workers ready to sync on {self.label}"
                inner = (f'<span aria-hidden="true">&#9679;</span> {n}<span '
                         f'class="visually-hidden"> {words}</span>')
                tail = self.ready[key] = (
                    f' class="cell cell-ready"{self.oob}>{self.open} title="{title}">{inner}'
                    f'{self.close}</div>')
            return tail
        if status == _CHANGED:
            n = cell.changes
            title = f"{n} change{'' if n == 1 else 's'} since the last sync"
            inner = (f'<span aria-hidden="true">&#8635;</span> {n}<span class="visually-hidden"> '
                     f'changes since the sync on {self.label}: re-sync needed</span>')
        else:  # failed: the one state carrying text from elsewhere (the run's error)
            title = escape(f"Last sync failed: {cell.error}")
            inner = (f'<span aria-hidden="true">&#10005;</span> Failed<span '
                     f'class="visually-hidden"> on {self.label}: {escape(cell.error)}</span>')
        return (f' class="cell cell-{status}"{self.oob}>{self.open} title="{title}">{inner}'
                f'{self.close}</div>')


_NONE, _READY, _SYNCED, _CHANGED, _IN_PROGRESS = (
    CellStatus.NONE, CellStatus.READY, CellStatus.SYNCED, CellStatus.CHANGED,
    CellStatus.IN_PROGRESS)


def grid_rows(*, projects: Sequence[GridProject], week: Sequence[date],
              cells: dict[tuple[int, date], Cell], can_sync: bool, project_url: str,
              not_linked_title: str, held: bool = False) -> SafeString:
    """The grid's body rows. `cells` holds the cells with anything in them (the others are
    dashes); `project_url` is a project page's address with `0` where the id goes; `held`:
    the integration must be connected again, so no cell is offered."""
    prefix, suffix = project_url.rsplit("/0/", 1)
    pill = (f' <span class="pill not-linked" title="{escape(not_linked_title)}">Not linked'
            '</span>')
    columns = [(day, _Column(day, can_sync=can_sync, held=held)) for day in week]
    get = cells.get
    # Per column: the end of a cell's id, and its dash closed. Every piece goes into one list
    # joined once: no string is built per cell but the few that differ (formatting each
    # cell's <td> and joining each row apart cost a fifth of the rows' time).
    pieces = [(day, f'{column.day_id}"', f"{column.dash}</td>", column)
              for day, column in columns]
    parts: list[str] = []
    append = parts.append
    for project in projects:
        pk = project.id
        append(f'<tr data-project="{pk}"><th scope="row"><a href="{prefix}/{pk}/{suffix}">'
               f'{escape(project.name)}</a><br><small class="muted">{escape(project.code)}'
               f'</small>{"" if project.linked else pill}</th>')
        opening = f'<td><div id="cell-{pk}-'
        for day, cell_id_end, dash, column in pieces:
            append(opening)
            append(cell_id_end)
            cell = get((pk, day))
            if cell is None:
                append(dash)
            else:
                append(column.tail(cell))
                append("</td>")
        append("</tr>\n")
    if parts:
        parts[-1] = "</tr>"  # rows are separated by a newline, not ended by one
    return mark_safe("".join(parts))  # noqa: S308 (numbers, dates, constants or escaped)


def oob_cells(cells: Iterable[Cell], *, can_sync: bool, held: bool = False) -> SafeString:
    """Cells swapped into the page by id (htmx out-of-band), for the poller and a new run."""
    columns: dict[date, _Column] = {}
    parts = []
    for cell in cells:
        column = columns.get(cell.work_date)
        if column is None:
            column = columns[cell.work_date] = _Column(cell.work_date, can_sync=can_sync,
                                                       oob=True, held=held)
        parts.append(f'<div id="cell-{cell.project_id}-{column.day_id}"{column.tail(cell)}')
    return mark_safe("".join(parts))  # noqa: S308 (see _Column)


def day_totals(*, projects: Iterable[GridProject], week: Sequence[date],
               cells: dict[tuple[int, date], Cell]) -> list[DayTotal]:
    """Per day: the workers and hours of the rows shown (a worker on two projects counts
    twice, as the cells do)."""
    shown = {project.id for project in projects}
    workers = dict.fromkeys(week, 0)
    hours = {day: Decimal("0.00") for day in week}
    for (project_id, day), cell in cells.items():
        if project_id in shown and day in workers:
            workers[day] += cell.workers
            hours[day] += cell.hours
    return [DayTotal(workers=workers[day], hours=hours[day]) for day in week]
