"""The Sync Dashboard: a week of projects by days for one integration, a cell per project and
day; clicking a cell previews the sync in a dialog, confirming starts it, and the grid polls
(once, for every running cell) until the cells settle."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from datetime import date, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from connectors.base import PermanentError
from dashboard import sync_grid
from dashboard.tenancy import organization_view
from timesync import roles, selectors, time_rules
from timesync.models import MAX_ID, Integration, Project, SyncTrigger
from timesync.sync import cells as grid_cells
from timesync.sync import runs as sync_runs
from timesync.sync import selectors as sync_selectors
from timesync.sync.cells import Cell, CellStatus

POLL_SECONDS = 2

# Where a sync dialog was opened from: the Sync Dashboard's grid, or a project's Sync Timesheet
# button (which answers with the run's status instead of the grid's cells).
DIALOG_SOURCES = ("dashboard", "project")


def _week(request: HttpRequest) -> list[date]:
    try:
        day = date.fromisoformat(request.GET.get("week", ""))
    except ValueError:
        day = None
    problem = day and time_rules.outside_work_window(day)
    if problem:
        messages.warning(request, f"{day.isoformat()} is out of range: {problem} "
                                  "Showing this week instead.")
        day = None
    return grid_cells.sync_week(organization=request.organization, day=day)


def _integration(request: HttpRequest, integration_id: int) -> Integration:
    return sync_selectors.integration_get(membership=request.membership,
                                          integration_id=integration_id)


@organization_view
@require_GET
def sync_dashboard(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = _integration(request, integration_id)
    week = _week(request)
    search = request.GET.get("q", "").strip()
    move = request.GET.get("go")
    if move in ("previous", "next", "today"):
        # The week picker's buttons submit the toolbar form, so a search typed since the page
        # loaded goes along; answer with the canonical, bookmarkable address.
        if move == "today":
            monday = grid_cells.sync_week(organization=request.organization)[0]
        else:
            monday = week[0] + timedelta(days=-7 if move == "previous" else 7)
        return redirect(_address(request.path, week=monday, search=search,
                                 page=request.GET.get("page")))
    # Rows are paged past settings.SYNC_DASHBOARD_PAGE_SIZE projects: the page's cost grows
    # with its rows, and nobody reads a thousand rows at once.
    grid = grid_cells.sync_grid(
        membership=request.membership, integration=integration, dates=week, search=search,
        page_number=request.GET.get("page"), page_size=settings.SYNC_DASHBOARD_PAGE_SIZE,
    )
    page, can_sync = grid.page, _offers_syncs(request, integration)
    project_url = reverse("project_detail", kwargs={
        "organization_slug": request.organization.slug, "project_id": 0})
    context = {
        "integration": integration, "week": week, "search": search, "can_sync": can_sync,
        "may_sync": roles.can_sync_some_projects(request.membership),
        "can_reconnect": roles.can_manage_integrations(request.membership),
        "receives_only": not integration.sends,
        "grid_rows": sync_grid.grid_rows(
            projects=page.object_list, week=week, cells=grid.cells, can_sync=can_sync,
            project_url=project_url, held=integration.reconnect_needed,
            not_linked_title=(f"Syncing this project fails until it is linked to a "
                              f"{integration.get_kind_display()} job"),
        ),
        "has_rows": bool(page.object_list),
        "totals": sync_grid.day_totals(projects=page.object_list, week=week, cells=grid.cells),
        "page": page, "paged": page.paginator.num_pages > 1,
        "previous_page_url": _address(request.path, week=week[0], search=search,
                                      page=page.previous_page_number())
        if page.has_previous() else "",
        "next_page_url": _address(request.path, week=week[0], search=search,
                                  page=page.next_page_number())
        if page.has_next() else "",
        "active_projects": _active_projects(grid.cells.values()),
        "poll_seconds": POLL_SECONDS,
        "days": sync_grid.day_headers(week, grid_cells.organization_today(
            request.organization)),
        "preview_url": _preview_url(request, integration),
        "none_title": sync_grid.NONE_TITLE,
    }
    template = "dashboard/sync/grid.html" if request.htmx and request.htmx.target == "grid" \
        else "dashboard/sync/dashboard.html"
    # The rows (half a megabyte of HTML for 300 projects) go into the rendered page here, once:
    # passed through the template, every enclosing node list (the {% if %}, the include, the
    # block, the base) copied them twice, joining its parts and marking the result safe.
    rows, context["grid_rows"] = context["grid_rows"], _GRID_ROWS_SLOT
    context["day_header_cells"] = sync_grid.day_header_cells(context["days"])
    context["total_cells"] = sync_grid.total_cells(context["totals"])
    return HttpResponse(render_to_string(template, context, request)
                        .replace(_GRID_ROWS_SLOT, rows, 1))


# Where grid.html puts the rows. Template output cannot forge it: every value a user wrote is
# escaped there, and "<" with it; the token is random for good measure.
_GRID_ROWS_SLOT = mark_safe(f"<!--grid-rows-{secrets.token_hex(8)}-->")  # noqa: S308


def _offers_syncs(request: HttpRequest, integration: Integration) -> bool:
    """Whether the page offers syncing: to those who may sync, and only while the
    integration can sync at all (not while it must be connected again, nor when it only
    receives: no cell opens a dialog then)."""
    return (roles.can_sync_some_projects(request.membership)
            and not integration.reconnect_needed and integration.sends)


def _address(path: str, *, week: date, search: str, page: int | str | None) -> str:
    """The dashboard's canonical address: the week, the search and the page in the URL."""
    query = {"week": week.isoformat()}
    if search:
        query["q"] = search
    if page and str(page) != "1":
        query["page"] = str(page)
    return f"{path}?{urlencode(query)}"


def _active_projects(cells: Iterable[Cell]) -> list[int]:
    return sorted({c.project_id for c in cells if c.status == CellStatus.IN_PROGRESS})


def _project_and_day(request: HttpRequest, data) -> tuple[Project, date]:
    try:
        project_id, day = int(data.get("project", "")), date.fromisoformat(data.get("date", ""))
    except ValueError as error:
        raise ValueError("Give a project and a date (YYYY-MM-DD).") from error
    problem = time_rules.outside_work_window(day)
    if problem or not 0 < project_id <= MAX_ID:
        raise ValueError(problem or "No such project.")
    return selectors.project_get(membership=request.membership, project_id=project_id), day


@organization_view
@require_GET
def sync_preview(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = _integration(request, integration_id)
    try:
        project, day = _project_and_day(request, request.GET)
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    preview = sync_selectors.sync_preview(integration=integration, project=project,
                                          work_date=day)
    source = _dialog_source(request.GET)
    return render(request, "dashboard/sync/_dialog.html", {
        "integration": integration, "project": project, "day": day, "preview": preview,
        "can_sync": _offers_syncs(request, integration)
        and roles.can_work_on_project(request.membership, project),
        "source": source,
        # What Confirm posts: the project and day this dialog shows, as JSON made here and
        # escaped by the template into the attribute. Query text written into a JSON template
        # could close its string and add keys ("project", "date") that the browser's JSON
        # parser lets win.
        "confirm_vals": json.dumps({"project": str(project.pk), "date": day.isoformat(),
                                    "source": source}),
    })


def _dialog_source(data) -> str:
    source = data.get("source")
    return source if source in DIALOG_SOURCES else DIALOG_SOURCES[0]


@organization_view
@require_POST
def sync_start(request: HttpRequest, integration_id: int) -> HttpResponse:
    """Start the run and answer with the cell (now in progress) and a running poller."""
    integration = _integration(request, integration_id)
    try:
        project, day = _project_and_day(request, request.POST)
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    from_project = _dialog_source(request.POST) == "project"
    trigger = SyncTrigger.PROJECT_BUTTON if from_project else SyncTrigger.DASHBOARD
    run = None
    try:
        run = sync_runs.sync_run_start(integration=integration, project=project,
                                           work_date=day, trigger=trigger,
                                           actor=request.membership).run
    except (PermanentError, PermissionDenied) as error:
        messages.error(request, str(error))
    if from_project:
        return render(request, "dashboard/sync/_run_status.html", {
            "integration": integration, "run": run, "poll_seconds": POLL_SECONDS,
        })
    return _cells_response(request, integration, [project.pk], grid_cells.week_of(day))


@organization_view
@require_GET
def sync_run_status(request: HttpRequest, integration_id: int, run_id: int) -> HttpResponse:
    """The Sync Timesheet button's progress and result; polls itself while the run is active."""
    integration = _integration(request, integration_id)
    run = sync_selectors.run_get(membership=request.membership, run_id=run_id,
                                 integration=integration)
    return render(request, "dashboard/sync/_run_status.html", {
        "integration": integration, "run": run, "poll_seconds": POLL_SECONDS,
    })


@organization_view
@require_GET
def sync_poll(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = _integration(request, integration_id)
    week = _week(request)
    listed = [p for p in request.GET.get("projects", "").split(",") if p]
    if len(listed) > settings.SYNC_DASHBOARD_PAGE_SIZE:
        # A page polls at most its own projects; more is not a page of ours asking.
        return HttpResponseBadRequest(
            f"projects lists at most {settings.SYNC_DASHBOARD_PAGE_SIZE} ids.")
    try:
        wanted = {int(p) for p in listed}
    except ValueError:
        return HttpResponseBadRequest("projects is a comma-separated list of ids.")
    if not all(0 < p <= MAX_ID for p in wanted):
        return HttpResponseBadRequest("projects lists ids (positive integers).")
    visible = set(selectors.project_list(membership=request.membership)
                  .filter(pk__in=wanted).values_list("pk", flat=True))
    return _cells_response(request, integration, sorted(visible), week)


def _cells_response(request: HttpRequest, integration: Integration, project_ids: list[int],
                    week: list[date]) -> HttpResponse:
    cells = grid_cells.sync_cells(integration=integration, project_ids=project_ids,
                                      dates=week)
    return render(request, "dashboard/sync/_cells_update.html", {
        "integration": integration, "week": week,
        "cells_html": sync_grid.oob_cells(cells.values(),
                                          can_sync=_offers_syncs(request, integration),
                                          held=integration.reconnect_needed),
        "active_projects": _active_projects(cells.values()), "poll_seconds": POLL_SECONDS,
    })


def _preview_url(request: HttpRequest, integration: Integration) -> str:
    return reverse("sync_preview", kwargs={"organization_slug": request.organization.slug,
                                           "integration_id": integration.pk})
