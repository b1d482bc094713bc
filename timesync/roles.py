"""What each role may do. One place, used by the services, the API and the pages alike.

- admin: everything, including members, organization settings and integrations.
- payroll_admin: projects, workers, cost codes, every shift and its approval; syncs.
- project_manager: only their assigned projects: their shifts and approvals; syncs those.
- viewer: sees everything, changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

from timesync.models import Role

if TYPE_CHECKING:
    from timesync.models import Membership, Project

OFFICE_ROLES = frozenset({Role.ADMIN, Role.PAYROLL_ADMIN})


def can_manage_organization(membership: Membership) -> bool:
    return membership.role == Role.ADMIN


def can_edit_reference_data(membership: Membership) -> bool:
    """Projects, workers and cost codes."""
    return membership.role in OFFICE_ROLES


def sees_all_projects(membership: Membership) -> bool:
    return membership.role != Role.PROJECT_MANAGER


def is_assigned_to(membership: Membership, project: Project) -> bool:
    return membership.assigned_projects.filter(pk=project.pk).exists()


def can_work_on_project(membership: Membership, project: Project) -> bool:
    """Edit, approve and sync the project's shifts."""
    if membership.role in OFFICE_ROLES:
        return True
    return membership.role == Role.PROJECT_MANAGER and is_assigned_to(membership, project)


def can_sync_some_projects(membership: Membership) -> bool:
    """Start syncs at all: everyone but viewers (a project manager, of assigned projects only,
    which are the only ones shown to them)."""
    return membership.role != Role.VIEWER


def can_manage_integrations(membership: Membership) -> bool:
    """Connect, configure, test, refresh from the remote and disconnect."""
    return membership.role == Role.ADMIN


def can_change_mappings(membership: Membership) -> bool:
    """See the Mappings page and link workers, projects and cost codes by hand."""
    return membership.role in OFFICE_ROLES


def require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def require_integration_manager(membership: Membership) -> None:
    require(can_manage_integrations(membership), "Only admins manage integrations.")


def require_mapping_editor(membership: Membership) -> None:
    require(can_change_mappings(membership),
            "Only admins and payroll admins see and change mappings.")
