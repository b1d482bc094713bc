"""The Sync Dashboard cell, rendered in Python: a grid of 300 projects has 2,100 cells, and a
template include per cell cost most of the page's time (see `make bench`)."""

from __future__ import annotations

from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from timesync.sync.selectors import Cell, CellStatus

register = template.Library()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@register.simple_tag(takes_context=True)
def sync_cell(context: template.Context, cell: Cell, oob: bool = False) -> SafeString:
    """One cell. Colour is never the only cue: every state has an icon and words.

    Built with the standard library's html.escape: Django's lazy-aware escape costs more than
    the rest of the page when called 20,000 times.
    """
    label = f"{cell.work_date:%a %b} {cell.work_date.day}"
    cell_id = f"cell-{cell.project_id}-{cell.work_date:%Y%m%d}"
    status = cell.status
    if status == CellStatus.NONE:
        body = ('<span class="cell-body" title="No timesheet data"><span aria-hidden="true">&ndash;'
                f'</span><span class="visually-hidden">{label}: no timesheet data</span></span>')
    elif status == CellStatus.IN_PROGRESS:
        body = ('<span class="cell-body" role="status" title="Syncing…"><span class="spinner" '
                f'aria-hidden="true"></span><span class="visually-hidden">{label}: </span>'
                'Syncing</span>')
    else:
        if status == CellStatus.READY:
            title = f"Ready: {_plural(cell.workers, 'worker')}, {cell.hours} h"
            inner = (f'<span aria-hidden="true">●</span> {cell.workers}<span class="visually-'
                     f'hidden"> workers ready to sync on {label}</span>')
        elif status == CellStatus.SYNCED:
            title = "Synced" + (f"; {cell.unsendable} skipped (unknown remotely)"
                                if cell.unsendable else "")
            warn = (f' <span class="warn-mark" aria-label="{cell.unsendable} skipped">!</span>'
                    if cell.unsendable else "")
            inner = (f'<span aria-hidden="true">✓</span><span class="visually-hidden">{label}: '
                     f'synced</span>{warn}')
        elif status == CellStatus.CHANGED:
            title = f"{_plural(cell.changes, 'change')} since the last sync"
            inner = (f'<span aria-hidden="true">↻</span> {cell.changes}<span class="visually-'
                     f'hidden"> changes since the sync on {label}: re-sync needed</span>')
        else:  # failed: the one state carrying text from elsewhere (the run's error)
            title = f"Last sync failed: {cell.error}"
            inner = (f'<span aria-hidden="true">✕</span> Failed<span class="visually-hidden">'
                     f' on {label}: {escape(cell.error)}</span>')
        if context.get("can_sync"):
            url = escape(f"{context['preview_url']}?project={cell.project_id}"
                         f"&date={cell.work_date}")
            body = (f'<button type="button" class="cell-body" hx-get="{url}" '
                    f'hx-target="#dialog-slot" hx-swap="innerHTML" title="{escape(title)}">'
                    f'{inner}</button>')
        else:
            body = f'<span class="cell-body" title="{escape(title)}">{inner}</span>'
    oob_attr = ' hx-swap-oob="true"' if oob else ""
    # Every value above is a number, a date, a constant or escaped.
    return mark_safe(  # noqa: S308
        f'<div id="{cell_id}" class="cell cell-{status}"{oob_attr}>{body}</div>'
    )
