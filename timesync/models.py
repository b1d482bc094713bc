"""The tenant-scoped domain. Every tenant-owned row carries its `organization`.

Rows are written only through `timesync.services` (which keeps derived fields such as a shift's
work date and paid time right) and read through `timesync.selectors` (which scope every query
to the caller's organization and role).
"""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
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


# The largest id a row can have (BigAutoField: PostgreSQL's bigint). A larger number names
# nothing, and must be refused before it reaches a query (the database would fail on it).
MAX_ID = 2**63 - 1


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

    def save(self, *args: Any, **kwargs: Any) -> None:
        # AbstractBaseUser keeps a new raw password in _password until the save that stores
        # it, and clears it first on a mere hash upgrade: set now means "the password changed".
        password_changed = self._password is not None and self.pk is not None
        super().save(*args, **kwargs)
        if password_changed:
            from timesync.sign_in import password_changed as effects  # sign_in imports models

            effects(user=self)

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
    notify_sync_failures = models.BooleanField(
        default=False, help_text="Email me when a timecard sync fails for good (admins)."
    )
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
    # The trade the hours were worked as (Procore's work classification: "Carpenter",
    # "Labourer"): it sets the wage rate, so payroll needs it. Free text: kept as received.
    classification = models.CharField(max_length=200, blank=True)

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


# --- Integrations and the sync ledger -------------------------------------------------------


class IntegrationKind(models.TextChoices):
    PLEXXIS = "plexxis", "Plexxis"
    PROCORE = "procore", "Procore"
    QUICKBOOKS_DESKTOP = "quickbooks_desktop", "QuickBooks Desktop"


# Remotes that call us rather than being called (the QuickBooks Web Connector polls): their runs
# wait for the remote (SyncState.WAITING) instead of going to a worker.
PULLED_KINDS = frozenset({IntegrationKind.QUICKBOOKS_DESKTOP})


class MatchField(models.TextChoices):
    """How a worker is recognised in the remote system, tried in the integration's order."""

    EMPLOYEE_NUMBER = "employee_number", "Employee number"
    EMAIL = "email", "Email"
    NAME = "name", "Exact name"
    CODE = "code", "Code"
    MANUAL = "manual", "Set by hand"


class HoursRounding(models.TextChoices):
    NONE = "none", "No rounding (to the hundredth)"
    TENTH = "tenth", "Nearest tenth of an hour"
    QUARTER = "quarter", "Nearest quarter hour"


# The furthest day back a nightly sync sends (see Integration.schedule_days_back).
SCHEDULE_DAYS_BACK_MAX = 31


def default_matching_order() -> list[str]:
    return [MatchField.EMPLOYEE_NUMBER, MatchField.EMAIL, MatchField.NAME]


class Integration(models.Model):
    """A remote system an organization sends hours to (and, for some, receives from)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="integrations"
    )
    kind = models.CharField(max_length=30, choices=IntegrationKind.choices)
    name = models.CharField(max_length=100, help_text='Shown in menus, e.g. "Plexxis V2".')
    is_connected = models.BooleanField(default=True)
    # Fernet token of a JSON object (see timesync.crypto); never stored or logged in clear.
    credentials_encrypted = models.TextField(blank=True)
    settings = models.JSONField(default=dict, blank=True)
    worker_matching = models.JSONField(
        default=default_matching_order,
        help_text="Fields tried in order to match a worker with the remote's employees.",
    )
    hours_rounding = models.CharField(
        max_length=10, choices=HoursRounding.choices, default=HoursRounding.NONE
    )
    schedule_enabled = models.BooleanField(default=False)
    schedule_time = models.TimeField(
        default=time(2, 0), help_text="Local time (organization's time zone) of the nightly sync."
    )
    schedule_days_back = models.PositiveSmallIntegerField(
        default=1, help_text="Which day the nightly sync sends: 1 = yesterday (at most 31).",
        # A nightly sync sends a recent day again; a day further back than a month is a sync
        # someone starts by hand. Unbounded, a typo (800000) broke the night for every tenant.
        validators=[MaxValueValidator(SCHEDULE_DAYS_BACK_MAX)],
    )
    schedule_last_date = models.DateField(
        null=True, blank=True, help_text="The last local date the schedule ran on."
    )
    # Set when the remote stopped honouring the connection's grant (an OAuth grant revoked or
    # expired): nothing syncs until an admin connects again, which clears it.
    reconnect_reason = models.TextField(
        blank=True, help_text="Why the integration must be connected again, if it must."
    )
    # The remote's prerequisites as last checked (Procore: the Timecard tool reachable,
    # projects visible, employees, time types): [{"label", "ok", "detail"}], shown on the
    # integration's page. Kept, not read live: a page load never waits on the remote.
    prerequisites = models.JSONField(default=list, blank=True)
    prerequisites_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="integration_name_unique_in_org"
            ),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def reconnect_needed(self) -> bool:
        return bool(self.reconnect_reason)

    @property
    def sends(self) -> bool:
        """Whether Timesync sends hours to this integration's remote: the one rule that every
        way of starting a sync (a dashboard cell, a project card, the API, the nightly
        schedule) and the dashboard follow. Only a Procore integration has a direction, and
        one that only receives (`receive`) is never sent to."""
        return (self.settings or {}).get("direction") != "receive"


class OAuthToken(models.Model):
    """An integration's OAuth tokens (Procore), encrypted at rest like its credentials.

    One row per integration, and the row is the lock: a refresh takes it FOR UPDATE, so one
    worker refreshes while the others wait and then read the pair it stored (refresh tokens
    are single-use: two refreshers would spend each other's)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    integration = models.OneToOneField(
        Integration, on_delete=models.CASCADE, related_name="oauth_token"
    )
    # Fernet tokens (timesync.crypto); never stored or logged in clear.
    access_token_encrypted = models.TextField()
    refresh_token_encrypted = models.TextField(
        blank=True, help_text="Empty for a client credentials grant, which asks anew instead."
    )
    expires_at = models.DateTimeField(help_text="When the access token stops working (UTC).")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"OAuth token of integration {self.integration_id} (until {self.expires_at})"


class ProjectLink(models.Model):
    """A project's counterpart in the remote system, and how it syncs there."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="project_links"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="links")
    remote_project_id = models.CharField(
        max_length=100, help_text="The remote job or project (Plexxis: job number[/sub job])."
    )
    enabled = models.BooleanField(default=True)
    sync_only_approved = models.BooleanField(
        "Sync Only Approved Shifts", default=False,
        help_text="Off: every shift that is not rejected is sent. On: approved shifts only.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "project"], name="project_link_one_per_integration"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} → {self.remote_project_id}"


class WorkerLink(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="worker_links"
    )
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="links")
    remote_worker_id = models.CharField(max_length=100)
    matched_by = models.CharField(max_length=20, choices=MatchField.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "worker"], name="worker_link_one_per_integration"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.worker_id} → {self.remote_worker_id}"


class CostCodeLink(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="cost_code_links"
    )
    cost_code = models.ForeignKey(CostCode, on_delete=models.CASCADE, related_name="links")
    remote_cost_code_id = models.CharField(max_length=100)
    matched_by = models.CharField(max_length=20, choices=MatchField.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "cost_code"], name="cost_code_link_one_per_integration"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cost_code_id} → {self.remote_cost_code_id}"


# --- The remote's reference data, and the integration's audit trail --------------------------


class CatalogKind(models.TextChoices):
    WORKER = "worker", "Employee"
    PROJECT = "project", "Job"
    COST_CODE = "cost_code", "Cost code"
    TIME_TYPE = "time_type", "Time type"


class CatalogFetchState(models.TextChoices):
    IDLE = "idle", "Idle"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Fetching"


class ReferenceCatalog(models.Model):
    """How current an integration's copy of the remote's reference data is.

    Matching and the Mappings page read the copy (`CatalogItem`), never the remote: a page
    load or a database transaction must not wait on another company's server. The copy is
    filled by a Celery task (push connectors) or by the remote's own session (pull)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    integration = models.OneToOneField(
        Integration, on_delete=models.CASCADE, related_name="catalog"
    )
    fetched_at = models.DateTimeField(
        null=True, blank=True, help_text="When the data now held was read from the remote."
    )
    fetch_state = models.CharField(
        max_length=10, choices=CatalogFetchState.choices, default=CatalogFetchState.IDLE
    )
    fetch_requested_at = models.DateTimeField(null=True, blank=True)
    # Who asked for the fetch in flight, if someone did by hand: its audit entry names them.
    fetch_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    fetch_started_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text="Why the last fetch failed, if it did.")
    last_error_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Catalog of {self.integration_id} ({self.fetched_at or 'never fetched'})"


class CatalogItem(models.Model):
    """One of the remote's employees, jobs (or sub jobs), cost codes or time types, as last
    fetched. Replaced as a whole on every fetch."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="catalog_items"
    )
    kind = models.CharField(max_length=10, choices=CatalogKind.choices)
    remote_id = models.CharField(max_length=100)
    name = models.CharField(max_length=300, blank=True)
    # Employee number, job number or cost code: what matching compares besides the name.
    code = models.CharField(max_length=100, blank=True)
    email = models.CharField(max_length=254, blank=True)
    # A sub job's job (empty for a job): for a picker that nests them, later.
    parent_remote_id = models.CharField(max_length=100, blank=True)
    active = models.BooleanField(default=True)
    # A job whose timesheets take start and stop times, not total hours (Procore's project
    # setting): the export sends time_in/time_out and the lunch break for it.
    start_stop = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "kind", "remote_id"], name="catalog_item_unique"
            ),
        ]
        ordering = ["kind", "name", "remote_id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.remote_id} {self.name}"


class AuditEvent(models.TextChoices):
    # An integration created before it is connected (Procore's authorization code grant waits
    # for an admin to allow the app at Procore): "connected" is written once, when it is.
    CREATED = "created", "Created"
    CONNECTED = "connected", "Connected"
    SETTINGS_CHANGED = "settings_changed", "Settings changed"
    CREDENTIALS_REPLACED = "credentials_replaced", "Credentials replaced"
    WORKER_LINK_SET = "worker_link_set", "Worker linked by hand"
    COST_CODE_LINK_SET = "cost_code_link_set", "Cost code linked by hand"
    PROJECT_LINK_SET = "project_link_set", "Project link changed"
    CATALOG_REFRESHED = "catalog_refreshed", "Refreshed from the remote"
    DISCONNECTED = "disconnected", "Disconnected"
    RECONNECT_NEEDED = "reconnect_needed", "Reconnect needed"
    CREATED_FROM_REMOTE = "created_from_remote", "Created from the remote"


class IntegrationAuditEntry(models.Model):
    """Who changed what in an integration, and when: written in the transaction of the change
    itself, so a change and its entry exist together or not at all. Never holds a secret."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="audit_entries"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    event = models.CharField(max_length=30, choices=AuditEvent.choices)
    subject = models.CharField(max_length=300, blank=True, help_text='e.g. "Ana Silva".')
    # [{"field": "Name", "before": "Plexxis", "after": "Plexxis V2"}, ...]
    changes = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["integration", "-created_at", "-id"])]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_event_display()} {self.subject}".strip()


class SyncTrigger(models.TextChoices):
    DASHBOARD = "dashboard", "Sync Dashboard"
    PROJECT_BUTTON = "project_button", "Sync Timesheet button"
    SCHEDULE = "schedule", "Schedule"
    API = "api", "API"


class SyncState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    # A pulled connector's run (QuickBooks Web Connector): its operations are ready and the
    # remote will collect them when it next polls us. Recovery leaves it alone.
    WAITING = "waiting", "Waiting for the remote"
    SUCCEEDED = "succeeded", "Succeeded"
    SUCCEEDED_WITH_WARNINGS = "succeeded_with_warnings", "Succeeded with warnings"
    FAILED = "failed", "Failed"


ACTIVE_SYNC_STATES = (SyncState.QUEUED, SyncState.RUNNING, SyncState.WAITING)


class SyncRun(models.Model):
    """One timecard sync of one project and day to one integration: a row in the logs."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="runs")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sync_runs")
    work_date = models.DateField("Timesheet Date")
    trigger = models.CharField(max_length=20, choices=SyncTrigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    state = models.CharField(max_length=30, choices=SyncState.choices, default=SyncState.QUEUED)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    deleted_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    hours_sent = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    hours_remote = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why the run failed, for a payroll admin.")
    warnings = models.JSONField(default=list, blank=True)
    # Also the run's fencing token: every claim moves it on, and every write of the run is
    # conditional on the value its worker claimed, so a worker that lost the run writes nothing.
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # The database, not a hope: a second click finds the run already in progress.
            models.UniqueConstraint(
                fields=["integration", "project", "work_date"],
                condition=Q(state__in=["queued", "running", "waiting"]),
                name="sync_run_one_active_per_project_day",
            ),
        ]
        indexes = [
            models.Index(fields=["integration", "project", "work_date"]),
            models.Index(fields=["state", "heartbeat_at"]),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Timecard Sync of {self.project} on {self.work_date} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_SYNC_STATES


class SyncOutcome(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    DELETED = "deleted", "Deleted"
    UNCHANGED = "unchanged", "Unchanged"
    SKIPPED = "skipped", "Skipped"


class SyncLogEntry(models.Model):
    """One line of a run's detailed log: a worker's shift and what happened to it."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="entries")
    shift = models.ForeignKey(
        Shift, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    worker = models.ForeignKey(
        Worker, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    worker_name = models.CharField(max_length=200)
    employee_number = models.CharField(max_length=50, blank=True)
    outcome = models.CharField(max_length=20, choices=SyncOutcome.choices)
    hours = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    remote_id = models.CharField(max_length=100, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.worker_name}: {self.outcome}"


class RecordState(models.TextChoices):
    PENDING_CREATE = "pending_create", "Create sent, outcome unknown"
    PENDING_UPDATE = "pending_update", "Update sent, outcome unknown"
    PENDING_DELETE = "pending_delete", "Delete sent, outcome unknown"
    SYNCED = "synced", "Synced"
    DELETED = "deleted", "Deleted remotely"


class ExternalRecord(models.Model):
    """The ledger: what one integration holds for one shift, as we last wrote it.

    Every remote write is bracketed: the intent is committed first (a pending state with the
    idempotency key), then the remote is called, then the result is committed. A pending record
    found later is reconciled against the remote before anything is written again.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="records"
    )
    shift = models.ForeignKey(Shift, on_delete=models.PROTECT, related_name="external_records")
    idempotency_key = models.CharField(max_length=64)
    generation = models.PositiveIntegerField(
        default=1, help_text="Moves on when a deleted entry is created again (a new key)."
    )
    remote_id = models.CharField(max_length=100, blank=True)
    # The remote's version of the entry where editing needs it (QuickBooks' EditSequence).
    remote_version = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=20, choices=RecordState.choices)
    payload_hash = models.CharField(max_length=64, blank=True)
    # Where the remote entry lives, as last written: a shift moved since is deleted there.
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    remote_project_id = models.CharField(max_length=100)
    work_date = models.DateField()
    shift_version = models.PositiveIntegerField()
    hours = models.DecimalField(max_digits=6, decimal_places=2)
    # Compare-and-set token: every change is an UPDATE conditional on the revision read, so
    # two runs (or a run and a webhook) reaching the same record never write over each other.
    revision = models.PositiveIntegerField(default=1)
    # When the write in flight (a pending state) was sent: its outcome may still change on the
    # remote until the remote's longest request lifetime has passed since then.
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    # The run and operation that last wrote it: a write completed by an attempt that lost its
    # run before logging it is still told in that run's log by the attempt that finishes it.
    last_run = models.ForeignKey(
        "SyncRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_op = models.CharField(max_length=10, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "shift"], name="external_record_one_per_shift"
            ),
            models.UniqueConstraint(
                fields=["integration", "idempotency_key"], name="external_record_key_unique"
            ),
        ]
        indexes = [models.Index(fields=["integration", "project", "work_date"])]

    def __str__(self) -> str:
        return f"{self.shift_id} → {self.remote_id or '?'} ({self.state})"



# --- Receiving from Procore (webhooks and the sweep) ----------------------------------------


class ProcoreReceiver(models.Model):
    """What receiving from one Procore integration needs: the address Procore posts to, the
    secret it must present, the hook made at Procore, and the sweep's bookmark."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    integration = models.OneToOneField(
        Integration, on_delete=models.CASCADE, related_name="procore_receiver"
    )
    # In the webhook's address: random, so an address cannot be guessed from an id.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    secret_encrypted = models.TextField(
        blank=True, help_text="What Procore sends in Authorization (encrypted)."
    )
    hook_id = models.BigIntegerField(null=True, blank=True)
    trigger_ids = models.JSONField(default=list, blank=True)
    hook_error = models.TextField(blank=True, help_text="Why the hook could not be made.")
    last_sweep_at = models.DateTimeField(null=True, blank=True)
    last_sweep_caught = models.PositiveIntegerField(default=0)
    last_sweep_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Receiving from {self.integration}"


class WebConnectorAccount(models.Model):
    """How the QuickBooks Web Connector signs in for one QuickBooks Desktop integration.

    The user name is unique across every organization: `/qbwc/` is one endpoint for all of
    them, and the user name is what tells it whose Web Connector is calling."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    integration = models.OneToOneField(
        Integration, on_delete=models.CASCADE, related_name="web_connector"
    )
    user_name = models.CharField(max_length=60, unique=True)
    # Django's password hasher: the password is shown once, when made, and never again.
    password_hash = models.CharField(max_length=200)
    password_changed_at = models.DateTimeField(default=timezone.now)
    # QuickBooks remembers the application by these two: they never change for an integration.
    owner_id = models.CharField(max_length=38)
    file_id = models.CharField(max_length=38)
    company_file = models.CharField(
        max_length=500, blank=True,
        help_text="The company file the Web Connector first opened; another one is refused.")
    last_contact_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Web Connector user {self.user_name}"


class WebConnectorSession(models.Model):
    """One Web Connector session: from authenticate to closeConnection (or until it expires).

    Only the ticket's digest is kept: a stolen database cannot be used to pose as a Web
    Connector. `work` holds what the session sent and has not heard back about (the engine's
    operations, serialized, by requestID) and its list iterators."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="web_connector_sessions"
    )
    ticket_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    company_file = models.CharField(max_length=500, blank=True)
    last_error = models.TextField(blank=True)
    work = models.JSONField(default=dict, blank=True)
    blocks_sent = models.PositiveIntegerField(default=0)
    blocks_done = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["integration", "closed_at", "-last_seen_at"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Web Connector session {self.pk} of integration {self.integration_id}"


class InboundState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPLIED = "applied", "Applied"
    UNCHANGED = "unchanged", "Nothing to change"
    IGNORED = "ignored", "Left out"
    FAILED = "failed", "Failed"


class InboundSource(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    SWEEP = "sweep", "Sweep"


class InboundEvent(models.Model):
    """One change Procore told us about (a webhook, or an entry the sweep found), stored once
    by its id, then applied to our shifts by a worker."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="inbound_events"
    )
    # Procore's event id (webhooks), or "sweep-<entry>-<updated_at>" (the sweep): repeats dedupe.
    event_key = models.CharField(max_length=120)
    source = models.CharField(max_length=10, choices=InboundSource.choices)
    event_type = models.CharField(max_length=20, blank=True)
    resource_id = models.CharField(max_length=40)
    payload = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=12, choices=InboundState.choices,
                             default=InboundState.PENDING)
    outcome = models.CharField(max_length=500, blank=True, help_text="What happened, in words.")
    shift = models.ForeignKey(
        Shift, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Procore's updated_at of the state applied: two workers that fetched the same entry at
    # different moments must not let the older state win.
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # When a pending event is tried again after Procore asked us to wait (429, 503), and how
    # many times in a row it was told to wait (bounded; an admin's retry starts again).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    waits = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    failure_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["integration", "event_key"],
                                    name="inbound_event_once_per_key"),
        ]
        indexes = [models.Index(fields=["integration", "state", "-received_at"])]
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.resource_id} ({self.state})"
