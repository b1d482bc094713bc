"""Integration pages: the list, connect, settings (with the audit trail), disconnect, mappings,
the catalog's status, logs, a run's lines and its CSV.

Who may do what (timesync.roles, enforced here and again in the services):
- everyone in the organization: the list, the Sync Dashboard and the logs (a project manager
  sees their projects' runs only);
- admins and payroll admins: the mappings page (they change links, as `worker_link_set` and
  `project_link_set` allow); others get 403;
- admins: connect, settings, test connection, refresh from the remote, disconnect.

No page waits on the remote while it renders: the Mappings page reads the reference catalog,
and "Refresh from <remote>" queues its fetch, which the page then follows.
"""

from __future__ import annotations

from django import forms as django_forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from connectors.base import ConnectorError
from dashboard.integration_forms import (
    ConnectForm,
    IntegrationSettingsForm,
    MappingForm,
    SyncLogFilterForm,
)
from dashboard.tenancy import organization_view
from timesync import roles, selectors, services
from timesync.api.sync_views import csv_response
from timesync.models import Integration, IntegrationKind
from timesync.sync import catalog, mappings
from timesync.sync import selectors as sync_selectors
from timesync.sync import services as sync_services

ACTIVITY_PAGE_SIZE = 25


def _integration(request: HttpRequest, integration_id: int) -> Integration:
    """The caller's organization's integration, or 404 (before any role check: another
    organization's ids are not found, whoever asks)."""
    return sync_selectors.access_integration(request.membership, integration_id)


def _add_errors(form: django_forms.Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, field_messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, field_messages)
    else:
        form.add_error(None, error.messages)


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def _fetching(integration: Integration) -> str:
    return (f"Fetching employees, jobs and cost codes from {integration.get_kind_display()}: "
            "links are matched as soon as they arrive.")


# --- The list -------------------------------------------------------------------------------


@organization_view
@require_GET
def integration_list(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/integration_list.html", {
        "integrations": sync_selectors.integration_list(membership=request.membership),
        "can_reconnect": roles.can_manage_integrations(request.membership),
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


# --- Connect, settings, test, refresh, disconnect (admins) ------------------------------------


@organization_view
@require_http_methods(["GET", "POST"])
def integration_connect(request: HttpRequest) -> HttpResponse:
    roles.require_integration_manager(request.membership)
    form = ConnectForm(request.POST or None,
                       integrations=sync_selectors.integration_list(membership=request.membership))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            integration = sync_services.integration_connect(
                actor=request.membership, kind=data["kind"], name=data["name"],
                settings={"base_url": data["base_url"]}, credentials={"api_key": data["api_key"]},
            )
        except ValidationError as error:
            _add_errors(form, error)
        except ConnectorError as error:
            form.add_error(None, f"{error} Check the address and the API key, then try again.")
        else:
            messages.success(request, f"Connected to {integration.name}. {_fetching(integration)}")
            return redirect("integration_mappings", organization_slug=request.organization.slug,
                            integration_id=integration.pk)
    return render(request, "dashboard/integrations/connect.html", {
        "form": form, "kinds": IntegrationKind,
    })


@organization_view
@require_http_methods(["GET", "POST"])
def integration_settings(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = _integration(request, integration_id)
    roles.require_integration_manager(request.membership)
    time_zone = request.organization.time_zone
    form = IntegrationSettingsForm(request.POST or None, integration=integration,
                                   time_zone=time_zone)
    was_connected = integration.is_connected
    if request.method == "POST" and form.is_valid():
        try:
            integration = sync_services.integration_reconfigure(
                actor=request.membership, integration=integration, changes=form.changes()
            )
        except ValidationError as error:
            _add_errors(form, error)
        except ConnectorError as error:
            form.add_error(None, f"{error} The stored settings and key are unchanged.")
        else:
            if integration.is_connected and not was_connected:
                messages.success(request, f"{integration.name} is connected again. "
                                          f"{_fetching(integration)}")
            else:
                messages.success(request, "Settings saved.")
            return redirect("integration_settings", organization_slug=request.organization.slug,
                            integration_id=integration.pk)
    activity = Paginator(sync_selectors.integration_audit_log(integration=integration),
                         ACTIVITY_PAGE_SIZE).get_page(request.GET.get("activity"))
    return render(request, "dashboard/integrations/settings.html", {
        "integration": integration, "form": form, "time_zone": time_zone,
        "counts": mappings.link_counts(integration=integration),
        "catalog": catalog.catalog_status(integration=integration), "activity": activity,
        "procore_activity": sync_selectors.procore_activity(integration=integration)
        if integration.kind == IntegrationKind.PROCORE else None,
    })


@organization_view
@require_POST
def integration_test(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = _integration(request, integration_id)
    roles.require_integration_manager(request.membership)
    try:
        sync_services.integration_test_connection(actor=request.membership,
                                                  integration=integration)
    except sync_selectors.IntegrationDisconnected:
        messages.error(request, f"{integration.name} is disconnected: enter its API key below "
                                "to connect it again.")
    except ConnectorError as error:
        messages.error(request, f"The connection test failed: {error}")
    else:
        messages.success(request, f"{integration.name} answered: the address and the API "
                                  "key work.")
    return redirect("integration_settings", organization_slug=request.organization.slug,
                    integration_id=integration.pk)


# Where "Refresh from <remote>" returns to: a fixed choice, never a URL from the request.
_REFRESH_RETURNS = {"settings": "integration_settings", "mappings": "integration_mappings"}


@organization_view
@require_POST
def integration_refresh(request: HttpRequest, integration_id: int) -> HttpResponse:
    """Queue a fetch of the remote's lists; the page it returns to follows it."""
    integration = _integration(request, integration_id)
    roles.require_integration_manager(request.membership)
    try:
        queued = sync_services.integration_catalog_refresh(actor=request.membership,
                                                           integration=integration)
    except sync_selectors.IntegrationDisconnected:
        messages.error(request, f"{integration.name} is disconnected: connect it again in its "
                                "settings first.")
    else:
        messages.success(request, _fetching(integration) if queued else
                         f"A fetch from {integration.get_kind_display()} is already under way.")
    target = _REFRESH_RETURNS.get(request.POST.get("next", ""), "integration_mappings")
    return redirect(target, organization_slug=request.organization.slug,
                    integration_id=integration.pk)


@organization_view
@require_GET
def integration_catalog_status(request: HttpRequest, integration_id: int) -> HttpResponse:
    """The catalog's status block, polled while a fetch runs. Reads our database only; once
    the fetch is over, the page reloads to show what it brought."""
    integration = _integration(request, integration_id)
    roles.require_mapping_editor(request.membership)
    status = catalog.catalog_status(integration=integration)
    if request.htmx and not status.fetching:
        return HttpResponseClientRefresh()
    return render(request, "dashboard/integrations/_catalog_status.html", {
        "integration": integration, "catalog": status,
    })


@organization_view
@require_http_methods(["GET", "POST"])
def integration_disconnect(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = _integration(request, integration_id)
    roles.require_integration_manager(request.membership)
    summary = mappings.disconnect_summary(integration=integration)
    if request.method == "POST":
        sync_services.integration_disconnect(actor=request.membership, integration=integration)
        removed = ", ".join((_plural(summary.project_links, "project link"),
                             _plural(summary.worker_links, "worker link"),
                             _plural(summary.cost_code_links, "cost code link")))
        messages.success(request, f"{integration.name} is disconnected: removed {removed}, the "
                                  "stored credentials and the schedule. Its logs and the sync "
                                  "ledger are kept.")
        return redirect("integration_list", organization_slug=request.organization.slug)
    return render(request, "dashboard/integrations/disconnect.html", {
        "integration": integration, "summary": summary,
    })


# --- Mappings (admins and payroll admins) ---------------------------------------------------


def _apply_mapping(request: HttpRequest, integration: Integration, form: MappingForm) -> str:
    """Link or unlink one item through its service; returns what was done, for the message."""
    data = form.cleaned_data
    remote_id = data["remote_id"] if data["action"] == "link" else ""
    actor, organization = request.membership, request.organization
    if data["kind"] == "worker":
        worker = selectors.worker_get(organization=organization, worker_id=data["item"])
        sync_services.worker_link_set(actor=actor, integration=integration, worker=worker,
                                      remote_worker_id=remote_id)
        subject = worker.name
    elif data["kind"] == "project":
        project = selectors.project_get(membership=actor, project_id=data["item"])
        sync_services.project_link_set(actor=actor, integration=integration, project=project,
                                       remote_project_id=remote_id)
        subject = str(project)
    else:
        cost_code = selectors.cost_code_get(organization=organization,
                                            cost_code_id=data["item"])
        sync_services.cost_code_link_set(actor=actor, integration=integration,
                                         cost_code=cost_code, remote_cost_code_id=remote_id)
        subject = str(cost_code)
    if remote_id:
        return f"{subject} is linked to {remote_id} in {integration.name}, by hand: refreshing " \
               "links keeps it."
    return (f"{subject} is no longer linked by hand; the next refresh from "
            f"{integration.get_kind_display()} matches it again.")


@organization_view
@require_http_methods(["GET", "POST"])
def integration_mappings(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = _integration(request, integration_id)
    roles.require_mapping_editor(request.membership)
    if request.method == "POST":
        form = MappingForm(request.POST)
        if form.is_valid():
            try:
                message = _apply_mapping(request, integration, form)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, message)
        else:
            messages.error(request, " ".join(
                error for errors in form.errors.values() for error in errors))
        anchor = {"worker": "workers", "project": "projects", "cost_code": "cost-codes"}.get(
            request.POST.get("kind", ""), "")
        url = reverse("integration_mappings", kwargs={
            "organization_slug": request.organization.slug, "integration_id": integration.pk})
        return redirect(f"{url}#{anchor}" if anchor else url)
    overview = mappings.mapping_overview(integration=integration)
    return render(request, "dashboard/integrations/mappings.html", {
        "integration": integration, "overview": overview, "counts": overview.counts,
    })


# --- Logs -----------------------------------------------------------------------------------


@organization_view
@require_GET
def sync_logs(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = _integration(request, integration_id)
    form = SyncLogFilterForm(
        request.GET or None, projects=selectors.project_list(membership=request.membership)
    )
    filters = form.filters()
    runs = sync_selectors.run_list(membership=request.membership, integration=integration,
                                   **filters)
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    return render(request, "dashboard/sync_logs.html", {
        "integration": integration, "page": page, "form": form, "filtered": bool(filters),
    })


@organization_view
@require_GET
def sync_run_detail(request: HttpRequest, integration_id: int, run_id: int) -> HttpResponse:
    integration = _integration(request, integration_id)
    run = sync_selectors.run_get(membership=request.membership, run_id=run_id,
                                 integration=integration)
    entries = Paginator(run.entries.order_by("id"), 200).get_page(request.GET.get("page"))
    return render(request, "dashboard/sync_run_detail.html", {
        "integration": integration, "run": run, "entries": entries,
    })


@organization_view
@require_GET
def sync_run_csv(request: HttpRequest, integration_id: int, run_id: int) -> HttpResponse:
    integration = _integration(request, integration_id)
    run = sync_selectors.run_get(membership=request.membership, run_id=run_id,
                                 integration=integration)
    return csv_response(run)


integration_patterns = [
    path("integrations/", integration_list, name="integration_list"),
    path("integrations/failure-emails/", sync_failure_emails, name="sync_failure_emails"),
    path("integrations/connect/", integration_connect, name="integration_connect"),
    path("integrations/<int:integration_id>/settings/", integration_settings,
         name="integration_settings"),
    path("integrations/<int:integration_id>/settings/test/", integration_test,
         name="integration_test"),
    path("integrations/<int:integration_id>/refresh-links/", integration_refresh,
         name="integration_refresh_links"),
    path("integrations/<int:integration_id>/catalog/", integration_catalog_status,
         name="integration_catalog_status"),
    path("integrations/<int:integration_id>/disconnect/", integration_disconnect,
         name="integration_disconnect"),
    path("integrations/<int:integration_id>/mappings/", integration_mappings,
         name="integration_mappings"),
    path("integrations/<int:integration_id>/logs/", sync_logs, name="sync_logs"),
    path("integrations/<int:integration_id>/logs/<int:run_id>/", sync_run_detail,
         name="sync_run_detail"),
    path("integrations/<int:integration_id>/logs/<int:run_id>/csv/", sync_run_csv,
         name="sync_run_csv"),
]
