"""Pages. Each view parses the request, calls a selector or a service, and renders."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_POST

from dashboard import forms
from dashboard.tenancy import LAST_ORGANIZATION_KEY, organization_view
from timesync import roles, selectors, services, time_rules
from timesync import sign_up as sign_up_service


def _add_errors(form, error: ValidationError) -> None:
    """Show a service's validation errors on the form, on the field at fault when it has one."""
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages_)
    else:
        form.add_error(None, error.messages)


# --- Entry, sign-up, organizations ----------------------------------------------------------


def favicon(request: HttpRequest) -> HttpResponse:
    return redirect(static("favicon.svg"), permanent=True)


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    memberships = list(selectors.memberships_for_user(user=request.user))
    if not memberships:
        return render(request, "dashboard/no_organization.html")
    last = request.session.get(LAST_ORGANIZATION_KEY)
    slugs = [m.organization.slug for m in memberships]
    return redirect("organization_home", organization_slug=last if last in slugs else slugs[0])


def sign_up(request: HttpRequest) -> HttpResponse:
    """The same answer whether or not the address has an account ("check your email"), as
    password reset does: the page must not tell a stranger who our customers are."""
    form = forms.SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sign_up_service.sign_up_request(
                **form.cleaned_data,
                confirm_url_template=_absolute_url_template(request, "sign_up_confirm"),
                sign_in_url=request.build_absolute_uri(reverse("login")),
                password_reset_url=request.build_absolute_uri(reverse("password_reset")),
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            return render(request, "registration/sign_up_sent.html",
                          {"email": form.cleaned_data["email"]})
    return render(request, "registration/sign_up.html", {"form": form})


def sign_up_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """A sign-up link: its page asks to finish (a mail scanner following the link creates
    nothing); the button creates the organization and signs its admin in."""
    try:
        details = sign_up_service.sign_up_details(token=token)
    except sign_up_service.SignUpLinkInvalid:
        return render(request, "registration/sign_up_invalid.html", status=404)
    if request.method == "POST":
        try:
            membership = sign_up_service.sign_up_confirm(token=token)
        except sign_up_service.SignUpAlreadyDone:
            messages.info(request, "This account exists already: sign in.")
            return redirect("login")
        login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome to Timesync, {membership.organization.name}!")
        return redirect("organization_home", organization_slug=membership.organization.slug)
    return render(request, "registration/sign_up_confirm.html", {"details": details})


@login_required
def organization_new(request: HttpRequest) -> HttpResponse:
    form = forms.NewOrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.organization_create(user=request.user, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"{membership.organization.name} is ready.")
            return redirect("organization_home", organization_slug=membership.organization.slug)
    return render(request, "dashboard/organization_new.html", {"form": form})


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_for_token(token=token)
    if invitation is None:
        return render(request, "dashboard/invitation_invalid.html", status=404)
    signed_in = request.user.is_authenticated
    form = None if signed_in else forms.AcceptInvitationForm(request.POST or None)
    if request.method == "POST" and (signed_in or form.is_valid()):
        try:
            membership = services.invitation_accept(
                token=token,
                user=request.user if signed_in else None,
                **({} if signed_in else form.cleaned_data),
            )
        except ValidationError as error:
            if form is None:
                messages.error(request, " ".join(error.messages))
            else:
                _add_errors(form, error)
        else:
            if not signed_in:
                login(request, membership.user,
                      backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"You joined {membership.organization.name}.")
            return redirect("organization_home", organization_slug=membership.organization.slug)
    return render(
        request, "dashboard/invitation_accept.html", {"invitation": invitation, "form": form}
    )


# --- Inside an organization -----------------------------------------------------------------


def _requested_day(request: HttpRequest, parameter: str, time_zone: str) -> date:
    """The day asked for in the query string, else today where the work happens (with a
    message when the day asked for is outside the dates Timesync keeps)."""
    try:
        day = date.fromisoformat(request.GET.get(parameter, ""))
    except ValueError:
        return time_rules.today(time_zone)
    problem = time_rules.outside_work_window(day)
    if problem:
        messages.warning(request, f"{day.isoformat()} is out of range: {problem} "
                                  "Showing today instead.")
        return time_rules.today(time_zone)
    return day


def _week_of(request: HttpRequest) -> date:
    day = _requested_day(request, "week", request.organization.time_zone)
    return day - timedelta(days=day.weekday())


@organization_view
def organization_home(request: HttpRequest) -> HttpResponse:
    monday = _week_of(request)
    sunday = monday + timedelta(days=6)
    in_week = Q(shifts__work_date__range=(monday, sunday), shifts__deleted_at__isnull=True)
    projects = selectors.project_list(membership=request.membership).annotate(
        week_shifts=Count("shifts", filter=in_week),
        week_pending=Count("shifts", filter=in_week & Q(shifts__approval_state="pending")),
    )
    return render(request, "dashboard/organization_home.html", {
        "projects": projects,
        "monday": monday,
        "sunday": sunday,
        "previous_week": monday - timedelta(days=7),
        "next_week": monday + timedelta(days=7),
    })


@organization_view
def organization_settings(request: HttpRequest) -> HttpResponse:
    roles.require(roles.can_manage_organization(request.membership),
                  "Only admins change organization settings.")
    organization = request.organization
    form = forms.OrganizationSettingsForm(
        request.POST or None,
        initial={"name": organization.name, "time_zone": organization.time_zone},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.organization_update(actor=request.membership, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, "Settings saved.")
            return redirect("organization_settings", organization_slug=organization.slug)
    return render(request, "dashboard/organization_settings.html", {"form": form})


def _absolute_url_template(request: HttpRequest, name: str) -> str:
    """An absolute URL of a route taking a token, with a `{token}` placeholder for it."""
    url = request.build_absolute_uri(reverse(name, args=["TOKEN"]))
    return url.replace("TOKEN", "{token}")


def _accept_url_template(request: HttpRequest) -> str:
    return _absolute_url_template(request, "invitation_accept")


@organization_view
def members(request: HttpRequest) -> HttpResponse:
    roles.require(roles.can_manage_organization(request.membership), "Only admins manage members.")
    form = forms.InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_create(
                actor=request.membership, accept_url_template=_accept_url_template(request),
                **form.cleaned_data,
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("members", organization_slug=request.organization.slug)
    return render(request, "dashboard/members.html", {
        "form": form,
        "members": selectors.member_list(organization=request.organization),
        "invitations": selectors.open_invitation_list(organization=request.organization),
    })


@organization_view
def member_edit(request: HttpRequest, membership_id: int) -> HttpResponse:
    roles.require(roles.can_manage_organization(request.membership), "Only admins manage members.")
    member = selectors.member_get(organization=request.organization, membership_id=membership_id)
    projects = selectors.project_list(membership=request.membership)
    form = forms.RoleForm(
        request.POST or None, projects=projects,
        initial={"role": member.role, "assigned_projects": member.assigned_projects.all()},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.member_change_role(actor=request.membership, membership=member,
                                        **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"{member.user} is now {member.get_role_display()}.")
            return redirect("members", organization_slug=request.organization.slug)
    return render(request, "dashboard/member_edit.html", {"member": member, "form": form})


@require_POST
@organization_view
def member_set_active(request: HttpRequest, membership_id: int) -> HttpResponse:
    roles.require(roles.can_manage_organization(request.membership), "Only admins manage members.")
    member = selectors.member_get(organization=request.organization, membership_id=membership_id)
    active = request.POST.get("active") == "true"
    try:
        services.member_set_active(actor=request.membership, membership=member, active=active)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, f"{member.user} {'can sign in again' if active else 'was deactivated'}."
        )
    return redirect("members", organization_slug=request.organization.slug)


@require_POST
@organization_view
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = selectors.invitation_get(
        organization=request.organization, invitation_id=invitation_id
    )
    services.invitation_revoke(actor=request.membership, invitation=invitation)
    messages.success(request, f"Invitation of {invitation.email} revoked.")
    return redirect("members", organization_slug=request.organization.slug)
