"""Another organization's ids answer 404 on every page and API endpoint.

The test walks every URL pattern of the project, so an endpoint added later is covered without
touching this file; a pattern with a URL parameter the walker does not know fails the test
until the walker is taught what object that parameter names.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern
from rest_framework.test import APIClient

from tests import factories
from timesync.models import (
    Integration,
    IntegrationKind,
    Invitation,
    ProjectLink,
    Role,
    Shift,
    SyncRun,
    SyncState,
    SyncTrigger,
)

pytestmark = pytest.mark.django_db

# Parameters that are not ids of tenant data: they are credentials or formats.
NOT_TENANT_IDS = {
    "token",  # an invitation link's secret: it is the credential, valid across organizations
    "uidb64",  # password reset: Django's signed user id
    "format",  # DRF's format suffix
    # A person's own API token (its public id): not an organization's; another person's id
    # answers 404 (tests/timesync/api/test_api_tokens.py).
    "token_id",
}
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    name: str
    parameters: frozenset[str]


def _parameters(pattern: object) -> set[str]:
    if isinstance(pattern, RoutePattern):
        return set(pattern.converters)
    return set(pattern.regex.groupindex)


def walk(resolver: URLResolver, namespace: str = "", inherited: frozenset = frozenset()
         ) -> Iterator[Route]:
    for entry in resolver.url_patterns:
        parameters = inherited | _parameters(entry.pattern)
        if isinstance(entry, URLResolver):
            child_namespace = namespace
            if entry.namespace:
                child_namespace = f"{namespace}{entry.namespace}:"
            yield from walk(entry, child_namespace, frozenset(parameters))
        elif isinstance(entry, URLPattern) and entry.name:
            yield Route(f"{namespace}{entry.name}", frozenset(parameters))


def tenant_routes() -> list[Route]:
    routes = {route for route in walk(get_resolver()) if not route.name.startswith("admin:")}
    return sorted(
        (r for r in routes if r.parameters - NOT_TENANT_IDS), key=lambda route: route.name
    )


@pytest.fixture
def two_tenants():
    """An admin of organization A, and a full set of organization B's data."""
    ours = factories.MembershipFactory(role=Role.ADMIN)
    theirs = factories.MembershipFactory(role=Role.ADMIN)
    other = theirs.organization
    shift = factories.ShiftFactory(organization=other)
    invitation = Invitation.objects.create(
        organization=other, email="someone@example.com", role=Role.VIEWER,
        token_hash="0" * 64, expires_at="2999-01-01T00:00:00Z",
    )
    integration = Integration.objects.create(
        organization=other, kind=IntegrationKind.PLEXXIS, name="Their Plexxis"
    )
    link = ProjectLink.objects.create(
        organization=other, integration=integration, project=shift.project,
        remote_project_id="J-1",
    )
    run = SyncRun.objects.create(
        organization=other, integration=integration, project=shift.project,
        work_date=shift.work_date, trigger=SyncTrigger.API, state=SyncState.SUCCEEDED,
    )
    objects = {
        "integration_id": integration.pk,
        "run_id": run.pk,
        "project_link_id": link.pk,
        "project_id": shift.project_id,
        "worker_id": shift.worker_id,
        "cost_code_id": factories.CostCodeFactory(organization=other).pk,
        "shift_id": shift.pk,
        "membership_id": theirs.pk,
        "invitation_id": invitation.pk,
    }
    return ours, theirs, objects


def _url(route: Route, organization_slug: str, objects: dict[str, int]) -> str:
    kwargs = {}
    for parameter in route.parameters:
        if parameter == "organization_slug":
            kwargs[parameter] = organization_slug
        elif parameter == "format":
            continue
        elif parameter in objects:
            kwargs[parameter] = objects[parameter]
        else:
            pytest.fail(
                f"URL {route.name!r} takes {parameter!r}: teach tests/test_tenant_isolation.py "
                "which object it names, so its tenant isolation is tested."
            )
    return reverse(route.name, kwargs=kwargs)


def test_walker_finds_the_tenant_scoped_routes():
    names = {route.name for route in tenant_routes()}
    assert {"shift_detail", "project_detail", "api:shift-detail", "api:shift-approve",
            "api:project-list"} <= names


@pytest.mark.parametrize("as_member", [True, False], ids=["own-org-slug", "their-org-slug"])
def test_every_route_answers_404_for_another_organizations_ids(two_tenants, as_member):
    ours, theirs, objects = two_tenants
    shift_before = Shift.objects.get(pk=objects["shift_id"])
    slug = ours.organization.slug if as_member else theirs.organization.slug
    client = APIClient()
    client.force_login(ours.user)  # session auth reaches both the pages and the API
    leaks = []
    routes = tenant_routes()
    if as_member:
        # With our own slug, only routes naming an object can reach their data.
        routes = [r for r in routes if r.parameters - NOT_TENANT_IDS - {"organization_slug"}]
    for route in routes:
        url = _url(route, slug, objects)
        statuses = {method: getattr(client, method)(url, {}, format="json").status_code
                    for method in METHODS}
        # 405 means the method is not routed at all; anything else but 404 is a leak.
        codes = set(statuses.values())
        if not codes <= {404, 405} or 404 not in codes:
            leaks.append(f"{route.name} {url}: {statuses}")
    assert leaks == []
    shift_after = Shift.objects.get(pk=objects["shift_id"])
    assert (shift_after.version, shift_after.deleted_at, shift_after.approval_state) == (
        shift_before.version, shift_before.deleted_at, shift_before.approval_state,
    )


def test_a_project_manager_gets_404_for_an_unassigned_project_of_their_own_organization():
    manager = factories.MembershipFactory(role=Role.PROJECT_MANAGER)
    organization = manager.organization
    assigned = factories.ProjectFactory(organization=organization)
    manager.assigned_projects.add(assigned)
    other_shift = factories.ShiftFactory(organization=organization)
    client = APIClient()
    client.force_login(manager.user)
    slug = organization.slug
    assert client.get(f"/o/{slug}/projects/{assigned.pk}/").status_code == 200
    assert client.get(f"/o/{slug}/projects/{other_shift.project_id}/").status_code == 404
    assert client.get(f"/o/{slug}/shifts/{other_shift.pk}/").status_code == 404
    api_base = f"/api/v1/orgs/{slug}"
    assert client.get(f"{api_base}/projects/{other_shift.project_id}/").status_code == 404
    assert client.get(f"{api_base}/shifts/{other_shift.pk}/").status_code == 404
