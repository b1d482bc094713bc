""""This week" and "today" are the organization's, on the Sync Dashboard and in the API's
cells alike: late on a Sunday in Toronto it is already Monday in UTC."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from tests.timesync.sync.conftest import TORONTO
from tests.timesync.sync.conftest import emulator as emulator
from tests.timesync.sync.conftest import world as world

pytestmark = pytest.mark.django_db

SUNDAY_NIGHT = datetime(2026, 6, 7, 23, 30, tzinfo=TORONTO)  # Monday 03:30 in UTC
TORONTO_WEEK = [(date(2026, 6, 1) + timedelta(days=n)).isoformat() for n in range(7)]


@pytest.fixture
def sunday_night(monkeypatch) -> datetime:
    monkeypatch.setattr(timezone, "now", lambda: SUNDAY_NIGHT)
    return SUNDAY_NIGHT


def test_the_dashboard_opens_on_the_organizations_week_and_marks_its_today(
    world, client, sunday_night
):
    client.force_login(world.payroll.user)
    page = client.get(f"/o/{world.project.organization.slug}/integrations/"
                      f"{world.integration.pk}/dashboard/").content.decode()
    assert 'id="week" name="week" type="date" value="2026-06-01"' in page
    assert f'class="day today" data-date="{TORONTO_WEEK[-1]}"' in page


def test_the_api_cells_without_a_week_are_the_organizations_week(world, api, sunday_night):
    response = api(world.payroll).get(f"/api/v1/orgs/{world.project.organization.slug}/"
                                      f"integrations/{world.integration.pk}/cells/")
    assert response.status_code == 200, response.content
    assert sorted({cell["work_date"] for cell in response.json()}) == TORONTO_WEEK


def test_this_week_button_goes_to_the_organizations_week(world, client, sunday_night):
    client.force_login(world.payroll.user)
    response = client.get(f"/o/{world.project.organization.slug}/integrations/"
                          f"{world.integration.pk}/dashboard/", {"week": "2026-01-05",
                                                                 "go": "today"})
    assert response["Location"].endswith("?week=2026-06-01")
