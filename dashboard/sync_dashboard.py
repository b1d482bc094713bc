"""The Sync Dashboard: a week of projects by days for one integration, a cell per project and
day; clicking a cell previews the sync in a dialog, confirming starts it, and the grid polls
(once, for every running cell) until the cells settle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from connectors.base import PermanentError
from dashboard.tenancy import organization_view
from timesync import roles, selectors
from timesync.models import Integration, Membership, Project, ProjectLink, SyncTrigger
from timesync.sync import runs as sync_runs
from timesync.sync import selectors as sync_selectors
from timesync.sync.selectors import Cell, CellStatus

POLL_SECONDS = 2


@dataclass
class Row:
    project: Project
    cells: list[Cell]
    linked: bool = True


def _week(request: HttpRequest, organization_time_zone: str) -> list[date]:
    try:
        day = date.fromisoformat(request.GET.get("week", ""))
    except ValueError:
        day = timezone.localdate(timezone=ZoneInfo(organization_time_zone))
    return sync_selectors.week_of(day)


def _integration(request: HttpRequest, integration_id: int) -> Integration:
    return sync_selectors.integration_get(membership=request.membership,
                                          integration_id=integration_id)


def _can_sync(membership: Membership) -> bool:
    # A project manager sees only assigned projects, so any project shown is theirs to sync.
    return membership.role != "viewer"


@organization_view
@require_GET
def sync_dashboard(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = _integration(request, integration_id)
    week = _week(request, request.organization.time_zone)
    search = request.GET.get("q", "").strip()
    move = request.GET.get("go")
    if move in ("previous", "next", "today"):
        # The week picker's buttons submit the toolbar form, so a search typed since the page
        # loaded goes along; answer with the canonical, bookmarkable address.
        if move == "today":
            monday = sync_selectors.week_of(
                timezone.localdate(timezone=ZoneInfo(request.organization.time_zone)))[0]
        else:
            monday = week[0] + timedelta(days=-7 if move == "previous" else 7)
        query = urlencode({"week": monday.isoformat(), **({"q": search} if search else {})})
        return redirect(f"{request.path}?{query}")
    projects = selectors.project_list(membership=request.membership, active=True)
    if search:
        projects = projects.filter(Q(name__icontains=search) | Q(code__icontains=search))
    projects = list(projects.order_by("name"))
    cells = sync_selectors.sync_cells(integration=integration,
                                      project_ids=[p.pk for p in projects], dates=week)
    linked = set(ProjectLink.objects.filter(integration=integration, enabled=True,
                                            project__in=projects)
                 .values_list("project_id", flat=True))
    rows = [Row(project=p, cells=[cells[(p.pk, day)] for day in week], linked=p.pk in linked)
            for p in projects]
    totals = [
        {"workers": sum(row.cells[i].workers for row in rows),
         "hours": sum((row.cells[i].hours for row in rows), Decimal("0.00"))}
        for i in range(len(week))
    ]
    context = {
        "integration": integration, "week": week, "rows": rows, "totals": totals,
        "search": search, "can_sync": _can_sync(request.membership),
        "previous_week": week[0] - timedelta(days=7), "next_week": week[0] + timedelta(days=7),
        "active_projects": _active_projects(cells.values()), "poll_seconds": POLL_SECONDS,
        "today": timezone.localdate(timezone=ZoneInfo(request.organization.time_zone)),
        "preview_url": _preview_url(request, integration),
    }
    template = "dashboard/sync/grid.html" if request.htmx and request.htmx.target == "grid" \
        else "dashboard/sync/dashboard.html"
    return render(request, template, context)


def _active_projects(cells) -> list[int]:
    return sorted({c.project_id for c in cells if c.status == CellStatus.IN_PROGRESS})


def _project_and_day(request: HttpRequest, data) -> tuple[Project, date]:
    try:
        project_id, day = int(data.get("project", "")), date.fromisoformat(data.get("date", ""))
    except ValueError as error:
        raise ValueError("Give a project and a date (YYYY-MM-DD).") from error
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
    return render(request, "dashboard/sync/_dialog.html", {
        "integration": integration, "project": project, "day": day, "preview": preview,
        "can_sync": _can_sync(request.membership)
        and roles.can_work_on_project(request.membership, project),
        "source": request.GET.get("source", "dashboard"),
    })


@organization_view
@require_POST
def sync_start(request: HttpRequest, integration_id: int) -> HttpResponse:
    """Start the run and answer with the cell (now in progress) and a running poller."""
    integration = _integration(request, integration_id)
    try:
        project, day = _project_and_day(request, request.POST)
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    from_project = request.POST.get("source") == "project"
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
    return _cells_response(request, integration, [project.pk], sync_selectors.week_of(day))


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
    week = _week(request, request.organization.time_zone)
    try:
        wanted = {int(p) for p in request.GET.get("projects", "").split(",") if p}
    except ValueError:
        return HttpResponseBadRequest("projects is a comma-separated list of ids.")
    visible = set(selectors.project_list(membership=request.membership)
                  .filter(pk__in=wanted).values_list("pk", flat=True))
    return _cells_response(request, integration, sorted(visible), week)


def _cells_response(request: HttpRequest, integration: Integration, project_ids: list[int],
                    week: list[date]) -> HttpResponse:
    cells = sync_selectors.sync_cells(integration=integration, project_ids=project_ids,
                                      dates=week)
    return render(request, "dashboard/sync/_cells_update.html", {
        "integration": integration, "cells": list(cells.values()), "week": week,
        "active_projects": _active_projects(cells.values()), "poll_seconds": POLL_SECONDS,
        "can_sync": _can_sync(request.membership),
        "preview_url": _preview_url(request, integration),
    })


def _preview_url(request: HttpRequest, integration: Integration) -> str:
    return reverse("sync_preview", kwargs={"organization_slug": request.organization.slug,
                                           "integration_id": integration.pk})
