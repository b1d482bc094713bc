"""The Sync Dashboard page and its htmx endpoints (the browser tests drive the real thing)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories
from tests.dashboard.helpers import visible_text
from tests.timesync.sync.conftest import WORK_DATE, run_to_completion
from tests.timesync.sync.conftest import emulator as emulator
from tests.timesync.sync.conftest import world as world
from timesync.models import ProjectLink, Role, SyncRun

pytestmark = pytest.mark.django_db
WEEK = WORK_DATE.isoformat()


def dashboard_url(world) -> str:
    return (f"/o/{world.project.organization.slug}/integrations/{world.integration.pk}"
            f"/dashboard/")


def test_a_ready_cell_shows_its_workers_and_is_a_button(world, client):
    world.shift("ana")
    world.shift("ben")
    client.force_login(world.payroll.user)
    page = client.get(dashboard_url(world), {"week": WEEK})
    cell = f'id="cell-{world.project.pk}-{WORK_DATE:%Y%m%d}" class="cell cell-ready"'
    assert cell in page.content.decode()
    assert "2 workers ready to sync" in visible_text(page.content)


def test_each_ready_cell_of_a_day_says_its_own_workers_and_hours(world, client):
    # Cells of one day that hold the same crew and hours share their markup: one that
    # differs must still say its own.
    parkade = factories.ProjectFactory(organization=world.project.organization, name="Parkade",
                                       code="24-102")
    ProjectLink.objects.create(organization=world.project.organization,
                               integration=world.integration, project=parkade,
                               remote_project_id="24-102")
    world.shift("ana")
    world.shift("ben")
    world.shift("ana", project=parkade, start_hour=17, hours=4.5)
    client.force_login(world.payroll.user)
    page = client.get(dashboard_url(world), {"week": WEEK}).content.decode()

    def title(project) -> str:
        cell = page[page.index(f'id="cell-{project.pk}-{WORK_DATE:%Y%m%d}"'):]
        title = cell[cell.index('title="') + 7:]
        return title[:title.index('"')]

    assert title(world.project) == "Ready: 2 workers, 16.00 h"
    assert title(parkade) == "Ready: 1 worker, 4.00 h"


def test_the_dashboard_is_sent_as_plain_ascii_with_its_symbols_as_entities(world, client):
    # A page of one-byte characters is built and encoded about 1 ms faster for 300 rows (see
    # dashboard/sync_grid.py); the reader sees the same symbols.
    world.shift("ana")
    client.force_login(world.payroll.user)
    page = client.get(dashboard_url(world), {"week": WEEK}).content
    page.decode("ascii")
    assert "\u25cf 1 workers ready to sync" in visible_text(page)


def test_a_viewer_sees_the_grid_without_sync_buttons(world, client):
    world.shift("ana")
    viewer = factories.MembershipFactory(organization=world.project.organization,
                                         role=Role.VIEWER)
    client.force_login(viewer.user)
    page = client.get(dashboard_url(world), {"week": WEEK})
    assert page.status_code == 200
    assert "cell-ready" in page.content.decode()
    assert '<button type="button" class="cell-body"' not in page.content.decode()


def test_a_project_manager_sees_only_assigned_projects(world, client):
    other = factories.ProjectFactory(organization=world.project.organization, name="Elsewhere")
    manager = factories.MembershipFactory(organization=world.project.organization,
                                          role=Role.PROJECT_MANAGER)
    manager.assigned_projects.add(world.project)
    client.force_login(manager.user)
    text = visible_text(client.get(dashboard_url(world), {"week": WEEK}).content)
    assert world.project.name in text
    assert other.name not in text


def test_the_preview_dialog_counts_and_names_skipped_workers(world, client):
    world.shift("ana")
    world.shift("cy")
    client.force_login(world.payroll.user)
    dialog = client.get(dashboard_url(world) + "preview/",
                        {"project": world.project.pk, "date": WEEK})
    text = visible_text(dialog.content)
    assert "Create 1" in text
    assert "Skip 1" in text
    assert "Cy Unknown: Worker Cy Unknown (employee #9999) was not found in Plexxis." in text
    assert not SyncRun.objects.exists()


def test_confirming_starts_one_run_and_the_cell_polls_until_it_settles(
    world, client, django_capture_on_commit_callbacks
):
    world.shift("ana")
    client.force_login(world.payroll.user)
    data = {"project": world.project.pk, "date": WEEK}
    with django_capture_on_commit_callbacks(execute=False):
        started = client.post(dashboard_url(world) + "sync/", data)
        client.post(dashboard_url(world) + "sync/", data)  # a double click
    assert SyncRun.objects.count() == 1
    body = started.content.decode()
    assert "cell-in_progress" in body
    assert 'hx-trigger="every 2s"' in body  # the grid's poller is running
    run_to_completion(SyncRun.objects.get().pk)
    poll = client.get(dashboard_url(world) + "poll/",
                      {"week": WEEK, "projects": str(world.project.pk)}).content.decode()
    assert "cell-synced" in poll
    assert "hx-trigger" not in poll  # nothing runs: the poller stops


def test_search_filters_projects_by_name_or_number(world, client):
    factories.ProjectFactory(organization=world.project.organization, name="Harbour Parkade",
                             code="24-102")
    client.force_login(world.payroll.user)
    text = visible_text(client.get(dashboard_url(world), {"week": WEEK, "q": "24-102"}).content)
    assert "Harbour Parkade" in text
    assert "King Street Tower" not in text


def _queries_for_dashboard(world, client, first: int, last: int) -> int:
    organization = world.project.organization
    for n in range(first, last):
        project = factories.ProjectFactory(organization=organization, name=f"Site {n:03d}",
                                           code=f"S-{n:03d}")
        ProjectLink.objects.create(organization=organization, integration=world.integration,
                                   project=project, remote_project_id="24-101")
        # One shift per project, each at its own day and hour so no worker overlaps.
        world.shift("ana", project=project, start_hour=(n // 5) % 24, hours=0.75,
                    day=WORK_DATE.replace(day=1 + n % 5))
    client.force_login(world.payroll.user)
    client.get(dashboard_url(world), {"week": WEEK})  # the first visit records the organization
    with CaptureQueriesContext(connection) as queries:
        response = client.get(dashboard_url(world), {"week": WEEK})
    assert response.status_code == 200
    return len(queries)


def test_the_dashboard_takes_as_many_queries_for_100_projects_as_for_5(world, client):
    few = _queries_for_dashboard(world, client, 0, 4)  # with King Street: 5 projects
    many = _queries_for_dashboard(world, client, 4, 99)  # 100 projects
    assert few == many


def test_a_cell_carries_no_htmx_and_the_grid_says_where_its_preview_is(world, client):
    world.shift("ana")
    client.force_login(world.payroll.user)
    page = client.get(dashboard_url(world), {"week": WEEK}).content.decode()
    # One listener in app.js builds the dialog's address from these, for every cell.
    assert f'data-preview-url="{dashboard_url(world)}preview/"' in page
    assert f'<tr data-project="{world.project.pk}">' in page
    assert f'data-date="{WEEK}"' in page
    grid = page[page.index('<div id="grid">'):page.index('id="sync-poller"')]
    assert "hx-get" not in grid


def test_a_viewers_grid_gives_no_preview_address(world, client):
    world.shift("ana")
    viewer = factories.MembershipFactory(organization=world.project.organization,
                                         role=Role.VIEWER)
    client.force_login(viewer.user)
    page = client.get(dashboard_url(world), {"week": WEEK}).content.decode()
    assert "cell-ready" in page
    assert "data-preview-url" not in page


def _sites(world, count: int) -> None:
    for n in range(count):
        factories.ProjectFactory(organization=world.project.organization, name=f"Site {n:02d}",
                                 code=f"S-{n:02d}")


def test_past_the_page_size_the_rows_are_paged_keeping_week_and_search(
    world, client, settings
):
    settings.SYNC_DASHBOARD_PAGE_SIZE = 2
    _sites(world, 5)
    client.force_login(world.payroll.user)
    first = client.get(dashboard_url(world), {"week": WEEK, "q": "site"}).content.decode()
    assert visible_text(first).count("Site 0") == 2
    assert "{#" not in visible_text(first)  # no template comment shows
    assert "Site 00" in first
    assert "Site 01" in first
    assert "Site 02" not in first
    monday = "2026-06-01"  # the week of WORK_DATE
    assert f'href="{dashboard_url(world)}?week={monday}&amp;q=site&amp;page=2"' in first
    second = client.get(dashboard_url(world), {"week": WEEK, "q": "site", "page": 2})
    text = visible_text(second.content)
    assert "Site 02" in text
    assert "Site 03" in text
    assert "Site 01" not in text
    assert f'href="{dashboard_url(world)}?week={monday}&amp;q=site"' in second.content.decode()


def test_the_totals_row_of_a_page_says_which_projects_it_totals(world, client, settings):
    settings.SYNC_DASHBOARD_PAGE_SIZE = 2
    _sites(world, 4)  # with King Street Tower: 5 projects
    world.shift("ana")  # King Street Tower, on the first page
    client.force_login(world.payroll.user)
    text = visible_text(client.get(dashboard_url(world), {"week": WEEK, "page": 3}).content)
    assert "Total projects 5\N{EN DASH}5 of 5" in text
    assert "1 worker" not in text  # King Street Tower's worker is on another page


def test_a_grid_within_the_page_size_has_no_pages(world, client):
    client.force_login(world.payroll.user)
    page = client.get(dashboard_url(world), {"week": WEEK}).content.decode()
    assert "Pages of projects" not in page
    assert "<th scope=\"row\">Total</th>" in page


def test_moving_a_week_keeps_the_page_and_the_search(world, client):
    client.force_login(world.payroll.user)
    moved = client.get(dashboard_url(world),
                       {"week": WEEK, "q": "site", "page": "2", "go": "next"})
    assert moved.status_code == 302
    assert moved["Location"] == f"{dashboard_url(world)}?week=2026-06-08&q=site&page=2"
