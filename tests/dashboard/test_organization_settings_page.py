"""Organization settings (admins): the name and the time zone that decides the work date of
shifts on projects without their own time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests import factories
from tests.dashboard.helpers import visible_text
from timesync.models import Organization

pytestmark = pytest.mark.django_db

# 02:30 UTC on June 3 is 22:30 on June 2 in Toronto and 03:30 on June 3 in London.
START = datetime(2026, 6, 3, 2, 30, tzinfo=UTC)


@pytest.fixture
def admin_client(browser_client, admin):
    return browser_client(admin)


@pytest.fixture
def shift_on_org_zone(organization):
    project = factories.ProjectFactory(organization=organization, time_zone="", name="Main St")
    return factories.ShiftFactory(
        organization=organization, project=project, start=START, end=START + timedelta(hours=8)
    )


@pytest.fixture
def shift_on_own_zone(organization):
    project = factories.ProjectFactory(
        organization=organization, time_zone="America/Vancouver", name="Coastal Mill"
    )
    return factories.ShiftFactory(
        organization=organization, project=project, start=START, end=START + timedelta(hours=8)
    )


def save_settings(admin_client, organization, time_zone, name=None):
    return admin_client.post(
        f"/o/{organization.slug}/settings/",
        {"name": name or organization.name, "time_zone": time_zone},
        follow=True,
    )


def test_settings_page_shows_the_current_name_and_time_zone(admin_client, organization):
    response = admin_client.get(f"/o/{organization.slug}/settings/")

    assert response.status_code == 200
    assert f'value="{organization.name}"'.encode() in response.content
    assert b'<option value="America/Toronto" selected>' in response.content


def test_saving_settings_changes_the_name_and_time_zone(admin_client, organization):
    response = save_settings(admin_client, organization, "Europe/London", name="Renamed Co")

    assert "Settings saved." in visible_text(response.content)
    organization.refresh_from_db()
    assert organization.name == "Renamed Co"
    assert organization.time_zone == "Europe/London"
    assert b'<option value="Europe/London" selected>' in response.content


def test_changing_the_time_zone_moves_work_dates_of_projects_without_their_own(
    admin_client, organization, shift_on_org_zone
):
    assert shift_on_org_zone.work_date == date(2026, 6, 2)

    save_settings(admin_client, organization, "Europe/London")

    shift_on_org_zone.refresh_from_db()
    assert shift_on_org_zone.work_date == date(2026, 6, 3)


def test_a_shift_moved_by_a_time_zone_change_gets_a_new_version(
    admin_client, organization, shift_on_org_zone
):
    assert shift_on_org_zone.version == 1

    save_settings(admin_client, organization, "Europe/London")

    shift_on_org_zone.refresh_from_db()
    assert shift_on_org_zone.version == 2


def test_a_moved_shift_shows_on_its_new_day_on_the_project_page(
    admin_client, organization, shift_on_org_zone
):
    project_page = f"/o/{organization.slug}/projects/{shift_on_org_zone.project_id}/?date="

    save_settings(admin_client, organization, "Europe/London")

    worker = shift_on_org_zone.worker.name
    assert worker in visible_text(admin_client.get(project_page + "2026-06-03").content)
    assert worker not in visible_text(admin_client.get(project_page + "2026-06-02").content)


def test_projects_with_their_own_time_zone_keep_their_work_dates(
    admin_client, organization, shift_on_own_zone
):
    assert shift_on_own_zone.work_date == date(2026, 6, 2)

    save_settings(admin_client, organization, "Europe/London")

    shift_on_own_zone.refresh_from_db()
    assert shift_on_own_zone.work_date == date(2026, 6, 2)
    assert shift_on_own_zone.version == 1


def test_shifts_that_stay_on_their_day_keep_their_version(admin_client, organization):
    project = factories.ProjectFactory(organization=organization, time_zone="")
    midday = factories.ShiftFactory(
        organization=organization, project=project,
        start=datetime(2026, 6, 3, 15, 0, tzinfo=UTC),
        end=datetime(2026, 6, 3, 20, 0, tzinfo=UTC),
    )

    save_settings(admin_client, organization, "Europe/London")

    midday.refresh_from_db()
    assert midday.work_date == date(2026, 6, 3)
    assert midday.version == 1


def test_saving_the_same_time_zone_moves_nothing(admin_client, organization, shift_on_org_zone):
    save_settings(admin_client, organization, "America/Toronto", name="Just Renamed")

    shift_on_org_zone.refresh_from_db()
    assert shift_on_org_zone.work_date == date(2026, 6, 2)
    assert shift_on_org_zone.version == 1


def test_another_organizations_shifts_do_not_move(admin_client, organization):
    other = factories.OrganizationFactory(time_zone="America/Toronto")
    project = factories.ProjectFactory(organization=other, time_zone="")
    foreign = factories.ShiftFactory(
        organization=other, project=project, start=START, end=START + timedelta(hours=8)
    )

    save_settings(admin_client, organization, "Europe/London")

    foreign.refresh_from_db()
    assert foreign.work_date == date(2026, 6, 2)
    assert Organization.objects.get(pk=other.pk).time_zone == "America/Toronto"


def test_an_unknown_time_zone_is_refused(admin_client, organization):
    response = admin_client.post(
        f"/o/{organization.slug}/settings/",
        {"name": organization.name, "time_zone": "Mars/Olympus_Mons"},
    )

    assert response.status_code == 200
    assert "time_zone" in response.context["form"].errors
    organization.refresh_from_db()
    assert organization.time_zone == "America/Toronto"
