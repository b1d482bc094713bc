"""Connecting Procore from the pages: the connect form, "Connect to Procore" (out to Procore's
sign-in with a state bound to this browser's session and the integration) and the callback
Procore sends the admin back to. The rules live in timesync/sync/procore.py; here requests are
parsed and answers rendered."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from connectors.base import ConnectorError
from dashboard.integration_forms import ProcoreConnectForm
from dashboard.integration_pages import _add_errors, _integration
from dashboard.tenancy import organization_view
from timesync import roles
from timesync.models import IntegrationKind
from timesync.sync import procore, procore_receive, reference_import
from timesync.sync import selectors as sync_selectors
from timesync.sync import services as sync_services


def _settings(request: HttpRequest, integration_id: int) -> HttpResponse:
    return redirect("integration_settings", organization_slug=request.organization.slug,
                    integration_id=integration_id)


@organization_view
@require_http_methods(["GET", "POST"])
def procore_connect(request: HttpRequest) -> HttpResponse:
    roles.require_integration_manager(request.membership)
    form = ProcoreConnectForm(
        request.POST or None,
        integrations=sync_selectors.integration_list(membership=request.membership))
    if request.method == "POST" and form.is_valid():
        try:
            integration = sync_services.integration_connect(
                actor=request.membership, kind=IntegrationKind.PROCORE,
                name=form.cleaned_data["name"], settings=form.settings(),
                credentials=form.credentials())
            if not integration.is_connected:  # the admin allows the app at Procore
                return redirect(procore.procore_authorization_begin(
                    actor=request.membership, integration=integration, session=request.session))
        except ValidationError as error:
            _add_errors(form, error)
        except ConnectorError as error:
            form.add_error(None, f"Not connected: {error}")
        else:
            messages.success(request, _connected(integration))
            return _settings(request, integration.pk)
    return render(request, "dashboard/integrations/procore_connect.html", {"form": form})


@organization_view
@require_http_methods(["GET", "POST"])
def procore_authorize(request: HttpRequest, integration_id: int) -> HttpResponse:
    """GET: what connecting does, with the button (a link the API hands out lands here).
    POST: off to Procore (authorization code), or connected at once (client credentials)."""
    integration = _integration(request, integration_id)
    roles.require_integration_manager(request.membership)
    if integration.kind != IntegrationKind.PROCORE:
        return _settings(request, integration.pk)
    error = ""
    if request.method == "POST":
        try:
            if procore.uses_client_credentials(integration):
                integration = procore.procore_connect_again(actor=request.membership,
                                                            integration=integration)
                messages.success(request, _connected(integration))
                return _settings(request, integration.pk)
            return redirect(procore.procore_authorization_begin(
                actor=request.membership, integration=integration, session=request.session))
        except ConnectorError as failure:
            error = f"Not connected: {failure}"
    return render(request, "dashboard/integrations/procore_authorize.html", {
        "integration": integration, "error": error,
        "client_credentials": procore.uses_client_credentials(integration),
    }, status=400 if error else 200)


@login_required
@require_GET
def procore_callback(request: HttpRequest) -> HttpResponse:
    """Where Procore sends the admin back. The state is checked (and spent) before anything
    else; a wrong, replayed or expired one changes nothing and says so."""
    try:
        integration = procore.procore_authorization_finish(
            user=request.user, session=request.session,
            state=request.GET.get("state", "")[:200], code=request.GET.get("code", "")[:2000],
            error=request.GET.get("error", ""))
    except procore.AuthorizationRefused as refusal:
        return render(request, "dashboard/integrations/procore_callback_failed.html",
                      {"reason": str(refusal)}, status=400)
    messages.success(request, _connected(integration))
    return redirect("integration_settings", organization_slug=integration.organization.slug,
                    integration_id=integration.pk)


@organization_view
@require_POST
def procore_message_retry(request: HttpRequest, integration_id: int,
                          message_id: int) -> HttpResponse:
    """The Activity section's Retry button on a failed message from Procore."""
    integration = _integration(request, integration_id)
    procore_receive.inbound_event_retry(actor=request.membership, integration=integration,
                                        event_id=message_id)
    messages.success(request, "Sent again: the message is applied in a moment.")
    return redirect(reverse("integration_settings", kwargs={
        "organization_slug": request.organization.slug,
        "integration_id": integration.pk}) + "#procore-activity")


def _connected(integration) -> str:
    company = (integration.settings or {}).get("company_name") or "the company"
    return f"Connected to Procore: {integration.name} writes to {company}."


@organization_view
@require_POST
def procore_import(request: HttpRequest, integration_id: int) -> HttpResponse:
    """Import from Procore: link what matches, create ours for the rest, and say so. Waits
    for Procore (an admin asked for exactly this, and wants the report)."""
    integration = _integration(request, integration_id)
    roles.require_integration_manager(request.membership)
    try:
        report = reference_import.references_import(
            actor=request.membership, integration=integration,
            sub_jobs_as_projects=request.POST.get("sub_jobs_as_projects") == "on")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except ConnectorError as error:
        messages.error(request, f"Nothing was imported: {error}")
    else:
        messages.success(request, f"Imported from Procore. {report.summary}")
        if report.created:
            messages.info(request, "Created: " + _some(report.created))
        if report.left_unmatched:
            messages.warning(request, "Left unmatched: " + _some(report.left_unmatched))
    return redirect("integration_mappings", organization_slug=request.organization.slug,
                    integration_id=integration_id)


def _some(names: list[str], shown: int = 20) -> str:
    more = len(names) - shown
    return "; ".join(names[:shown]) + (f"; and {more} more." if more > 0 else ".")


@organization_view
@require_POST
def procore_prerequisites(request: HttpRequest, integration_id: int) -> HttpResponse:
    """Check Procore's prerequisites again; the settings page shows the lines."""
    integration = _integration(request, integration_id)
    roles.require_integration_manager(request.membership)
    try:
        lines = procore.procore_prerequisites_check(actor=request.membership,
                                                    integration=integration)
    except ConnectorError as error:
        messages.error(request, f"Not checked: {error}")
    else:
        missing = [line.label for line in lines if not line.ok]
        if missing:
            messages.warning(request, "Procore is missing: " + "; ".join(missing) + ".")
        else:
            messages.success(request, "Procore has everything a sync needs.")
    return _settings(request, integration_id)


procore_patterns = [
    path("integrations/<int:integration_id>/procore/prerequisites/", procore_prerequisites,
         name="procore_prerequisites"),
    path("integrations/<int:integration_id>/procore/import/", procore_import,
         name="procore_import"),
    path("integrations/connect/procore/", procore_connect, name="procore_connect"),
    path("integrations/<int:integration_id>/procore/authorize/", procore_authorize,
         name="procore_authorize"),
    path("integrations/<int:integration_id>/procore/messages/<int:message_id>/retry/",
         procore_message_retry, name="procore_message_retry"),
]
callback_patterns = [
    # One fixed address, registered with the Procore app: the state says which integration.
    path("procore/callback/", procore_callback, name="procore_callback"),
]
