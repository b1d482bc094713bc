"""The mappings page: what is not linked to Plexxis, with a suggested match read from the
reference catalog (never from Plexxis while the page loads), how old the catalog is and a way
to fetch it again, and links set by hand that refreshing keeps. Admins and payroll admins use
it (the link services allow both); viewers and project managers get 403."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests import factories
from tests.dashboard.helpers import section, visible_text
from tests.timesync.sync import conftest as sync_world
from timesync.models import (
    CostCodeLink,
    IntegrationAuditEntry,
    MatchField,
    ProjectLink,
    ReferenceCatalog,
    Role,
    WorkerLink,
)
from timesync.sync import catalog
from timesync.sync import services as sync_services

pytestmark = pytest.mark.django_db

# The sync engine's world (a live Plexxis emulator, Plexxis V2 linked to King Street Tower,
# Ana 1001 and Ben 1002 linked, Cy Unknown 9999 unknown to Plexxis).
emulator = sync_world.emulator
world = sync_world.world


def mappings_url(world) -> str:
    return (f"/o/{world.admin.organization.slug}/integrations/{world.integration.pk}"
            "/mappings/")


def refresh_url(world) -> str:
    return (f"/o/{world.admin.organization.slug}/integrations/{world.integration.pk}"
            "/refresh-links/")


@pytest.fixture
def cy_in_plexxis(world):
    """Plexxis knows Cy under another employee code (7007), by name only, and the integration
    matches by employee number alone: refreshing links cannot find him."""
    sync_services.integration_update(actor=world.admin, integration=world.integration,
                                     worker_matching=[MatchField.EMPLOYEE_NUMBER])
    world.emulator.seed(employees=[{"code": "7007", "first_name": "Cy", "last_name": "Unknown"}])
    sync_services.integration_refresh_links(actor=world.admin, integration=world.integration)
    assert not WorkerLink.objects.filter(worker=world.workers["cy"]).exists()
    return "7007"


def worker_row(content: bytes, name: str) -> str:
    """The visible text of the workers table's row of `name`."""
    text = content.decode()
    table = re.search(r'id="workers".*?</section>', text, flags=re.S).group(0)
    for row in re.findall(r"<tr>.*?</tr>", table, flags=re.S):
        if name in row:
            return visible_text(row)
    raise AssertionError(f"no row of {name} among the workers not linked")


def status_url(world) -> str:
    return (f"/o/{world.admin.organization.slug}/integrations/{world.integration.pk}"
            "/catalog/")


def link(client, world, kind: str, item, remote_id: str, action: str = "link"):
    return client.post(mappings_url(world), {"kind": kind, "item": item.pk, "action": action,
                                             "remote_id": remote_id}, follow=True)


@pytest.fixture
def refresh(eager_celery, django_capture_on_commit_callbacks):
    """Press "Refresh from Plexxis" and let the queued fetch run, as a Celery worker would."""

    def press(client, world, follow: bool = False):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(refresh_url(world), {"next": "mappings"}, follow=follow)

    return press


# --- What is listed -------------------------------------------------------------------------


def test_an_unmatched_worker_is_listed_with_the_suggested_match(browser_client, world,
                                                               cy_in_plexxis):
    response = browser_client(world.admin).get(mappings_url(world))

    assert response.status_code == 200
    row = worker_row(response.content, "Cy Unknown")
    assert row.startswith("Cy Unknown 9999")
    assert "Cy Unknown · #7007 (same name)" in row


def test_the_suggested_match_is_chosen_in_the_workers_select(browser_client, world,
                                                             cy_in_plexxis):
    page = browser_client(world.admin).get(mappings_url(world)).content.decode()

    select = re.search(rf'<select id="worker-{world.workers["cy"].pk}".*?</select>', page,
                       flags=re.S).group(0)
    assert re.search(r'<option value="7007" selected>', select)
    assert f'<label class="visually-hidden" for="worker-{world.workers["cy"].pk}">' in page


def test_a_remote_employee_already_linked_is_marked_in_the_select(browser_client, world,
                                                                   cy_in_plexxis):
    page = browser_client(world.admin).get(mappings_url(world)).content.decode()
    assert "Ana Silva · #1001 — linked to Ana Silva" in visible_text(page)


def test_a_worker_without_any_match_says_so(browser_client, world):
    response = browser_client(world.admin).get(mappings_url(world))
    assert "No match in Plexxis V2" in worker_row(response.content, "Cy Unknown")


def test_the_page_counts_what_is_matched(browser_client, world):
    text = section(browser_client(world.admin).get(mappings_url(world)).content, "Matched")

    assert "Workers 2 of 3 linked" in text
    assert "Projects 1 of 1 linked" in text
    assert "Cost codes 1 of 1 linked" in text


def test_an_unmatched_project_is_suggested_its_job_by_number(browser_client, world):
    parkade = factories.ProjectFactory(organization=world.admin.organization, code="24-102",
                                       name="Parkade (renamed here)")

    text = visible_text(browser_client(world.admin).get(mappings_url(world)).content)

    assert f"{parkade} 24-102 Harbour Parkade (same project number)" in text


def test_the_mappings_page_makes_no_request_to_plexxis(browser_client, world,
                                                       cy_in_plexxis):
    before = world.emulator.request_count()

    response = browser_client(world.admin).get(mappings_url(world))

    assert "Cy Unknown · #7007 (same name)" in worker_row(response.content, "Cy Unknown")
    assert world.emulator.request_count() == before


def test_the_page_says_how_old_the_catalog_is(browser_client, world):
    ReferenceCatalog.objects.filter(integration=world.integration).update(
        fetched_at=timezone.now() - timedelta(minutes=3, seconds=5))

    text = visible_text(browser_client(world.admin).get(mappings_url(world)).content)

    assert "Fetched from Plexxis 3 minutes ago." in text
    assert "Refresh from Plexxis" in text


def test_a_catalog_never_fetched_says_so_and_offers_the_fetch(browser_client, world):
    catalog.catalog_clear(integration=world.integration)

    text = visible_text(browser_client(world.admin).get(mappings_url(world)).content)

    assert "have not been fetched from Plexxis yet" in text
    assert "Fetch from Plexxis" in text


def test_an_unmatched_cost_code_is_suggested_by_the_rule_refresh_links_uses(browser_client,
                                                                           world):
    masonry = factories.CostCodeFactory(organization=world.admin.organization, code="4200",
                                        name="Masonry")
    world.emulator.seed(cost_codes=[{"code": "04.200", "description": "Masonry"}])
    sync_services.integration_refresh_links(actor=world.admin, integration=world.integration)
    link(browser_client(world.admin), world, "cost_code", masonry, "03.100")
    link(browser_client(world.admin), world, "cost_code", masonry, "", action="unlink")

    text = visible_text(browser_client(world.admin).get(mappings_url(world)).content)

    assert "4200 Masonry 04.200 Masonry (same description)" in text


# --- Refreshing from Plexxis ----------------------------------------------------------------


def test_refresh_from_plexxis_queues_the_fetch_and_the_page_shows_it_running(
    browser_client, world
):
    before = world.emulator.request_count()

    response = browser_client(world.admin).post(refresh_url(world), {"next": "mappings"},
                                                follow=True)

    assert world.emulator.request_count() == before  # queued, not run in the request
    assert "Fetching employees, jobs and cost codes from Plexxis" in visible_text(
        response.content)
    assert f'hx-get="{status_url(world)}"' in response.content.decode()


def test_the_queued_fetch_links_what_it_brings(browser_client, world, refresh):
    world.emulator.seed(employees=[{"code": "9999", "first_name": "Cy", "last_name": "Unknown"}])

    refresh(browser_client(world.admin), world)

    assert WorkerLink.objects.get(worker=world.workers["cy"]).remote_worker_id == "9999"


def test_a_fetch_that_failed_is_shown_with_its_reason(browser_client, world, refresh):
    world.emulator.stop()

    refresh(browser_client(world.admin), world)
    text = visible_text(browser_client(world.admin).get(mappings_url(world)).content)

    assert "The last fetch from Plexxis failed" in text
    assert "Could not reach Plexxis" in text


def test_the_status_poll_answers_the_running_fetch(browser_client, world):
    sync_services.integration_catalog_refresh(actor=world.admin, integration=world.integration)

    response = browser_client(world.admin).get(status_url(world), HTTP_HX_REQUEST="true")

    assert "Fetching employees" in visible_text(response.content)
    assert "HX-Refresh" not in response


def test_the_status_poll_reloads_the_page_once_the_fetch_is_over(browser_client, world):
    response = browser_client(world.admin).get(status_url(world), HTTP_HX_REQUEST="true")
    assert response["HX-Refresh"] == "true"


def test_a_refresh_by_hand_is_in_the_audit_trail(browser_client, world, refresh):
    refresh(browser_client(world.admin), world)
    entry = IntegrationAuditEntry.objects.filter(integration=world.integration).first()
    assert (entry.event, entry.actor) == ("catalog_refreshed", world.admin.user)


# --- Fixing ---------------------------------------------------------------------------------


def test_linking_a_worker_by_hand_creates_a_manual_link(browser_client, world, cy_in_plexxis):
    response = link(browser_client(world.admin), world, "worker", world.workers["cy"], "7007")

    assert response.status_code == 200
    created = WorkerLink.objects.get(integration=world.integration, worker=world.workers["cy"])
    assert (created.remote_worker_id, created.matched_by) == ("7007", MatchField.MANUAL)
    assert "Cy Unknown is linked to 7007 in Plexxis V2, by hand" in visible_text(
        response.content)


def test_a_later_refresh_keeps_a_link_set_by_hand(browser_client, world, cy_in_plexxis,
                                                  refresh):
    client = browser_client(world.admin)
    link(client, world, "worker", world.workers["cy"], "7007")

    refresh(client, world)

    kept = WorkerLink.objects.get(integration=world.integration, worker=world.workers["cy"])
    assert (kept.remote_worker_id, kept.matched_by) == ("7007", MatchField.MANUAL)


def test_a_worker_linked_by_hand_is_listed_as_set_by_hand(browser_client, world,
                                                          cy_in_plexxis):
    response = link(browser_client(world.admin), world, "worker", world.workers["cy"], "7007")

    assert "Cy Unknown (worker) Cy Unknown · #7007" in section(response.content, "Set by hand")
    assert "Workers not linked 0" in visible_text(response.content)


def test_removing_a_link_set_by_hand_lists_the_worker_again(browser_client, world,
                                                            cy_in_plexxis):
    client = browser_client(world.admin)
    link(client, world, "worker", world.workers["cy"], "7007")

    response = link(client, world, "worker", world.workers["cy"], "", action="unlink")

    assert not WorkerLink.objects.filter(worker=world.workers["cy"]).exists()
    assert worker_row(response.content, "Cy Unknown")


def test_linking_a_project_creates_its_project_link(browser_client, world):
    parkade = factories.ProjectFactory(organization=world.admin.organization, code="P-2",
                                       name="Parkade")

    link(browser_client(world.admin), world, "project", parkade, "24-102")

    created = ProjectLink.objects.get(integration=world.integration, project=parkade)
    assert (created.remote_project_id, created.enabled) == ("24-102", True)


def test_linking_a_cost_code_by_hand_creates_a_manual_link_a_refresh_keeps(browser_client,
                                                                           world, refresh):
    masonry = factories.CostCodeFactory(organization=world.admin.organization, code="04.200",
                                        name="Masonry")
    client = browser_client(world.admin)

    link(client, world, "cost_code", masonry, "03.100")
    refresh(client, world)

    kept = CostCodeLink.objects.get(integration=world.integration, cost_code=masonry)
    assert (kept.remote_cost_code_id, kept.matched_by) == ("03.100", MatchField.MANUAL)


def test_linking_without_choosing_says_what_is_missing(browser_client, world):
    response = link(browser_client(world.admin), world, "worker", world.workers["cy"], "")

    assert "Choose what to link it to." in visible_text(response.content)
    assert not WorkerLink.objects.filter(worker=world.workers["cy"]).exists()


def test_linking_another_organizations_worker_is_not_found(browser_client, world):
    stranger = factories.WorkerFactory()  # in another organization

    response = browser_client(world.admin).post(mappings_url(world), {
        "kind": "worker", "item": stranger.pk, "action": "link", "remote_id": "1001"})

    assert response.status_code == 404
    assert not WorkerLink.objects.filter(worker=stranger).exists()


# --- The remote down, or never read ---------------------------------------------------------


def test_with_plexxis_down_the_page_still_shows_what_was_fetched(browser_client, world,
                                                                 cy_in_plexxis):
    world.emulator.stop()

    response = browser_client(world.admin).get(mappings_url(world))

    assert response.status_code == 200
    assert "Cy Unknown · #7007 (same name)" in worker_row(response.content, "Cy Unknown")


def test_before_the_first_fetch_the_unmatched_are_listed_without_suggestions(browser_client,
                                                                             world):
    catalog.catalog_clear(integration=world.integration)

    response = browser_client(world.admin).get(mappings_url(world))

    row = worker_row(response.content, "Cy Unknown")
    assert row.startswith("Cy Unknown 9999")
    assert "nothing fetched from Plexxis yet" in row


def test_before_the_first_fetch_a_worker_is_linked_by_typing_the_code(browser_client, world):
    catalog.catalog_clear(integration=world.integration)
    client = browser_client(world.admin)

    page = client.get(mappings_url(world)).content.decode()
    assert f'<input id="worker-{world.workers["cy"].pk}" name="remote_id" type="text"' in page

    link(client, world, "worker", world.workers["cy"], "C-9999")
    assert WorkerLink.objects.get(worker=world.workers["cy"]).remote_worker_id == "C-9999"


def test_a_disconnected_integration_says_so_instead_of_reading_the_remote(browser_client,
                                                                          world):
    sync_services.integration_disconnect(actor=world.admin, integration=world.integration)
    before = world.emulator.request_count()

    response = browser_client(world.admin).get(mappings_url(world))

    assert "Plexxis V2 is disconnected" in visible_text(response.content)
    assert world.emulator.request_count() == before


# --- Roles ----------------------------------------------------------------------------------


def test_a_payroll_admin_links_a_worker(browser_client, world, cy_in_plexxis):
    client = browser_client(world.payroll)

    assert client.get(mappings_url(world)).status_code == 200
    link(client, world, "worker", world.workers["cy"], "7007")
    assert WorkerLink.objects.get(worker=world.workers["cy"]).matched_by == MatchField.MANUAL


def test_a_payroll_admin_sees_no_refresh_links_button(browser_client, world):
    page = browser_client(world.payroll).get(mappings_url(world)).content.decode()

    assert "refresh-links/" not in page
    assert "An admin can refresh them from Plexxis" in visible_text(page)


def test_a_payroll_admin_cannot_refresh_links(browser_client, world):
    assert browser_client(world.payroll).post(refresh_url(world)).status_code == 403


@pytest.mark.parametrize("role", [Role.VIEWER, Role.PROJECT_MANAGER])
@pytest.mark.parametrize("method", ["get", "post"])
def test_viewers_and_project_managers_get_403(browser_client, world, role, method):
    member = factories.MembershipFactory(organization=world.admin.organization, role=role)
    if role == Role.PROJECT_MANAGER:
        member.assigned_projects.add(world.project)

    response = getattr(browser_client(member), method)(mappings_url(world), {
        "kind": "worker", "item": world.workers["cy"].pk, "action": "link",
        "remote_id": "1001"} if method == "post" else None)

    assert response.status_code == 403
    assert not WorkerLink.objects.filter(worker=world.workers["cy"]).exists()


def test_another_organizations_mappings_are_not_found(browser_client, world):
    outsider = factories.MembershipFactory(role=Role.ADMIN)
    url = f"/o/{outsider.organization.slug}/integrations/{world.integration.pk}/mappings/"
    assert browser_client(outsider).get(url).status_code == 404


def test_the_page_takes_as_many_queries_for_50_unmatched_workers_as_for_5(browser_client,
                                                                         world):
    client = browser_client(world.admin)
    client.get(mappings_url(world))  # the session's first request reads more, once

    def queries_with(unmatched: int) -> int:
        have = world.admin.organization.workers.filter(name__startswith="Extra").count()
        for n in range(have, unmatched):
            factories.WorkerFactory(organization=world.admin.organization, name=f"Extra {n}")
        with CaptureQueriesContext(connection) as captured:
            assert client.get(mappings_url(world)).status_code == 200
        return len(captured.captured_queries)

    assert queries_with(5) == queries_with(50)
