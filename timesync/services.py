"""Write paths. Plain functions with keyword arguments, one transaction each.

Each takes the acting `Membership` (the who, the organization and the role), checks the role
through `timesync.roles`, validates, writes, and records history with the actor. Errors are
Django `ValidationError` (with the field at fault) or `PermissionDenied`; the API and the pages
turn them into 400 and 403.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from timesync import roles, selectors, time_rules
from timesync.models import (
    ApprovalState,
    CostCode,
    Invitation,
    Membership,
    Organization,
    Project,
    Role,
    Shift,
    TimeType,
    User,
    Worker,
    validate_time_zone,
)

# --- Organizations and members --------------------------------------------------------------


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def organization_sign_up(
    *, organization_name: str, time_zone: str, email: str, full_name: str, password: str
) -> Membership:
    """Self-service sign-up: a new organization and its first admin."""
    validate_time_zone(time_zone)
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(
            {"email": "An account with this email exists already: sign in and create the "
                      "organization from there, or reset the password."}
        )
    user = User.objects.create_user(email=email, password=password, full_name=full_name)
    return organization_create(user=user, name=organization_name, time_zone=time_zone)


@transaction.atomic
def organization_create(*, user: User, name: str, time_zone: str) -> Membership:
    """A signed-in user starts another organization and becomes its admin."""
    validate_time_zone(time_zone)
    if not name.strip():
        raise ValidationError({"name": "Give the organization a name."})
    organization = Organization.objects.create(
        name=name.strip(), slug=_unique_slug(name), time_zone=time_zone
    )
    return Membership.objects.create(organization=organization, user=user, role=Role.ADMIN)


@transaction.atomic
def organization_update(*, actor: Membership, name: str, time_zone: str) -> Organization:
    roles.require(roles.can_manage_organization(actor), "Only admins change organization settings.")
    validate_time_zone(time_zone)
    organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
    zone_changed = organization.time_zone != time_zone
    organization.name = name.strip() or organization.name
    organization.time_zone = time_zone
    organization.save(update_fields=["name", "time_zone"])
    if zone_changed:
        for project in organization.projects.filter(time_zone=""):
            _recompute_work_dates(project=project, actor=actor.user)
    return organization


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str  # the one copy of the secret: goes into the email link, never stored


@transaction.atomic
def invitation_create(
    *, actor: Membership, email: str, role: str, accept_url_template: str
) -> IssuedInvitation:
    """Invite someone by email. `accept_url_template` has a `{token}` placeholder."""
    roles.require(roles.can_manage_organization(actor), "Only admins invite members.")
    if role not in Role.values:
        raise ValidationError({"role": f"Choose one of: {', '.join(Role.values)}."})
    email = User.objects.normalize_email(email).lower()
    if Membership.objects.filter(
        organization_id=actor.organization_id, user__email__iexact=email
    ).exists():
        raise ValidationError({"email": f"{email} is a member already."})
    # A new invitation replaces an open one: the newest link is the one that works.
    Invitation.objects.filter(
        organization_id=actor.organization_id, email=email,
        accepted_at__isnull=True, revoked_at__isnull=True,
    ).update(revoked_at=timezone.now())
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization_id=actor.organization_id,
        email=email,
        role=role,
        token_hash=_token_hash(token),
        invited_by=actor.user,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_MAX_AGE_DAYS),
    )
    from timesync.tasks import send_invitation_email

    accept_url = accept_url_template.format(token=token)
    transaction.on_commit(
        lambda: send_invitation_email.delay(invitation_id=invitation.pk, accept_url=accept_url)
    )
    return IssuedInvitation(invitation=invitation, token=token)


def invitation_for_token(*, token: str) -> Invitation | None:
    """The open invitation a link's token belongs to, or None (expired, used, revoked)."""
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(token_hash=_token_hash(token))
        .first()
    )
    return invitation if invitation is not None and invitation.is_open else None


@transaction.atomic
def invitation_accept(
    *, token: str, user: User | None = None, full_name: str = "", password: str = ""
) -> Membership:
    """Join through an invitation, as the signed-in user or as a new account."""
    invitation = invitation_for_token(token=token)
    if invitation is None:
        raise ValidationError("This invitation has expired or was already used.")
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if user is None:
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise ValidationError(
                f"An account for {invitation.email} exists: sign in to accept the invitation."
            )
        user = User.objects.create_user(
            email=invitation.email, password=password, full_name=full_name
        )
    elif user.email.lower() != invitation.email.lower():
        raise ValidationError(
            f"This invitation is for {invitation.email}; you are signed in as {user.email}."
        )
    membership, created = Membership.objects.get_or_create(
        organization_id=invitation.organization_id,
        user=user,
        defaults={"role": invitation.role},
    )
    if not created:
        membership.role = invitation.role
        membership.is_active = True
        membership.save(update_fields=["role", "is_active"])
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


@transaction.atomic
def invitation_revoke(*, actor: Membership, invitation: Invitation) -> None:
    roles.require(roles.can_manage_organization(actor), "Only admins revoke invitations.")
    _same_organization(actor, invitation.organization_id)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])


def _ensure_an_admin_remains(organization_id: int) -> None:
    if not Membership.objects.filter(
        organization_id=organization_id, role=Role.ADMIN, is_active=True
    ).exists():
        raise ValidationError(
            {"role": "An organization needs at least one active admin; make someone else "
                     "admin first."}
        )


@transaction.atomic
def member_change_role(
    *, actor: Membership, membership: Membership, role: str,
    assigned_projects: Iterable[Project] | None = None,
) -> Membership:
    roles.require(roles.can_manage_organization(actor), "Only admins change roles.")
    _same_organization(actor, membership.organization_id)
    if role not in Role.values:
        raise ValidationError({"role": f"Choose one of: {', '.join(Role.values)}."})
    # Lock the organization's admins so two admins demoting each other cannot leave none.
    list(Membership.objects.select_for_update().filter(
        organization_id=membership.organization_id, role=Role.ADMIN
    ))
    membership.role = role
    membership.save(update_fields=["role"])
    if assigned_projects is not None:
        projects = list(assigned_projects)
        for project in projects:
            _same_organization(actor, project.organization_id)
        membership.assigned_projects.set(projects)
    _ensure_an_admin_remains(membership.organization_id)
    return membership


@transaction.atomic
def member_set_active(*, actor: Membership, membership: Membership, active: bool) -> Membership:
    roles.require(roles.can_manage_organization(actor), "Only admins deactivate members.")
    _same_organization(actor, membership.organization_id)
    list(Membership.objects.select_for_update().filter(
        organization_id=membership.organization_id, role=Role.ADMIN
    ))
    membership.is_active = active
    membership.save(update_fields=["is_active"])
    _ensure_an_admin_remains(membership.organization_id)
    return membership


def _same_organization(actor: Membership, organization_id: int) -> None:
    # Selectors already scope ids; this guards a service called with a foreign object.
    if actor.organization_id != organization_id:
        raise PermissionDenied("That belongs to another organization.")


# --- Projects, workers, cost codes ----------------------------------------------------------


# The number each kind of reference data is known by, unique within an organization.
_UNIQUE_NUMBER = {
    Project: ("code", "project number"),
    Worker: ("employee_number", "employee number"),
    CostCode: ("code", "cost code"),
}


def _save(instance: Project | Worker | CostCode, *, actor: User | None) -> None:
    """Validate and save reference data, recording the actor in history.

    Django's own checks skip the per-organization unique constraints (they are conditional or
    include the organization) and would not name the field, so the number is checked here.
    """
    instance._history_user = actor
    instance.full_clean(exclude=["organization"], validate_constraints=False)
    field, label = _UNIQUE_NUMBER[type(instance)]
    value = getattr(instance, field)
    duplicate = ValidationError(
        {field: f"Another {type(instance)._meta.verbose_name} in this organization already has "
                f"{label} {value}."}
    )
    taken = type(instance).objects.filter(
        organization_id=instance.organization_id, **{field: value}
    ).exclude(pk=instance.pk)
    if value and taken.exists():
        raise duplicate
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as error:  # a concurrent save took the number after the check
        raise duplicate from error


@transaction.atomic
def project_create(*, actor: Membership, **fields: Any) -> Project:
    roles.require(roles.can_edit_reference_data(actor), "Your role cannot create projects.")
    project = Project(organization_id=actor.organization_id, **fields)
    _save(project, actor=actor.user)
    return project


@transaction.atomic
def project_update(*, actor: Membership, project: Project, **fields: Any) -> Project:
    roles.require(roles.can_edit_reference_data(actor), "Your role cannot edit projects.")
    _same_organization(actor, project.organization_id)
    zone_before = project.effective_time_zone
    for name, value in fields.items():
        setattr(project, name, value)
    _save(project, actor=actor.user)
    if project.effective_time_zone != zone_before:
        _recompute_work_dates(project=project, actor=actor.user)
    return project


def _recompute_work_dates(*, project: Project, actor: User) -> None:
    """A time zone change can move shifts to another work date; the version moves with them."""
    zone = project.effective_time_zone
    for shift in Shift.objects.select_for_update().filter(project=project, deleted_at__isnull=True):
        new_date = time_rules.work_date(shift.start, zone)
        if new_date != shift.work_date:
            shift.work_date = new_date
            shift.version += 1
            shift._history_user = actor
            shift.save(update_fields=["work_date", "version", "updated_at"])


@transaction.atomic
def worker_create(*, actor: Membership, **fields: Any) -> Worker:
    roles.require(roles.can_edit_reference_data(actor), "Your role cannot create workers.")
    worker = Worker(organization_id=actor.organization_id, **fields)
    _save(worker, actor=actor.user)
    return worker


@transaction.atomic
def worker_update(*, actor: Membership, worker: Worker, **fields: Any) -> Worker:
    roles.require(roles.can_edit_reference_data(actor), "Your role cannot edit workers.")
    _same_organization(actor, worker.organization_id)
    for name, value in fields.items():
        setattr(worker, name, value)
    _save(worker, actor=actor.user)
    return worker


@transaction.atomic
def cost_code_create(*, actor: Membership, **fields: Any) -> CostCode:
    roles.require(roles.can_edit_reference_data(actor), "Your role cannot create cost codes.")
    cost_code = CostCode(organization_id=actor.organization_id, **fields)
    _save(cost_code, actor=actor.user)
    return cost_code


@transaction.atomic
def cost_code_update(*, actor: Membership, cost_code: CostCode, **fields: Any) -> CostCode:
    roles.require(roles.can_edit_reference_data(actor), "Your role cannot edit cost codes.")
    _same_organization(actor, cost_code.organization_id)
    for name, value in fields.items():
        setattr(cost_code, name, value)
    _save(cost_code, actor=actor.user)
    return cost_code


# --- Shifts ---------------------------------------------------------------------------------

# Changing any of these changes paid hours or where they go: an approval no longer holds.
# The classification (the trade, as Procore keeps it) sets the wage rate: it is paid time too.
_PAID_TIME_FIELDS = ("worker", "project", "cost_code", "start", "end", "break_minutes", "time_type",
                     "classification")
_SHIFT_FIELDS = (*_PAID_TIME_FIELDS, "notes")


def _check_shift(shift: Shift, *, actor: Membership) -> None:
    """Tenant consistency, the role on the project, and the time rules."""
    for related in (shift.worker, shift.project, shift.cost_code):
        if related is not None:
            _same_organization(actor, related.organization_id)
    roles.require(
        roles.can_work_on_project(actor, shift.project),
        "You can change shifts only on projects assigned to you.",
    )
    errors: dict[str, str] = {}
    if shift.start.tzinfo is None:
        errors["start"] = "Give the start with its time zone or UTC offset."
    if shift.end is not None and shift.end.tzinfo is None:
        errors["end"] = "Give the end with its time zone or UTC offset."
    for name in ("start", "end"):
        value = getattr(shift, name)
        problem = value is not None and time_rules.outside_work_window(value.date())
        if problem:
            errors[name] = problem
    if errors:
        raise ValidationError(errors)
    if shift.end is not None:
        if shift.end <= shift.start:
            errors["end"] = "The end must be after the start."
        elif shift.end - shift.start > time_rules.MAX_SHIFT_LENGTH:
            errors["end"] = "A shift cannot last more than 24 hours; check the dates."
        elif shift.break_minutes * 60 >= (shift.end - shift.start).total_seconds():
            errors["break_minutes"] = "The unpaid break must be shorter than the shift."
    if shift.time_type not in TimeType.values:
        errors["time_type"] = f"Choose one of: {', '.join(TimeType.values)}."
    if errors:
        raise ValidationError(errors)
    _check_no_overlap(shift, actor=actor)


def _check_no_overlap(shift: Shift, *, actor: Membership) -> None:
    """One worker cannot be on two shifts at once: it would pay the same hour twice. The other
    shift is named only to a member who can see its project: a project manager learns that the
    worker is busy then, never where a project they are not assigned to has them."""
    others = Shift.objects.filter(worker=shift.worker, deleted_at__isnull=True).exclude(
        approval_state=ApprovalState.REJECTED
    )
    if shift.pk:
        others = others.exclude(pk=shift.pk)
    if shift.end is not None:
        others = others.filter(start__lt=shift.end)
    clash = others.filter(Q(end__gt=shift.start) | Q(end__isnull=True)).first()
    if clash is None:
        return
    visible = selectors.project_list(membership=actor).filter(pk=clash.project_id).exists()
    where = f" (#{clash.pk} on {clash.project}, {clash.work_date})" if visible else ""
    raise ValidationError({"start": f"{shift.worker} already has a shift at this time{where}."})


def _derive(shift: Shift) -> None:
    shift.work_date = time_rules.work_date(shift.start, shift.project.effective_time_zone)
    shift.paid_seconds = (
        None if shift.end is None
        else time_rules.paid_seconds(shift.start, shift.end, shift.break_minutes)
    )


def _lock_worker(worker: Worker) -> None:
    # Serialises a worker's shift writes so two requests cannot create overlapping shifts.
    Worker.objects.select_for_update().filter(pk=worker.pk).first()


@transaction.atomic
def shift_create(
    *,
    actor: Membership,
    worker: Worker,
    project: Project,
    start: datetime,
    end: datetime | None = None,
    break_minutes: int = 0,
    cost_code: CostCode | None = None,
    time_type: str = TimeType.REGULAR,
    notes: str = "",
    classification: str = "",
) -> Shift:
    _lock_worker(worker)
    shift = Shift(
        organization_id=actor.organization_id,
        worker=worker, project=project, cost_code=cost_code, start=start, end=end,
        break_minutes=break_minutes, time_type=time_type, notes=notes,
        classification=classification, created_by=actor.user,
    )
    _check_shift(shift, actor=actor)
    _derive(shift)
    shift._history_user = actor.user
    shift.save()
    return shift


class StaleVersion(Exception):
    """The shift changed since the caller read it."""

    def __init__(self, shift: Shift) -> None:
        super().__init__(
            f"Shift #{shift.pk} was changed by someone else (now version {shift.version}); "
            "reload it and apply your change again."
        )
        self.current_version = shift.version


def _locked(shift: Shift, expected_version: int | None) -> Shift:
    locked = Shift.objects.select_for_update().select_related("project__organization").get(
        pk=shift.pk
    )
    if locked.deleted_at is not None:
        raise ValidationError("This shift was deleted.")
    if expected_version is not None and locked.version != expected_version:
        raise StaleVersion(locked)
    return locked


@transaction.atomic
def shift_update(
    *, actor: Membership, shift: Shift, expected_version: int | None = None, **fields: Any
) -> Shift:
    """Edit a shift. A change to paid time sends an approved or rejected shift back to
    pending: the approval was for other hours."""
    unknown = set(fields) - set(_SHIFT_FIELDS)
    if unknown:
        raise ValidationError(f"These fields cannot be edited: {', '.join(sorted(unknown))}.")
    _lock_worker(shift.worker)
    if "worker" in fields and fields["worker"] != shift.worker:
        _lock_worker(fields["worker"])
    shift = _locked(shift, expected_version)
    # The project before the edit must be workable too: moving a shift off a project is a change
    # to that project.
    roles.require(
        roles.can_work_on_project(actor, shift.project),
        "You can change shifts only on projects assigned to you.",
    )
    changed = [name for name, value in fields.items() if getattr(shift, name) != value]
    if not changed:
        return shift
    for name in changed:
        setattr(shift, name, fields[name])
    _check_shift(shift, actor=actor)
    _derive(shift)
    if set(changed) & set(_PAID_TIME_FIELDS) and shift.approval_state != ApprovalState.PENDING:
        shift.approval_state = ApprovalState.PENDING
        shift.decided_by = None
        shift.decided_at = None
        shift.rejection_reason = ""
    shift.version += 1
    shift._history_user = actor.user
    shift.save()
    return shift


@transaction.atomic
def shift_delete(*, actor: Membership, shift: Shift, expected_version: int | None = None) -> Shift:
    """Soft delete: the row stays so that a sync can remove what it sent and history stays."""
    shift = _locked(shift, expected_version)
    roles.require(
        roles.can_work_on_project(actor, shift.project),
        "You can delete shifts only on projects assigned to you.",
    )
    shift.deleted_at = timezone.now()
    shift.deleted_by = actor.user
    shift.version += 1
    shift._history_user = actor.user
    shift.save()
    return shift


@transaction.atomic
def shift_decide(
    *, actor: Membership, shift: Shift, approve: bool, reason: str = "",
    expected_version: int | None = None,
) -> Shift:
    """Approve or reject one shift."""
    # Worker first, then shift: the same lock order as edits, and approving a rejected shift
    # must not race a new shift into the same hours.
    _lock_worker(shift.worker)
    shift = _locked(shift, expected_version)
    roles.require(
        roles.can_work_on_project(actor, shift.project),
        "You can approve shifts only on projects assigned to you.",
    )
    if shift.end is None:
        raise ValidationError({"end": "The worker is still punched in; punch out first."})
    state = ApprovalState.APPROVED if approve else ApprovalState.REJECTED
    reason = "" if approve else reason.strip()[:500]
    if shift.approval_state == state and shift.rejection_reason == reason:
        return shift  # deciding twice is not a change
    if approve and shift.approval_state == ApprovalState.REJECTED:
        # A rejected shift does not count for overlaps, so bringing one back must re-check.
        _check_no_overlap(shift, actor=actor)
    shift.approval_state = state
    shift.rejection_reason = reason
    shift.decided_by = actor.user
    shift.decided_at = timezone.now()
    shift.version += 1
    shift._history_user = actor.user
    shift.save()
    return shift


@transaction.atomic
def shifts_decide(
    *, actor: Membership, shifts: Iterable[Shift], approve: bool, reason: str = ""
) -> list[Shift]:
    """Approve or reject many shifts: all or none."""
    return [
        shift_decide(actor=actor, shift=shift, approve=approve, reason=reason)
        for shift in shifts
    ]


@transaction.atomic
def punch_in(
    *,
    actor: Membership,
    worker: Worker,
    project: Project,
    at: datetime | None = None,
    cost_code: CostCode | None = None,
    time_type: str = TimeType.REGULAR,
    notes: str = "",
) -> Shift:
    """A field device clocks a worker in: an open shift with no end yet."""
    _lock_worker(worker)
    open_shift = selectors.open_shift_of(worker=worker)
    if open_shift is not None:
        raise ValidationError(
            {"worker": f"{worker} is already punched in (shift #{open_shift.pk}); "
                       "punch out first."}
        )
    return shift_create(
        actor=actor, worker=worker, project=project, start=at or timezone.now(), end=None,
        cost_code=cost_code, time_type=time_type, notes=notes,
    )


@transaction.atomic
def punch_out(
    *, actor: Membership, worker: Worker, at: datetime | None = None, break_minutes: int = 0
) -> Shift:
    """Clock a worker out: closes their open shift."""
    _lock_worker(worker)
    shift = selectors.open_shift_of(worker=worker)
    if shift is None:
        raise ValidationError({"worker": f"{worker} is not punched in."})
    return shift_update(
        actor=actor, shift=shift, end=at or timezone.now(), break_minutes=break_minutes
    )


@transaction.atomic
def member_set_sync_failure_emails(*, actor: Membership, enabled: bool) -> Membership:
    """An admin opts in (or out) of an email for every sync that fails for good."""
    roles.require(roles.can_manage_organization(actor),
                  "Sync failure emails go to admins; ask one to add you.")
    actor.notify_sync_failures = enabled
    actor.save(update_fields=["notify_sync_failures"])
    return actor
