"""The Sync Dashboard's grid as HTML, built in Python.

A grid of 300 projects has 2,100 cells: a template tag or include per cell cost most of the
page's time (see `make bench`). Here everything that is the same for a whole column, row or
grid (the day's label, the project's link, the preview address, the constant titles) is
computed once, and a cell is one f-string. The cell's click is handled once for the whole
grid by static/js/app.js (event delegation): a cell carries no hx-* attributes, and the
dialog's address is built from the table's `data-preview-url`, the row's `data-project` and
the column header's `data-date`.

Colour is never the only cue: every state has an icon and words (the words are visually
hidden; the legend and the column header say the rest).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

from django.utils.safestring import SafeString, mark_safe

from timesync.sync.selectors import Cell, CellStatus, GridProject

# The title of a dash: the same for every empty cell, so the table carries it once and the
# script sets it on the cell that is pointed at (see static/js/app.js).
NONE_TITLE = "No timesheet data"


@dataclass(frozen=True)
class DayTotal:
    workers: int
    hours: Decimal


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def day_label(day: date) -> str:
    """How a cell's hidden words name its day ("Wed Jun 3")."""
    return f"{day:%a %b} {day.day}"


def cell_id(project_id: int, day: date) -> str:
    return f"cell-{project_id}-{day:%Y%m%d}"


def cell_html(cell: Cell, *, can_sync: bool, oob: bool = False) -> str:
    """One cell, on its own (the poller's and a new run's out-of-band swaps)."""
    tail = _tail(cell, day_label(cell.work_date), *_body(can_sync),
                 ' hx-swap-oob="true"' if oob else "")
    return f'<div id="{cell_id(cell.project_id, cell.work_date)}"{tail}'


def _body(can_sync: bool) -> tuple[str, str]:
    """How a cell's clickable part opens and closes: a button for those who may sync, else
    plain text."""
    if can_sync:
        return '<button type="button" class="cell-body"', "</button>"
    return '<span class="cell-body"', "</span>"


def _tail(cell: Cell, label: str, body_open: str, body_close: str, oob_attr: str = "") -> str:
    """A cell after its id: classes, then the body with its icon and words.

    Built with the standard library's html.escape: Django's lazy-aware escape costs more than
    the rest of the page when called thousands of times. Every value is a number, a date, a
    constant or escaped.
    """
    status = cell.status
    if status == CellStatus.NONE:
        return _dash_tail(label, oob_attr)
    if status == CellStatus.IN_PROGRESS:
        return (f' class="cell cell-in_progress"{oob_attr}><span class="cell-body" role="status"'
                ' title="Syncing…"><span class="spinner" aria-hidden="true"></span><span '
                f'class="visually-hidden">{label}: </span>Syncing</span></div>')
    if status == CellStatus.READY:
        title = f"Ready: {_plural(cell.workers, 'worker')}, {cell.hours} h"
        inner = (f'<span aria-hidden="true">●</span> {cell.workers}<span class="visually-'
                 f'hidden"> workers ready to sync on {label}</span>')
    elif status == CellStatus.SYNCED:
        if cell.unsendable:
            title = f"Synced; {cell.unsendable} skipped (unknown remotely)"
            warn = (f' <span class="warn-mark" aria-label="{cell.unsendable} skipped">!</span>')
        else:
            title, warn = "Synced", ""
        inner = (f'<span aria-hidden="true">✓</span><span class="visually-hidden">{label}: '
                 f'synced</span>{warn}')
    elif status == CellStatus.CHANGED:
        title = f"{_plural(cell.changes, 'change')} since the last sync"
        inner = (f'<span aria-hidden="true">↻</span> {cell.changes}<span class="visually-'
                 f'hidden"> changes since the sync on {label}: re-sync needed</span>')
    else:  # failed: the one state carrying text from elsewhere (the run's error)
        title = escape(f"Last sync failed: {cell.error}")
        inner = (f'<span aria-hidden="true">✕</span> Failed<span class="visually-hidden">'
                 f' on {label}: {escape(cell.error)}</span>')
    return (f' class="cell cell-{status}"{oob_attr}>{body_open} title="{title}">{inner}'
            f'{body_close}</div>')


def _dash_tail(label: str, oob_attr: str = "") -> str:
    """A dash after its id: the same for a whole column."""
    return (f' class="cell cell-none"{oob_attr}><span class="cell-body"><span aria-hidden="true">'
            f'&ndash;</span><span class="visually-hidden">{label}: no timesheet data</span>'
            '</span></div>')


def grid_rows(*, projects: Sequence[GridProject], week: Sequence[date],
              cells: dict[tuple[int, date], Cell], can_sync: bool, project_url: str,
              not_linked_title: str) -> SafeString:
    """The grid's body rows. `cells` holds the cells with anything in them (the others are
    dashes); `project_url` is a project page's address with `0` where the id goes."""
    prefix, suffix = project_url.rsplit("/0/", 1)
    pill = (f' <span class="pill not-linked" title="{escape(not_linked_title)}">Not linked'
            '</span>')
    body_open, body_close = _body(can_sync)
    # What is the same for a whole column, once: the day, its words, its dash.
    columns = [(day, f"{day:%Y%m%d}", day_label(day), _dash_tail(day_label(day)))
               for day in week]
    rows = []
    for project in projects:
        pk = project.id
        parts = [f'<tr data-project="{pk}"><th scope="row"><a href="{prefix}/{pk}/{suffix}">'
                 f'{escape(project.name)}</a><br><small class="muted">{escape(project.code)}'
                 f'</small>{"" if project.linked else pill}</th>']
        for day, day_id, label, dash in columns:
            cell = cells.get((pk, day))
            tail = dash if cell is None else _tail(cell, label, body_open, body_close)
            parts.append(f'<td><div id="cell-{pk}-{day_id}"{tail}</td>')
        parts.append("</tr>")
        rows.append("".join(parts))
    # Every value above is a number, a date, a constant or escaped.
    return mark_safe("\n".join(rows))  # noqa: S308


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


def oob_cells(cells: Iterable[Cell], *, can_sync: bool) -> SafeString:
    """Cells swapped into the page by id (htmx out-of-band), for the poller and a new run."""
    return mark_safe("".join(  # noqa: S308 (see _tail)
        cell_html(cell, can_sync=can_sync, oob=True) for cell in cells))
