"""Integration pages: the list, settings, mappings, logs, a run's lines and its CSV."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from dashboard.tenancy import organization_view
from timesync import services
from timesync.api.sync_views import csv_response
from timesync.sync import selectors as sync_selectors


@organization_view
def integration_list(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/integration_list.html", {
        "integrations": sync_selectors.integration_list(membership=request.membership),
    })


@require_POST
@organization_view
def sync_failure_emails(request: HttpRequest) -> HttpResponse:
    enabled = request.POST.get("enabled") == "true"
    try:
        services.member_set_sync_failure_emails(actor=request.membership, enabled=enabled)
    except PermissionDenied as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "You will get an email when a sync fails." if enabled
                         else "You will no longer get sync failure emails.")
    return redirect("integration_list", organization_slug=request.organization.slug)


@organization_view
def sync_logs(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = sync_selectors.integration_get(membership=request.membership,
                                                 integration_id=integration_id)
    runs = sync_selectors.run_list(membership=request.membership, integration=integration)
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    return render(request, "dashboard/sync_logs.html", {"integration": integration,
                                                         "page": page})


@organization_view
def sync_run_detail(request: HttpRequest, integration_id: int, run_id: int) -> HttpResponse:
    integration = sync_selectors.integration_get(membership=request.membership,
                                                 integration_id=integration_id)
    run = sync_selectors.run_get(membership=request.membership, run_id=run_id,
                                 integration=integration)
    entries = Paginator(run.entries.order_by("id"), 200).get_page(request.GET.get("page"))
    return render(request, "dashboard/sync_run_detail.html", {
        "integration": integration, "run": run, "entries": entries,
    })


@organization_view
def sync_run_csv(request: HttpRequest, integration_id: int, run_id: int) -> HttpResponse:
    integration = sync_selectors.integration_get(membership=request.membership,
                                                 integration_id=integration_id)
    run = sync_selectors.run_get(membership=request.membership, run_id=run_id,
                                 integration=integration)
    return csv_response(run)


integration_patterns = [
    path("integrations/", integration_list, name="integration_list"),
    path("integrations/failure-emails/", sync_failure_emails, name="sync_failure_emails"),
    path("integrations/<int:integration_id>/logs/", sync_logs, name="sync_logs"),
    path("integrations/<int:integration_id>/logs/<int:run_id>/", sync_run_detail,
         name="sync_run_detail"),
    path("integrations/<int:integration_id>/logs/<int:run_id>/csv/", sync_run_csv,
         name="sync_run_csv"),
]
