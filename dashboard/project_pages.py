"""Project pages: a project's day (a card per connected integration with its link, "Sync Only
Approved Shifts", recent syncs and the Sync Timesheet button; the day's shifts with approval one
by one or in bulk), one shift with its history, and editing or deleting a shift.

Every view finds its objects through the selectors first (another tenant's id, or a project not
assigned to a project manager, is a 404), then checks the role (403), then calls a service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.views.decorators.http import require_GET, require_POST

from dashboard import forms
from dashboard.sync_dashboard import POLL_SECONDS
from dashboard.tenancy import organization_view
from dashboard.views import _add_errors, _requested_day
from timesync import roles, selectors, services, time_rules
from timesync.models import ApprovalState, Integration, Project, Shift
from timesync.sync import selectors as sync_selectors
from timesync.sync import services as sync_services
from timesync.sync.selectors import ProjectSyncCard

RECENT_SYNC_DAYS = 7  # the integration card lists the last sync of each of these days


# --- The project day ------------------------------------------------------------------------


@dataclass(frozen=True)
class CardView:
    card: ProjectSyncCard
    mappings_url: str


@dataclass(frozen=True)
class DayTotals:
    hours: Decimal  # what payroll gets: every shift but the rejected ones
    approved: Decimal
    pending: Decimal
    rejected: Decimal
    rejected_count: int


def _day_totals(shifts: list[Shift]) -> DayTotals:
    def total(state: str | None = None, exclude: str | None = None) -> Decimal:
        return sum(
            (s.paid_hours or Decimal("0.00") for s in shifts
             if (state is None or s.approval_state == state) and s.approval_state != exclude),
            Decimal("0.00"),
        )

    return DayTotals(
        hours=total(exclude=ApprovalState.REJECTED),
        approved=total(ApprovalState.APPROVED),
        pending=total(ApprovalState.PENDING),
        rejected=total(ApprovalState.REJECTED),
        rejected_count=sum(1 for s in shifts if s.approval_state == ApprovalState.REJECTED),
    )


def _mappings_url(request: HttpRequest, integration: Integration) -> str:
    """The integration's Mappings page (where projects are linked to remote jobs), or the
    integrations list while that page does not exist."""
    slug = request.organization.slug
    try:
        return reverse("integration_mappings", kwargs={
            "organization_slug": slug, "integration_id": integration.pk}) + "#projects"
    except NoReverseMatch:
        return reverse("integration_list", kwargs={"organization_slug": slug})


def _today(project: Project) -> date:
    return time_rules.today(project.effective_time_zone)


@organization_view
@require_GET
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = request.membership
    project = selectors.project_get(membership=membership, project_id=project_id)
    day = _requested_day(request, "date", project.effective_time_zone)
    shifts = list(selectors.shift_list(membership=membership, project_id=project.pk,
                                       work_date=day))
    cards = sync_selectors.project_sync_cards(
        membership=membership, project=project,
        dates=[day - timedelta(days=n) for n in range(RECENT_SYNC_DAYS)],
    )
    can_work = roles.can_work_on_project(membership, project)
    return render(request, "dashboard/project_detail.html", {
        "project": project,
        "day": day,
        "today": _today(project),
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "shifts": shifts,
        "totals": _day_totals(shifts),
        "can_work": can_work,
        # Open shifts cannot be decided yet (the worker is on site): no checkbox for them.
        "decidable": can_work and any(s.end is not None for s in shifts),
        "pending_ids": [s.pk for s in shifts
                        if s.end is not None and s.approval_state == ApprovalState.PENDING],
        "cards": [CardView(card=c, mappings_url=_mappings_url(request, c.integration))
                  for c in cards],
        "can_sync": can_work,
        "can_set_approved_only": roles.can_edit_reference_data(membership),
        # The Mappings page is for those who may change how a project syncs.
        "can_link": roles.can_edit_reference_data(membership),
        "can_connect": roles.can_manage_organization(membership),
        "can_reconnect": roles.can_manage_integrations(membership),
        "poll_seconds": POLL_SECONDS,
    })


def _project_day(request: HttpRequest, project: Project, day: date | None = None
                 ) -> HttpResponse:
    """Back to the project's day (the one posted in `date`, else the given one, else today)."""
    if day is None:
        try:
            day = date.fromisoformat(request.POST.get("date", ""))
        except ValueError:
            day = _today(project)
    url = reverse("project_detail", kwargs={"organization_slug": request.organization.slug,
                                            "project_id": project.pk})
    return redirect(f"{url}?date={day.isoformat()}")


@require_POST
@organization_view
def project_link_toggle(request: HttpRequest, project_id: int, integration_id: int
                        ) -> HttpResponse:
    """Switch "Sync Only Approved Shifts" for one project and integration."""
    project = selectors.project_get(membership=request.membership, project_id=project_id)
    integration = sync_selectors.integration_get(membership=request.membership,
                                                 integration_id=integration_id)
    roles.require(roles.can_edit_reference_data(request.membership),
                  "Only admins and payroll admins change how a project syncs.")
    form = forms.ApprovedOnlyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose on or off for Sync Only Approved Shifts.")
        return _project_day(request, project)
    approved_only = form.cleaned_data["sync_only_approved"]
    try:
        sync_services.project_link_set(actor=request.membership, integration=integration,
                                       project=project, sync_only_approved=approved_only)
    except ValidationError:
        messages.error(request, f"{project} is not linked to a {integration.get_kind_display()} "
                                "job yet: link it on the integration's Mappings page first.")
    else:
        messages.success(request, (
            f"Sync Only Approved Shifts is on for {integration.name}: only approved shifts of "
            f"{project.name} are sent." if approved_only else
            f"Sync Only Approved Shifts is off for {integration.name}: every shift of "
            f"{project.name} that is not rejected is sent."))
    return _project_day(request, project)


@require_POST
@organization_view
def shifts_decide(request: HttpRequest, project_id: int) -> HttpResponse:
    """Approve or reject one or many shifts of the project: all of them, or none."""
    project = selectors.project_get(membership=request.membership, project_id=project_id)
    roles.require(roles.can_work_on_project(request.membership, project),
                  "You can approve shifts only on projects assigned to you.")
    form = forms.ShiftsDecisionForm(
        request.POST,
        shifts=selectors.shift_list(membership=request.membership, project_id=project.pk),
    )
    if not form.is_valid():
        messages.error(request, " ".join(
            message for errors in form.errors.values() for message in errors))
        return _project_day(request, project)
    approve = form.cleaned_data["decision"] == "approve"
    chosen = list(form.cleaned_data["shift"])
    try:
        services.shifts_decide(actor=request.membership, shifts=chosen, approve=approve,
                               reason=form.cleaned_data["reason"])
    except (ValidationError, PermissionDenied) as error:
        text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        messages.error(request, f"Nothing was changed: {text}")
    else:
        what = (f"{chosen[0].worker.name}'s shift" if len(chosen) == 1
                else f"{len(chosen)} shifts")
        messages.success(request, f"Approved {what}." if approve else f"Rejected {what}.")
    return _project_day(request, project)


# --- One shift ------------------------------------------------------------------------------


@organization_view
def shift_detail(request: HttpRequest, shift_id: int) -> HttpResponse:
    shift = selectors.shift_get(membership=request.membership, shift_id=shift_id)
    back = redirect("shift_detail", organization_slug=request.organization.slug,
                    shift_id=shift.pk)
    if request.method == "POST":
        form = forms.ReasonedDecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(
                message for errors in form.errors.values() for message in errors))
            return back
        try:
            services.shift_decide(
                actor=request.membership, shift=shift,
                approve=form.cleaned_data["decision"] == "approve",
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        except PermissionDenied as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "Shift approved." if form.cleaned_data["decision"]
                             == "approve" else "Shift rejected.")
        return back
    return render(request, "dashboard/shift_detail.html", {
        "shift": shift,
        "history": selectors.shift_history(shift=shift),
        "can_work": roles.can_work_on_project(request.membership, shift.project),
    })


def _editable_shift(request: HttpRequest, shift_id: int) -> Shift:
    shift = selectors.shift_get(membership=request.membership, shift_id=shift_id)
    roles.require(roles.can_work_on_project(request.membership, shift.project),
                  "You can change shifts only on projects assigned to you.")
    return shift


def _stale_message(error: services.StaleVersion) -> str:
    return (f"This shift was changed by someone else while you were editing (it is now "
            f"version {error.current_version}). Nothing was saved: reload to see their change, "
            "then apply yours again.")


@organization_view
def shift_edit(request: HttpRequest, shift_id: int) -> HttpResponse:
    shift = _editable_shift(request, shift_id)
    cost_codes = selectors.cost_code_list(organization=request.organization).filter(
        Q(is_active=True) | Q(pk=shift.cost_code_id))  # a retired code the shift has stays
    form = forms.ShiftEditForm(request.POST or None, shift=shift, cost_codes=cost_codes)
    stale = False
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        version = fields.pop("version")
        was_decided = shift.approval_state != ApprovalState.PENDING
        try:
            saved = services.shift_update(actor=request.membership, shift=shift,
                                          expected_version=version, **fields)
        except services.StaleVersion as error:
            stale = True
            form.add_error(None, _stale_message(error))
        except ValidationError as error:
            _add_errors(form, error)
        else:
            if saved.version == version:
                messages.info(request, "Nothing changed: the shift is as it was.")
            else:
                note = (" Its hours changed, so it is pending approval again."
                        if was_decided and saved.approval_state == ApprovalState.PENDING else "")
                messages.success(request, f"Saved {saved.worker.name}'s shift "
                                          f"(version {saved.version}).{note}")
            return _project_day(request, saved.project, saved.work_date)
    return render(request, "dashboard/projects/shift_edit.html", {
        "shift": shift, "form": form, "stale": stale,
        "time_zone": shift.project.effective_time_zone,
    })


@organization_view
def shift_delete(request: HttpRequest, shift_id: int) -> HttpResponse:
    """A confirmation page (GET) and the deletion (POST)."""
    shift = _editable_shift(request, shift_id)
    if request.method == "POST":
        try:
            version = int(request.POST.get("version", ""))
        except ValueError:
            version = None
        try:
            services.shift_delete(actor=request.membership, shift=shift,
                                  expected_version=version)
        except services.StaleVersion as error:
            messages.error(request, _stale_message(error))
            return redirect("shift_delete", organization_slug=request.organization.slug,
                            shift_id=shift.pk)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, (
                f"Deleted {shift.worker.name}'s shift of {shift.work_date:%b} "
                f"{shift.work_date.day}. If it was synced, the next sync of that day removes "
                "it from payroll."))
        return _project_day(request, shift.project, shift.work_date)
    return render(request, "dashboard/projects/shift_delete.html", {"shift": shift})


project_patterns = [
    path("projects/<int:project_id>/", project_detail, name="project_detail"),
    path("projects/<int:project_id>/shifts/decide/", shifts_decide, name="shifts_decide"),
    path("projects/<int:project_id>/integrations/<int:integration_id>/approved-only/",
         project_link_toggle, name="project_link_toggle"),
    path("shifts/<int:shift_id>/", shift_detail, name="shift_detail"),
    path("shifts/<int:shift_id>/edit/", shift_edit, name="shift_edit"),
    path("shifts/<int:shift_id>/delete/", shift_delete, name="shift_delete"),
]
