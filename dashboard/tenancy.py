"""Organization scoping for pages: the URL names the organization; the caller must be an
active member of it, else 404."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from timesync import selectors

View = Callable[..., HttpResponse]
LAST_ORGANIZATION_KEY = "last_organization_slug"


def organization_view(view: View) -> View:
    """Sets request.membership and request.organization from the `organization_slug` kwarg,
    and request.switchable_memberships (the header's organization switcher) from the same
    query."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, organization_slug: str, *args: Any, **kwargs: Any):
        membership, request.switchable_memberships = selectors.membership_and_switcher(
            user=request.user, organization_slug=organization_slug
        )
        request.membership = membership
        request.organization = membership.organization
        # Assigning marks the session modified, and a modified session is written back (an
        # UPDATE in a transaction) on every response: only a change of organization writes.
        if request.session.get(LAST_ORGANIZATION_KEY) != organization_slug:
            request.session[LAST_ORGANIZATION_KEY] = organization_slug
        return view(request, *args, **kwargs)

    return wrapper
