"""The tenant-scoped domain. Every tenant-owned row carries its `organization`.

Rows are written only through `timesync.services` (which keeps derived fields such as a shift's
work date and paid time right) and read through `timesync.selectors` (which scope every query
to the caller's organization and role).
"""

from __future__ import annotations

import zoneinfo
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from simple_history.models import HistoricalRecords

from timesync import time_rules


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            "%(value)s is not a known time zone; use an IANA name such as America/Toronto.",
            params={"value": value},
            code="invalid_time_zone",
        )


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **fields: object) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields: object) -> User:
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def get_by_natural_key(self, username: str | None) -> User:
        # Sign-in ignores case: people type Jane.Doe@Example.com as often as jane.doe@...
        return self.get(email__iexact=username)

    def create_superuser(self, email: str, password: str | None = None, **fields: object) -> User:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self._create(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in. What they may do depends on their memberships."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="Support staff: may sign in to the Django admin."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ignoring_case"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Organization(models.Model):
    """A customer company: the tenant."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(
        max_length=64, default="America/Toronto", validators=[validate_time_zone]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    PAYROLL_ADMIN = "payroll_admin", "Payroll admin"
    PROJECT_MANAGER = "project_manager", "Project manager"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    """A user's place in one organization, with a role."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    # Only meaningful for project managers: the projects they may see and work on.
    assigned_projects = models.ManyToManyField(
        "Project", blank=True, related_name="assigned_memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="membership_one_per_user_and_org"
            ),
        ]
        ordering = ["organization__name", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.get_role_display()})"


class Invitation(models.Model):
    """An email invitation to join an organization with a role.

    Only a hash of the token is stored: the link in the email is the one copy of the secret.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.organization}"

    @property
    def is_open(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )


class Project(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="projects"
    )
    name = models.CharField(max_length=200)
    code = models.CharField(
        "project number", max_length=50, blank=True,
        help_text="The job or project number the payroll and ERP systems know it by.",
    )
    time_zone = models.CharField(
        max_length=64, blank=True, validators=[validate_time_zone],
        help_text="Leave blank to use the organization's time zone.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "code"],
                condition=~Q(code=""),
                name="project_number_unique_in_org",
            ),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}".strip()

    @property
    def effective_time_zone(self) -> str:
        return self.time_zone or self.organization.time_zone


class Worker(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="workers"
    )
    name = models.CharField(max_length=200)
    employee_number = models.CharField(max_length=50, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "employee_number"],
                condition=~Q(employee_number=""),
                name="worker_employee_number_unique_in_org",
            ),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CostCode(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="cost_codes"
    )
    code = models.CharField(max_length=50)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "code"], name="cost_code_unique_in_org"
            ),
        ]
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class TimeType(models.TextChoices):
    REGULAR = "regular", "Regular"
    OVERTIME = "overtime", "Overtime"
    DOUBLE_TIME = "double_time", "Double time"


class ApprovalState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Shift(models.Model):
    """One worker's time on one project, from start to end.

    `work_date` and `paid_seconds` are derived (see `time_rules`) and kept by the services; an
    open shift (punched in, not yet out) has no end and no paid time. `version` moves on every
    edit so that the sync ledger and concurrent editors can tell a shift changed.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="shifts"
    )
    worker = models.ForeignKey(Worker, on_delete=models.PROTECT, related_name="shifts")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="shifts")
    cost_code = models.ForeignKey(
        CostCode, on_delete=models.PROTECT, null=True, blank=True, related_name="shifts"
    )
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)
    break_minutes = models.PositiveIntegerField("unpaid break minutes", default=0)
    time_type = models.CharField(max_length=20, choices=TimeType.choices, default=TimeType.REGULAR)
    notes = models.TextField(blank=True)

    work_date = models.DateField(db_index=True)
    paid_seconds = models.PositiveIntegerField(null=True, blank=True)

    approval_state = models.CharField(
        max_length=10, choices=ApprovalState.choices, default=ApprovalState.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.CharField(max_length=500, blank=True)

    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(end__isnull=True) | Q(end__gt=models.F("start")),
                name="shift_ends_after_start",
            ),
            models.UniqueConstraint(
                fields=["worker"],
                condition=Q(end__isnull=True, deleted_at__isnull=True),
                name="shift_one_open_per_worker",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "project", "work_date"]),
            models.Index(fields=["worker", "start"]),
        ]
        ordering = ["start", "id"]

    def __str__(self) -> str:
        return f"{self.worker} on {self.project} ({self.work_date})"

    @property
    def is_open(self) -> bool:
        return self.end is None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def paid_hours(self) -> Decimal | None:
        return None if self.paid_seconds is None else time_rules.hours(self.paid_seconds)

    @property
    def duration(self) -> timedelta | None:
        return None if self.end is None else self.end - self.start
