"""Every page and API endpoint, walked as every role of another organization and of the same
one, with every method: another organization's data answers 404 and nothing changes; within the
organization, each role gets what timesync/roles.py gives it, and a refused request changes no
row of any table.

Each request runs in a savepoint rolled back afterwards, so every request meets the same world
and one fingerprint of it (every table's row count and a digest of its rows) taken at the start
is compared with the tables as each refused request left them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.db import transaction
from django.db.models import Model
from django.shortcuts import resolve_url
from rest_framework.test import APIClient

from tests import factories
from tests.security.walker import (
    METHODS,
    SAFE_METHODS,
    changed_tables,
    fingerprint,
    fingerprint_query,
    fingerprinted_models,
    fingerprinted_tables,
    tenant_routes,
    url_for,
)
from timesync import roles
from timesync.models import (
    CatalogItem,
    CostCode,
    CostCodeLink,
    ExternalRecord,
    InboundEvent,
    InboundSource,
    InboundState,
    Integration,
    IntegrationAuditEntry,
    IntegrationKind,
    Invitation,
    Membership,
    OAuthToken,
    Organization,
    ProcoreReceiver,
    Project,
    ProjectLink,
    ReferenceCatalog,
    Role,
    Shift,
    SyncLogEntry,
    SyncRun,
    SyncState,
    SyncTrigger,
    User,
    WebConnectorAccount,
    WebConnectorSession,
    Worker,
    WorkerLink,
)

pytestmark = pytest.mark.django_db

ROLES = (Role.ADMIN, Role.PAYROLL_ADMIN, Role.PROJECT_MANAGER, Role.VIEWER)


Rule = Callable[[Membership, Project], bool]


def _nobody(membership: Membership, project: Project) -> bool:
    """Users, passwords and tokens belong to people, not to an organization: no organization
    page or endpoint changes them."""
    return False


def _organization(membership: Membership, project: Project) -> bool:
    return roles.can_manage_organization(membership)


def _integrations(membership: Membership, project: Project) -> bool:
    return roles.can_manage_integrations(membership)


def _reference_data(membership: Membership, project: Project) -> bool:
    return roles.can_edit_reference_data(membership)


def _mappings(membership: Membership, project: Project) -> bool:
    return roles.can_change_mappings(membership)


def _project_work(membership: Membership, project: Project) -> bool:
    return roles.can_work_on_project(membership, project)


# Who may change each table, by the rules of timesync/roles.py; a table written by several
# actions lists each. `project` is the walked objects' project. A model added later fails the
# walk until it is taught here (or its app in APP_RULES).
TABLE_RULES: dict[type[Model], tuple[Rule, ...]] = {
    User: (_nobody,), User.groups.through: (_nobody,), User.user_permissions.through: (_nobody,),
    Organization: (_organization,),
    Membership: (_organization,),
    Membership.assigned_projects.through: (_organization,),
    Invitation: (_organization,),
    Integration: (_integrations,),
    OAuthToken: (_integrations,),
    ReferenceCatalog: (_integrations,),
    CatalogItem: (_integrations,),
    # Every change of an integration or of one of its links is in its audit trail.
    IntegrationAuditEntry: (_integrations, _mappings, _reference_data),
    ProjectLink: (_integrations, _mappings, _reference_data),
    WorkerLink: (_integrations, _mappings),
    CostCodeLink: (_integrations, _mappings),
    Project: (_reference_data,), Project.history.model: (_reference_data,),
    Worker: (_reference_data,), Worker.history.model: (_reference_data,),
    CostCode: (_reference_data,),
    Shift: (_project_work,), Shift.history.model: (_project_work,),
    SyncRun: (_project_work,), SyncLogEntry: (_project_work,), ExternalRecord: (_project_work,),
    # Messages from Procore: an admin retries a failed one; disconnecting removes the receiver.
    InboundEvent: (_integrations,), ProcoreReceiver: (_integrations,),
    # The Web Connector's sign-in: an admin replaces its password (which ends its sessions).
    WebConnectorAccount: (_integrations,), WebConnectorSession: (_integrations,),
}
# Whole apps: Django's groups and permissions belong to no organization; API tokens belong to
# their owner, and only an admin, taking a member out of the organization, may end theirs.
APP_RULES: dict[str, tuple[Rule, ...]] = {
    "auth": (_nobody,), "authtoken": (_organization,), "knox": (_organization,),
}


def _rules(model: type[Model]) -> tuple[Rule, ...] | None:
    return TABLE_RULES.get(model) or APP_RULES.get(model._meta.app_label)


RULES_BY_TABLE = {model._meta.db_table: _rules(model) for model in fingerprinted_models()
                  if _rules(model)}


@dataclass
class World:
    """Organization "theirs" with one of everything, a member of every role in it, and a member
    of every role in another organization, "ours"."""

    slug: str
    project: Project
    objects: dict[str, int]
    members: dict[str, Membership]
    outsiders: dict[str, Membership]
    query: str = ""
    start: dict[str, tuple[int, str]] = field(default_factory=dict)


@pytest.fixture
def world() -> World:
    theirs = factories.OrganizationFactory()
    ours = factories.OrganizationFactory()
    shift = factories.ShiftFactory(organization=theirs)
    members = {role: factories.MembershipFactory(organization=theirs, role=role)
               for role in ROLES}
    # The project manager runs a project of their own; the walked objects are on another one.
    members[Role.PROJECT_MANAGER].assigned_projects.add(
        factories.ProjectFactory(organization=theirs))
    outsiders = {role: factories.MembershipFactory(organization=ours, role=role)
                 for role in ROLES}
    invitation = Invitation.objects.create(
        organization=theirs, email="someone@example.com", role=Role.VIEWER,
        token_hash="0" * 64, expires_at="2999-01-01T00:00:00Z",
    )
    integration = Integration.objects.create(
        organization=theirs, kind=IntegrationKind.PLEXXIS, name="Their Plexxis"
    )
    link = ProjectLink.objects.create(
        organization=theirs, integration=integration, project=shift.project,
        remote_project_id="J-1",
    )
    run = SyncRun.objects.create(
        organization=theirs, integration=integration, project=shift.project,
        work_date=shift.work_date, trigger=SyncTrigger.API, state=SyncState.SUCCEEDED,
    )
    message = InboundEvent.objects.create(
        organization=theirs, integration=integration, event_key="webhook-1",
        source=InboundSource.WEBHOOK, event_type="update", resource_id="5000000001",
        state=InboundState.FAILED, outcome="Aaron Abbott is not linked.")
    # What each URL parameter names: the walker's parameter map. A route with a parameter
    # missing here fails the walk (UnknownParameter says which).
    objects = {
        "integration_id": integration.pk,
        "run_id": run.pk,
        "message_id": message.pk,
        "project_link_id": link.pk,
        "project_id": shift.project_id,
        "worker_id": shift.worker_id,
        "cost_code_id": factories.CostCodeFactory(organization=theirs).pk,
        "shift_id": shift.pk,
        "membership_id": factories.MembershipFactory(organization=theirs, role=Role.VIEWER).pk,
        "invitation_id": invitation.pk,
    }
    query = fingerprint_query(fingerprinted_tables())
    world = World(slug=theirs.slug, project=shift.project, objects=objects, members=members,
                  outsiders=outsiders, query=query)
    for membership in [*members.values(), *outsiders.values()]:
        membership.client = APIClient()
        # Session auth reaches both the pages and the API.
        membership.client.force_login(membership.user)
    world.start = fingerprint(query)
    return world


@dataclass(frozen=True)
class Answer:
    status: int
    changed: tuple[str, ...]
    error: str = ""
    location: str = ""


def send(world: World, client: APIClient, method: str, url: str) -> Answer:
    """One request in a savepoint rolled back afterwards: the next request meets the same
    world."""
    with transaction.atomic():
        try:
            if method in SAFE_METHODS:
                response = getattr(client, method)(url)
            else:
                response = getattr(client, method)(url, {}, format="json")
        except Exception as error:  # the test client re-raises a view's 500
            transaction.set_rollback(True)
            return Answer(500, (), repr(error)[:200])
        changed = tuple(changed_tables(world.start, fingerprint(world.query)))
        transaction.set_rollback(True)
    return Answer(response.status_code, changed, location=response.get("Location", ""))


def urls(slug: str, objects: dict[str, int], *, naming_an_object: bool = False
         ) -> list[tuple[str, str]]:
    """(route name, URL) of every tenant route with these objects, once per URL (DRF's
    format-suffix twins share theirs)."""
    found: dict[str, str] = {}
    for route in tenant_routes():
        if naming_an_object and not route.names_an_object:
            continue
        found.setdefault(url_for(route, slug, objects), route.name)
    return sorted((name, url) for url, name in found.items())


def test_walker_finds_the_tenant_scoped_routes():
    names = {route.name for route in tenant_routes()}
    assert {"shift_detail", "project_detail", "api:shift-detail", "api:shift-approve",
            "api:project-list"} <= names


def test_the_walker_knows_what_every_url_parameter_names(world):
    # url_for raises UnknownParameter, naming the route and the parameter, for one it does not.
    assert all(url_for(route, world.slug, world.objects).startswith("/")
               for route in tenant_routes())


def test_every_table_the_walker_watches_says_who_may_change_it():
    assert set(fingerprinted_tables()) - set(RULES_BY_TABLE) == set()


def statuses(world: World, client: APIClient, url: str) -> tuple[dict[str, int], list[str]]:
    """The answer to every method, and what each changed."""
    answers = {method: send(world, client, method, url) for method in METHODS}
    changes = [f"{method.upper()} {url} changed {', '.join(answer.changed)}"
               for method, answer in answers.items() if answer.changed]
    return {method: answer.status for method, answer in answers.items()}, changes


@pytest.mark.parametrize("role", ROLES)
def test_every_route_of_another_organization_answers_404_to_every_role(world, role):
    outsider = world.outsiders[role]
    failures = []
    for name, url in urls(world.slug, world.objects):
        answers, changes = statuses(world, outsider.client, url)
        # 405: the method is not routed at all; anything else but 404 tells them something.
        if not set(answers.values()) <= {404, 405} or 404 not in answers.values():
            failures.append(f"{name} {url}: {answers}")
        failures += changes
    assert failures == []


@pytest.mark.parametrize("role", ROLES)
def test_their_ids_under_our_slug_answer_as_ids_that_do_not_exist(world, role):
    """Their ids in our own organization's URLs: the same answer as for ids that exist nowhere
    (404, or the 403 the role gets there whatever the id), and nothing changes."""
    outsider = world.outsiders[role]
    slug = outsider.organization.slug
    absent = dict.fromkeys(world.objects, 2_000_000_000)
    theirs = urls(slug, world.objects, naming_an_object=True)
    nowhere = urls(slug, absent, naming_an_object=True)
    failures = []
    for (name, url), (_, absent_url) in zip(theirs, nowhere, strict=True):
        answers, changes = statuses(world, outsider.client, url)
        expected, _ = statuses(world, outsider.client, absent_url)
        if answers != expected or not set(answers.values()) <= {403, 404, 405}:
            failures.append(f"{name} {url}: {answers}, for absent ids {expected}")
        failures += changes
    assert failures == []


def test_every_route_turns_an_anonymous_visitor_away(world):
    """Signed out: the sign-in page (pages), 401 or 403 (API), 404 or 405; nothing changes."""
    visitor = APIClient()
    failures = []
    for name, url in urls(world.slug, world.objects):
        for method in METHODS:
            answer = send(world, visitor, method, url)
            to_sign_in = answer.status == 302 and answer.location.startswith(
                resolve_url(settings.LOGIN_URL))
            if not (to_sign_in or answer.status in {401, 403, 404, 405}) or answer.changed:
                failures.append(f"{method.upper()} {url} ({name}) -> {answer.status} "
                                f"{answer.location} changed {answer.changed}")
    assert failures == []


# The API's answers refusing a write.
# A viewer is told 403 before their body is read or a version compared (issue 8, finding 12):
# a 400 or 409 to a viewer's write would say the write got further than it may.
API_REFUSALS = {403, 404, 405}
# The remote's faults, readable answers to a member who may talk to the remote.
REMOTE_FAULTS = {502, 503}


def judge(member: Membership, allowed: set[str], method: str, name: str, answer: Answer
          ) -> str | None:
    """What is wrong with one answer to a member of the organization, if anything."""
    changed = set(answer.changed)
    if answer.status >= 500 and answer.status not in REMOTE_FAULTS:
        return f"server error {answer.error}"
    if method in SAFE_METHODS and changed:
        return f"a read changed {sorted(changed)}"
    if 400 <= answer.status < 500 and changed:
        return f"refused, yet changed {sorted(changed)}"
    if changed - allowed:
        return f"changed {sorted(changed - allowed)}, which {member.role} may not change"
    if member.role == Role.VIEWER and method not in SAFE_METHODS and name.startswith("api:") \
            and answer.status not in API_REFUSALS:
        return "a viewer's write was not refused"
    return None


@pytest.mark.parametrize("role", ROLES)
def test_every_route_gives_a_member_what_their_role_allows_and_nothing_more(world, role):
    member = world.members[role]
    allowed = {table for table, rules in RULES_BY_TABLE.items()
               if any(rule(member, world.project) for rule in rules)}
    failures = []
    for name, url in urls(world.slug, world.objects):
        for method in METHODS:
            answer = send(world, member.client, method, url)
            problem = judge(member, allowed, method, name, answer)
            if problem:
                failures.append(f"{method.upper()} {url} ({name}) -> {answer.status}: {problem}")
    assert failures == []


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
