"""The logs page's filters: project, Timesheet Date range and outcome, in the URL (a GET form),
kept across pages, with an empty state when nothing matches."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests import factories
from tests.dashboard.helpers import visible_text
from timesync.models import Role, SyncRun, SyncState, SyncTrigger
from timesync.sync import services as sync_services

pytestmark = pytest.mark.django_db

JUNE_1 = date(2026, 6, 1)


@pytest.fixture
def logs(admin):
    """An integration with runs of two projects over June: King Street Tower succeeded every
    day of June 1 to 10, Harbour Parkade failed on June 5."""
    organization = admin.organization
    integration = sync_services.integration_create(
        actor=admin, kind="plexxis", name="Plexxis V2",
        settings={"base_url": "http://127.0.0.1:9/api/v1"}, credentials={"api_key": "k"},
    )
    tower = factories.ProjectFactory(organization=organization, code="24-101",
                                     name="King Street Tower")
    parkade = factories.ProjectFactory(organization=organization, code="24-102",
                                       name="Harbour Parkade")
    for offset in range(10):
        run(integration, tower, JUNE_1 + timedelta(days=offset), SyncState.SUCCEEDED)
    run(integration, parkade, date(2026, 6, 5), SyncState.FAILED)
    url = f"/o/{organization.slug}/integrations/{integration.pk}/logs/"
    return url, integration, tower, parkade


def run(integration, project, work_date: date, state: str) -> SyncRun:
    return SyncRun.objects.create(
        organization_id=integration.organization_id, integration=integration, project=project,
        work_date=work_date, trigger=SyncTrigger.DASHBOARD, state=state,
    )


def rows_of(content: bytes) -> list[str]:
    body = re.search(rb"<tbody>(.*?)</tbody>", content, flags=re.S)
    assert body, "no table on the page"
    return [visible_text(row) for row in re.findall(rb"<tr>.*?</tr>", body.group(1), re.S)]


def test_filtering_by_project_lists_only_its_runs(browser_client, admin, logs):
    url, _, _, parkade = logs

    response = browser_client(admin).get(url, {"project": parkade.pk})

    rows = rows_of(response.content)
    assert len(rows) == 1
    assert rows[0].startswith("Timecard Sync 24-102 Harbour Parkade Jun 5, 2026")


def test_filtering_by_timesheet_date_range_includes_both_ends(browser_client, admin, logs):
    url, _, tower, _ = logs

    response = browser_client(admin).get(url, {"project": tower.pk, "date_from": "2026-06-03",
                                               "date_to": "2026-06-04"})

    dates = [re.search(r"Jun \d+, 2026", row).group(0) for row in rows_of(response.content)]
    assert sorted(dates) == ["Jun 3, 2026", "Jun 4, 2026"]


def test_filtering_by_outcome_lists_only_runs_in_that_state(browser_client, admin, logs):
    url, *_ = logs

    rows = rows_of(browser_client(admin).get(url, {"state": SyncState.FAILED}).content)

    assert len(rows) == 1
    assert "Failed" in rows[0]


def test_the_filters_are_shown_as_chosen(browser_client, admin, logs):
    url, _, tower, _ = logs

    page = browser_client(admin).get(url, {"project": tower.pk, "date_from": "2026-06-02",
                                           "state": "succeeded"}).content.decode()

    assert re.search(rf'<option value="{tower.pk}" selected>', page)
    assert 'name="date_from" value="2026-06-02"' in page
    assert '<option value="succeeded" selected>' in page


def test_the_filters_are_kept_across_pages(browser_client, admin, logs):
    url, integration, tower, _ = logs
    for offset in range(10, 55):  # 55 runs of the tower in all: two pages of 50
        run(integration, tower, JUNE_1 + timedelta(days=offset), SyncState.SUCCEEDED)
    client = browser_client(admin)

    first = client.get(url, {"project": tower.pk, "state": "succeeded"})
    older = re.search(r'href="(\?[^"]*)"[^>]*>Older', first.content.decode()).group(1)
    second = client.get(url + older.replace("&amp;", "&"))

    assert f"project={tower.pk}" in older
    assert "state=succeeded" in older
    assert "page=2" in older
    assert len(rows_of(first.content)) == 50
    assert len(rows_of(second.content)) == 5
    assert all("King Street Tower" in row for row in rows_of(second.content))


def test_nothing_matching_shows_an_empty_state_with_a_way_out(browser_client, admin, logs):
    url, _, _, parkade = logs

    response = browser_client(admin).get(url, {"project": parkade.pk, "state": "succeeded"})

    text = visible_text(response.content)
    assert "No sync matches these filters" in text
    assert "<tbody>" not in response.content.decode()
    assert f'href="{url}"' in response.content.decode()  # clear the filters


def test_a_reversed_date_range_says_so_next_to_the_field(browser_client, admin, logs):
    url, *_ = logs

    response = browser_client(admin).get(url, {"date_from": "2026-06-09",
                                               "date_to": "2026-06-02"})

    assert response.status_code == 200
    assert 'id="id_date_to_error"' in response.content.decode()
    assert "The end date is before the start date." in visible_text(response.content)


def test_a_project_manager_can_filter_only_by_their_projects(browser_client, admin, logs):
    url, _, tower, parkade = logs
    manager = factories.MembershipFactory(organization=admin.organization,
                                          role=Role.PROJECT_MANAGER)
    manager.assigned_projects.add(tower)

    response = browser_client(manager).get(url, {"project": parkade.pk})

    page = response.content.decode()
    assert f'<option value="{parkade.pk}"' not in page
    assert "Harbour Parkade" not in page
    assert "Select a valid choice" in visible_text(page)
