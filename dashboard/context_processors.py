from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from timesync import roles, selectors


def organization(request: HttpRequest) -> dict[str, Any]:
    """The current organization, the caller's role in it and the switcher's list."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    context: dict[str, Any] = {
        # Read with the membership by organization_view; other pages (no organization in
        # their address) read it here.
        "switchable_memberships": getattr(request, "switchable_memberships", None)
        or selectors.memberships_for_user(user=user),
        "membership": membership,
        "organization": getattr(request, "organization", None),
    }
    if membership is not None:
        context["can_manage_organization"] = roles.can_manage_organization(membership)
        context["can_edit_reference_data"] = roles.can_edit_reference_data(membership)
    return context
