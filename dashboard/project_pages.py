"""Project pages: a project's day of shifts (with approval) and one shift with its history."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path

from dashboard import forms
from dashboard.tenancy import organization_view
from dashboard.views import _requested_day
from timesync import roles, selectors, services


@organization_view
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    project = selectors.project_get(membership=request.membership, project_id=project_id)
    day = _requested_day(request, "date", project.effective_time_zone)
    shifts = selectors.shift_list(membership=request.membership, project_id=project.pk,
                                  work_date=day)
    return render(request, "dashboard/project_detail.html", {
        "project": project,
        "day": day,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "shifts": shifts,
        "total_hours": sum((s.paid_hours or 0) for s in shifts),
        "can_work": roles.can_work_on_project(request.membership, project),
    })


@organization_view
def shift_detail(request: HttpRequest, shift_id: int) -> HttpResponse:
    shift = selectors.shift_get(membership=request.membership, shift_id=shift_id)
    form = forms.DecisionForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            messages.error(request, "Choose approve or reject (a reason has 500 characters "
                                    "at most).")
            return redirect("shift_detail", organization_slug=request.organization.slug,
                            shift_id=shift.pk)
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
        return redirect("shift_detail", organization_slug=request.organization.slug,
                        shift_id=shift.pk)
    return render(request, "dashboard/shift_detail.html", {
        "shift": shift,
        "history": selectors.shift_history(shift=shift),
        "can_work": roles.can_work_on_project(request.membership, shift.project),
    })


project_patterns = [
    path("projects/<int:project_id>/", project_detail, name="project_detail"),
    path("shifts/<int:shift_id>/", shift_detail, name="shift_detail"),
]
