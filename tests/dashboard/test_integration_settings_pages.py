"""Connecting Plexxis from the pages, its settings, testing the connection and disconnecting,
against the live Plexxis emulator. Only admins connect, configure and disconnect; the API key
is never sent back to a browser."""

from __future__ import annotations

import re
from datetime import time

import pytest

from tests import factories
from tests.dashboard.helpers import section, visible_text
from tests.timesync.sync import conftest as sync_world
from timesync import crypto
from timesync.models import (
    CostCodeLink,
    HoursRounding,
    Integration,
    MatchField,
    ProjectLink,
    Role,
    SyncRun,
    WorkerLink,
)
from timesync.sync import services as sync_services

pytestmark = pytest.mark.django_db

# The sync engine's world (a live Plexxis emulator, Plexxis V2 connected with key API_KEY, a
# linked project, workers ana and ben linked and cy unknown to Plexxis).
emulator = sync_world.emulator
world = sync_world.world
API_KEY = sync_world.API_KEY


def integrations_url(organization) -> str:
    return f"/o/{organization.slug}/integrations/"


def connect_url(organization) -> str:
    return f"{integrations_url(organization)}connect/"


def settings_url(integration) -> str:
    return f"{integrations_url(integration.organization)}{integration.pk}/settings/"


def disconnect_url(integration) -> str:
    return f"{integrations_url(integration.organization)}{integration.pk}/disconnect/"


@pytest.fixture
def company(emulator):
    """An organization with no integration yet, whose Plexxis (the emulator) knows two of its
    three workers, one of its two projects and its cost code."""
    organization = factories.OrganizationFactory(time_zone="America/Edmonton")
    admin = factories.MembershipFactory(organization=organization, role=Role.ADMIN)
    for name, number in (("Ana Silva", "1001"), ("Ben Okafor", "1002"), ("Cy Unknown", "9999")):
        factories.WorkerFactory(organization=organization, name=name, employee_number=number)
    factories.ProjectFactory(organization=organization, code="24-101", name="King Street Tower")
    factories.ProjectFactory(organization=organization, code="24-900", name="Lakeshore Depot")
    factories.CostCodeFactory(organization=organization, code="03.100", name="Concrete Formwork")
    emulator.seed(
        employees=[{"code": "1001", "first_name": "Ana", "last_name": "Silva"},
                   {"code": "1002", "first_name": "Ben", "last_name": "Okafor"}],
        jobs=[{"job_number": "24-101", "name": "King Street Tower"}],
        cost_codes=[{"code": "03.100", "description": "Concrete Formwork"}],
    )
    return admin


def connect(client, admin, emulator, *, api_key: str = API_KEY, **fields):
    data = {"kind": "plexxis", "name": "Plexxis", "base_url": emulator.base_url,
            "api_key": api_key, **fields}
    return client.post(connect_url(admin.organization), data, follow=True)


def settings_data(integration, **changes) -> dict:
    """The settings form as the page fills it in, with changes."""
    rules = [*integration.worker_matching, "", "", ""]
    data = {
        "name": integration.name, "base_url": integration.settings["base_url"], "api_key": "",
        "match_first": rules[0], "match_second": rules[1], "match_third": rules[2],
        "hours_rounding": integration.hours_rounding,
        "schedule_time": integration.schedule_time.strftime("%H:%M"),
        "schedule_days_back": integration.schedule_days_back,
    }
    if integration.schedule_enabled:
        data["schedule_enabled"] = "on"
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def stored_key(integration) -> str:
    integration.refresh_from_db()
    if not integration.credentials_encrypted:
        return ""
    return crypto.decrypt_json(integration.credentials_encrypted)["api_key"]


# --- Connect --------------------------------------------------------------------------------


def test_the_connect_page_offers_plexxis_sends_procore_to_its_page_and_quickbooks_is_coming(
    browser_client, company
):
    response = browser_client(company).get(connect_url(company.organization))

    page = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'<input[^>]*value="plexxis"[^>]*checked', page)
    for kind in ("procore", "quickbooks_desktop"):
        assert re.search(rf'<input[^>]*value="{kind}"[^>]*disabled', page)
    text = visible_text(page)
    assert "Procore (use Connect to Procore below)" in text
    assert f'href="/o/{company.organization.slug}/integrations/connect/procore/"' in page
    assert "QuickBooks Desktop (coming soon)" in text
    assert re.search(r'<input[^>]*name="name"[^>]*value="Plexxis"', page)
    assert re.search(r'<input[^>]*type="password"[^>]*name="api_key"', page)


def test_connecting_with_a_good_key_keeps_it_and_shows_the_first_fetch_running(
    browser_client, company, emulator
):
    response = connect(browser_client(company), company, emulator)

    integration = Integration.objects.get(organization=company.organization)
    assert integration.is_connected
    assert stored_key(integration) == API_KEY
    assert response.redirect_chain[-1][0].endswith(f"/integrations/{integration.pk}/mappings/")
    text = visible_text(response.content)
    assert "Connected to Plexxis. Fetching employees, jobs and cost codes from Plexxis" in text
    assert 'class="spinner"' in response.content.decode()


def test_the_first_fetch_after_connecting_links_what_matches(
    browser_client, company, emulator, eager_celery, django_capture_on_commit_callbacks
):
    client = browser_client(company)
    with django_capture_on_commit_callbacks(execute=True):
        connect(client, company, emulator)

    integration = Integration.objects.get(organization=company.organization)
    assert sorted(WorkerLink.objects.filter(integration=integration)
                  .values_list("remote_worker_id", flat=True)) == ["1001", "1002"]
    text = visible_text(client.get(f"{integrations_url(company.organization)}{integration.pk}"
                                   "/mappings/").content)
    assert "Workers 2 of 3 linked" in text
    assert "Projects 1 of 2 linked" in text
    assert "Fetched from Plexxis just now." in text


def test_connecting_with_a_wrong_key_shows_the_refusal_and_keeps_nothing(
    browser_client, company, emulator
):
    response = connect(browser_client(company), company, emulator, api_key="wrong-key")

    assert response.status_code == 200
    assert "Plexxis refused the API key (401)" in visible_text(response.content)
    assert "Not saved." in visible_text(response.content)
    assert not Integration.objects.filter(organization=company.organization).exists()
    assert not WorkerLink.objects.filter(organization=company.organization).exists()


def test_a_wrong_key_is_not_sent_back_in_the_form(browser_client, company, emulator):
    response = connect(browser_client(company), company, emulator,
                       api_key="wrong-key-do-not-echo")
    assert "wrong-key-do-not-echo" not in response.content.decode()


def test_connecting_to_an_address_that_does_not_answer_keeps_nothing(
    browser_client, company, emulator
):
    address = emulator.base_url
    emulator.stop()

    response = connect(browser_client(company), company, emulator, base_url=address)

    assert "Could not reach Plexxis" in visible_text(response.content)
    assert not Integration.objects.filter(organization=company.organization).exists()


def test_connecting_with_a_name_in_use_says_so_next_to_the_name(browser_client, world):
    response = connect(browser_client(world.admin), world.admin, world.emulator,
                       name="Plexxis V2")

    assert "An integration named Plexxis V2 exists already." in visible_text(response.content)
    assert Integration.objects.filter(organization=world.admin.organization).count() == 1


def test_a_coming_soon_system_cannot_be_connected(browser_client, company, emulator):
    response = connect(browser_client(company), company, emulator, kind="quickbooks_desktop")

    assert "QuickBooks Desktop is coming soon" in visible_text(response.content)
    assert not Integration.objects.filter(organization=company.organization).exists()


def test_procore_is_not_connected_with_an_address_and_key(browser_client, company, emulator):
    response = connect(browser_client(company), company, emulator, kind="procore")

    assert "use Connect to Procore" in visible_text(response.content)
    assert not Integration.objects.filter(organization=company.organization).exists()


# --- The API key never reaches a page -------------------------------------------------------


def test_the_stored_api_key_is_in_no_page(browser_client, world, synced_run):
    client = browser_client(world.admin)
    base = integrations_url(world.admin.organization)
    pages = [base, connect_url(world.admin.organization), settings_url(world.integration),
             disconnect_url(world.integration), f"{base}{world.integration.pk}/mappings/",
             f"{base}{world.integration.pk}/logs/", f"{base}{world.integration.pk}/logs/"
             f"{synced_run.pk}/", f"{base}{world.integration.pk}/dashboard/"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert API_KEY not in response.content.decode(), url


def test_the_settings_page_says_a_key_is_stored_without_showing_it(browser_client, world):
    response = browser_client(world.admin).get(settings_url(world.integration))

    assert "An API key is stored" in visible_text(response.content)
    assert 'name="api_key"' in response.content.decode()
    assert API_KEY not in response.content.decode()


@pytest.fixture
def synced_run(world):
    world.shift("ana")
    return sync_world.run_to_completion(world.start_run().pk)


# --- Settings -------------------------------------------------------------------------------


def test_saving_settings_changes_them_and_keeps_the_stored_key(browser_client, world):
    integration = world.integration
    response = browser_client(world.admin).post(settings_url(integration), settings_data(
        integration, name="Plexxis Payroll", match_first=MatchField.EMAIL,
        match_second=MatchField.EMPLOYEE_NUMBER, match_third="",
        hours_rounding=HoursRounding.QUARTER, schedule_enabled="on", schedule_time="23:30",
        schedule_days_back=0,
    ), follow=True)

    assert "Settings saved." in visible_text(response.content)
    integration.refresh_from_db()
    assert integration.name == "Plexxis Payroll"
    assert integration.worker_matching == [MatchField.EMAIL, MatchField.EMPLOYEE_NUMBER]
    assert integration.hours_rounding == HoursRounding.QUARTER
    assert (integration.schedule_enabled, integration.schedule_time,
            integration.schedule_days_back) == (True, time(23, 30), 0)
    assert stored_key(integration) == API_KEY


def test_the_schedule_is_shown_with_the_organizations_time_zone(browser_client, world):
    response = browser_client(world.admin).get(settings_url(world.integration))
    assert "Local time in America/Toronto, the organization's time zone." in visible_text(
        response.content)


def test_a_matching_rule_named_twice_is_refused_next_to_the_field(browser_client, world):
    response = browser_client(world.admin).post(settings_url(world.integration), settings_data(
        world.integration, match_first=MatchField.EMAIL, match_second=MatchField.EMAIL))

    assert response.status_code == 200
    assert 'id="id_match_second_error"' in response.content.decode()
    world.integration.refresh_from_db()
    assert world.integration.worker_matching == [MatchField.EMPLOYEE_NUMBER, MatchField.EMAIL,
                                                 MatchField.NAME]


def test_a_new_key_that_plexxis_refuses_is_not_saved(browser_client, world):
    response = browser_client(world.admin).post(settings_url(world.integration), settings_data(
        world.integration, api_key="rotated-but-wrong", name="Renamed"))

    text = visible_text(response.content)
    assert "Plexxis refused the API key (401)" in text
    assert "rotated-but-wrong" not in response.content.decode()
    assert stored_key(world.integration) == API_KEY
    assert world.integration.name == "Plexxis V2"  # nothing of that save was kept


def test_a_new_key_that_plexxis_accepts_replaces_the_stored_one(browser_client, world):
    world.emulator.api_key = "rotated-key"

    response = browser_client(world.admin).post(settings_url(world.integration), settings_data(
        world.integration, api_key="rotated-key"), follow=True)

    assert "Settings saved." in visible_text(response.content)
    assert stored_key(world.integration) == "rotated-key"


def test_test_connection_says_the_key_works(browser_client, world):
    response = browser_client(world.admin).post(f"{settings_url(world.integration)}test/",
                                                follow=True)
    assert "Plexxis V2 answered: the address and the API key work." in visible_text(
        response.content)


def test_test_connection_says_why_it_fails(browser_client, world):
    world.emulator.api_key = "someone-rotated-it-in-plexxis"

    response = browser_client(world.admin).post(f"{settings_url(world.integration)}test/",
                                                follow=True)

    assert "The connection test failed: Plexxis refused the API key (401)." in visible_text(
        response.content)


def test_refresh_from_the_settings_page_links_a_new_employee(
    browser_client, world, eager_celery, django_capture_on_commit_callbacks
):
    world.emulator.seed(employees=[{"code": "9999", "first_name": "Cy", "last_name": "Unknown"}])

    with django_capture_on_commit_callbacks(execute=True):
        response = browser_client(world.admin).post(
            f"{integrations_url(world.admin.organization)}{world.integration.pk}"
            "/refresh-links/", {"next": "settings"})

    assert response.url == settings_url(world.integration)
    assert WorkerLink.objects.filter(integration=world.integration,
                                     worker=world.workers["cy"]).exists()
    page = browser_client(world.admin).get(settings_url(world.integration))
    assert "Linked: 3 of 3 workers" in visible_text(page.content)


# --- Disconnect -----------------------------------------------------------------------------


def test_the_disconnect_page_says_what_is_removed_and_what_stays(browser_client, world,
                                                                 synced_run):
    response = browser_client(world.admin).get(disconnect_url(world.integration))

    text = visible_text(response.content)
    assert response.status_code == 200
    assert "1 project link (" in text
    assert "2 worker links, including those set by hand" in text
    assert "1 cost code link" in text
    assert "The stored credentials (API key)" in text
    assert "The nightly schedule (now off)" in text
    assert "The logs: 1 timecard sync, each with its lines and CSV" in text
    assert "The sync ledger: 1 record of what was sent" in text
    # A GET changes nothing.
    world.integration.refresh_from_db()
    assert world.integration.is_connected


def test_disconnecting_removes_links_and_credentials_and_keeps_the_logs(browser_client, world,
                                                                      synced_run):
    response = browser_client(world.admin).post(disconnect_url(world.integration), follow=True)

    integration = world.integration
    integration.refresh_from_db()
    assert not integration.is_connected
    assert integration.credentials_encrypted == ""
    assert not integration.schedule_enabled
    assert not ProjectLink.objects.filter(integration=integration).exists()
    assert not WorkerLink.objects.filter(integration=integration).exists()
    assert not CostCodeLink.objects.filter(integration=integration).exists()
    assert SyncRun.objects.filter(integration=integration).count() == 1
    assert "Plexxis V2 is disconnected: removed 1 project link, 2 worker links, 1 cost code " \
           "link" in visible_text(response.content)
    assert "Disconnected" in visible_text(response.content)  # the list's status, in words


def test_a_disconnected_integration_connects_again_with_a_new_key(
    browser_client, world, eager_celery, django_capture_on_commit_callbacks
):
    client = browser_client(world.admin)
    client.post(disconnect_url(world.integration))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(settings_url(world.integration), settings_data(
            world.integration, api_key=API_KEY))

    world.integration.refresh_from_db()
    assert world.integration.is_connected
    assert "Plexxis V2 is connected again. Fetching employees" in visible_text(
        client.get(response.url).content)
    assert WorkerLink.objects.filter(integration=world.integration).count() == 2


# --- The list -------------------------------------------------------------------------------


def test_the_list_links_an_admin_to_every_page_of_an_integration(browser_client, world):
    response = browser_client(world.admin).get(integrations_url(world.admin.organization))

    page = response.content.decode()
    base = f"{integrations_url(world.admin.organization)}{world.integration.pk}"
    for suffix in ("dashboard/", "logs/", "mappings/", "settings/"):
        assert f'href="{base}/{suffix}"' in page
    assert f'href="{connect_url(world.admin.organization)}"' in page


def test_the_list_shows_a_viewer_the_dashboard_and_logs_only(browser_client, world):
    viewer = factories.MembershipFactory(organization=world.admin.organization,
                                         role=Role.VIEWER)
    page = browser_client(viewer).get(integrations_url(viewer.organization)).content.decode()

    base = f"{integrations_url(viewer.organization)}{world.integration.pk}"
    assert f'href="{base}/dashboard/"' in page
    assert f'href="{base}/logs/"' in page
    assert "mappings/" not in page
    assert "settings/" not in page
    assert "connect/" not in page


def test_the_list_shows_a_payroll_admin_the_mappings_but_not_the_settings(browser_client,
                                                                         world):
    page = browser_client(world.payroll).get(
        integrations_url(world.payroll.organization)).content.decode()
    assert f"{world.integration.pk}/mappings/" in page
    assert "settings/" not in page
    assert "connect/" not in page


def test_the_list_without_integrations_invites_an_admin_to_connect_one(browser_client,
                                                                      company):
    response = browser_client(company).get(integrations_url(company.organization))

    assert "No integration yet" in visible_text(response.content)
    assert f'href="{connect_url(company.organization)}"' in response.content.decode()


def test_the_list_without_integrations_tells_a_viewer_who_connects_one(browser_client,
                                                                      company):
    viewer = factories.MembershipFactory(organization=company.organization, role=Role.VIEWER)
    response = browser_client(viewer).get(integrations_url(company.organization))

    assert "An admin of" in visible_text(response.content)
    assert "connect/" not in response.content.decode()


# --- Roles ----------------------------------------------------------------------------------


@pytest.fixture(params=[Role.VIEWER, Role.PROJECT_MANAGER, Role.PAYROLL_ADMIN])
def not_admin(request, world):
    membership = factories.MembershipFactory(organization=world.admin.organization,
                                             role=request.param)
    if request.param == Role.PROJECT_MANAGER:
        membership.assigned_projects.add(world.project)
    return membership


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("page", ["connect", "settings", "disconnect"])
def test_only_admins_open_connect_settings_and_disconnect(browser_client, world, not_admin,
                                                          page, method):
    url = {"connect": connect_url(world.admin.organization),
           "settings": settings_url(world.integration),
           "disconnect": disconnect_url(world.integration)}[page]

    response = getattr(browser_client(not_admin), method)(url)

    assert response.status_code == 403
    world.integration.refresh_from_db()
    assert world.integration.is_connected


@pytest.mark.parametrize("action", ["settings/test/", "refresh-links/"])
def test_only_admins_test_the_connection_or_refresh_links(browser_client, world, not_admin,
                                                          action):
    url = f"{integrations_url(world.admin.organization)}{world.integration.pk}/{action}"
    assert browser_client(not_admin).post(url).status_code == 403


def test_another_organizations_integration_settings_are_not_found(browser_client, world):
    outsider = factories.MembershipFactory(role=Role.ADMIN)
    url = f"/o/{outsider.organization.slug}/integrations/{world.integration.pk}/settings/"
    assert browser_client(outsider).get(url).status_code == 404


def test_disconnecting_another_organizations_integration_is_not_found(browser_client, world):
    outsider = factories.MembershipFactory(role=Role.ADMIN)
    url = f"/o/{outsider.organization.slug}/integrations/{world.integration.pk}/disconnect/"

    assert browser_client(outsider).post(url).status_code == 404
    world.integration.refresh_from_db()
    assert world.integration.is_connected


# --- The audit trail ------------------------------------------------------------------------


def test_the_settings_page_shows_who_changed_what_before_and_after(browser_client, world):
    client = browser_client(world.admin)
    client.post(settings_url(world.integration), settings_data(
        world.integration, name="Plexxis Payroll"))

    text = section(client.get(settings_url(world.integration)).content, "Activity")

    assert (f"{world.admin.user.get_full_name()} Settings changed Name: Plexxis V2 → "
            "Plexxis Payroll") in text


def test_a_new_key_shows_as_replaced_in_the_trail_never_as_a_value(browser_client, world):
    world.emulator.api_key = "rotated-key"
    client = browser_client(world.admin)
    client.post(settings_url(world.integration), settings_data(world.integration,
                                                               api_key="rotated-key"))

    page = client.get(settings_url(world.integration)).content

    assert "Credentials replaced" in section(page, "Activity")
    assert "rotated-key" not in page.decode()


def test_the_trail_is_paged_newest_first(browser_client, world):
    for days in range(30):
        sync_services.integration_update(actor=world.admin, integration=world.integration,
                                         schedule_days_back=days + 2)
    client = browser_client(world.admin)

    first = section(client.get(settings_url(world.integration)).content, "Activity")
    second = section(client.get(f"{settings_url(world.integration)}?activity=2").content,
                     "Activity")

    assert "Day to send (days back): 30 → 31" in first
    assert "Page 1 of 2" in first
    assert "Day to send (days back): 1 → 2" in second
