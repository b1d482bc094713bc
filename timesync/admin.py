"""The Django admin, for support staff (users with is_staff).

Support staff fix accounts and memberships here. Tenant data (projects, workers, cost codes,
shifts) and the sync engine's rows (integrations, runs, the ledger, the catalog, the audit
trail) are read-only: their writes go through the services, which keep work dates, paid hours,
versions, history, the ledger's revisions and the run fences right, and which an admin form
would bypass. Credentials are never shown.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from simple_history.admin import SimpleHistoryAdmin

from timesync.models import (
    CatalogItem,
    CostCode,
    ExternalRecord,
    Integration,
    IntegrationAuditEntry,
    Invitation,
    Membership,
    Organization,
    Project,
    ReferenceCatalog,
    Shift,
    SyncLogEntry,
    SyncRun,
    User,
    Worker,
)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_staff", "date_joined"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "full_name"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "full_name", "password1", "password2"]}),
    ]
    filter_horizontal = ["groups"]
    list_filter = ["is_active", "is_staff"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]
    filter_horizontal = ["assigned_projects"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    # A time zone change moves work dates: it goes through the organization's settings page.
    readonly_fields = ["time_zone"]
    list_display = ["name", "slug", "time_zone", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "is_active"]
    list_filter = ["role", "is_active", "organization"]
    search_fields = ["user__email", "organization__name"]
    raw_id_fields = ["user", "organization"]
    filter_horizontal = ["assigned_projects"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "organization", "role", "created_at", "expires_at", "accepted_at",
                    "revoked_at"]
    list_filter = ["organization", "role"]
    search_fields = ["email"]
    readonly_fields = ["token_hash"]


@admin.register(Project)
class ProjectAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = ["name", "code", "organization", "time_zone", "is_active"]
    list_filter = ["organization", "is_active"]
    search_fields = ["name", "code"]


@admin.register(Worker)
class WorkerAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = ["name", "employee_number", "email", "organization", "is_active"]
    list_filter = ["organization", "is_active"]
    search_fields = ["name", "employee_number", "email"]


@admin.register(CostCode)
class CostCodeAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "organization", "is_active"]
    list_filter = ["organization", "is_active"]
    search_fields = ["code", "name"]


@admin.register(Shift)
class ShiftAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = ["id", "worker", "project", "work_date", "start", "end", "paid_hours",
                    "approval_state", "version", "deleted_at"]
    list_filter = ["organization", "approval_state", "time_type"]
    search_fields = ["worker__name", "project__name"]
    raw_id_fields = ["worker", "project", "cost_code", "decided_by", "created_by", "deleted_by"]
    readonly_fields = ["work_date", "paid_seconds", "version"]
    date_hierarchy = "work_date"


@admin.register(Integration)
class IntegrationAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "organization", "is_connected", "schedule_enabled"]
    list_filter = ["kind", "is_connected"]
    search_fields = ["name", "organization__name"]
    exclude = ["credentials_encrypted"]  # encrypted, and never for anyone's eyes


class SyncLogEntryInline(admin.TabularInline):
    model = SyncLogEntry
    fields = ["worker_name", "employee_number", "outcome", "hours", "remote_id", "message"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "integration", "project", "work_date", "trigger", "state", "attempts",
                    "created_count", "updated_count", "deleted_count", "skipped_count",
                    "created_at", "finished_at"]
    list_filter = ["state", "trigger", "integration__kind"]
    search_fields = ["project__name", "project__code", "integration__name"]
    raw_id_fields = ["organization", "integration", "project", "requested_by"]
    date_hierarchy = "work_date"
    inlines = [SyncLogEntryInline]


@admin.register(ExternalRecord)
class ExternalRecordAdmin(ReadOnlyAdmin):
    list_display = ["id", "integration", "shift", "state", "remote_id", "remote_project_id",
                    "work_date", "hours", "revision", "attempt_started_at", "updated_at"]
    list_filter = ["state"]
    search_fields = ["remote_id", "idempotency_key"]
    raw_id_fields = ["organization", "integration", "shift", "project", "last_run"]


@admin.register(ReferenceCatalog)
class ReferenceCatalogAdmin(ReadOnlyAdmin):
    list_display = ["integration", "fetched_at", "fetch_state"]
    raw_id_fields = ["organization", "integration"]


@admin.register(CatalogItem)
class CatalogItemAdmin(ReadOnlyAdmin):
    list_display = ["integration", "kind", "remote_id", "code", "name", "active"]
    list_filter = ["kind"]
    search_fields = ["remote_id", "code", "name"]
    raw_id_fields = ["organization", "integration"]


@admin.register(IntegrationAuditEntry)
class IntegrationAuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "integration", "actor", "event", "subject", "note"]
    list_filter = ["event"]
    raw_id_fields = ["organization", "integration", "actor"]
