"""A project manager's Sync Timesheet button and a shift edited after its sync, in a real
browser against the live server and a real Celery worker."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.helpers import SETTLE_MS, cell, dashboard_url, screenshot, settle
from tests.timesync.sync.conftest import WORK_DATE, run_to_completion
from timesync.models import Role, SyncRun, SyncState, SyncTrigger

pytestmark = pytest.mark.django_db(transaction=True)


def project_url(live_server, world) -> str:
    return (f"{live_server.url}/o/{world.project.organization.slug}/projects/"
            f"{world.project.pk}/?date={WORK_DATE.isoformat()}")


def test_a_project_manager_syncs_a_day_with_the_sync_timesheet_button(
    world, sign_in, live_server, celery_worker
):
    world.shift("ana")
    world.shift("ben")
    manager = factories.MembershipFactory(organization=world.project.organization,
                                          role=Role.PROJECT_MANAGER)
    manager.assigned_projects.add(world.project)
    page = sign_in(manager)
    page.goto(project_url(live_server, world))
    card = page.locator(f"#sync-status-{world.integration.pk}").locator("xpath=..")
    expect(card.get_by_label("Timesheet date")).to_have_value(WORK_DATE.isoformat())
    card.get_by_role("button", name="Sync Timesheet").click()
    dialog = page.locator("dialog#sync-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("dd[data-count=create]")).to_have_text("2")
    dialog.get_by_role("button", name="Confirm").click()

    status = page.locator(f"#sync-status-{world.integration.pk}")
    expect(status).to_contain_text("2 created", timeout=SETTLE_MS)
    expect(status.get_by_role("link", name="See the log")).to_be_visible()
    screenshot(page, "project-sync-timesheet")
    page.goto("about:blank")
    run = SyncRun.objects.get()
    assert (run.trigger, run.state, run.requested_by) == (
        SyncTrigger.PROJECT_BUTTON, SyncState.SUCCEEDED, manager.user)
    assert len(world.remote_entries()) == 2


def test_editing_a_synced_shift_turns_its_cell_amber(world, sign_in, live_server):
    shift = world.shift("ana")
    run_to_completion(world.start_run().pk)
    page = sign_in(world.payroll)
    page.goto(dashboard_url(live_server, world, WORK_DATE))
    expect(cell(page, world.project, WORK_DATE)).to_have_class(re.compile(r"\bcell-synced\b"))

    page.goto(f"{live_server.url}/o/{world.project.organization.slug}/shifts/{shift.pk}/edit/")
    page.get_by_label("Unpaid break (minutes)").fill("60")
    page.get_by_role("button", name="Save shift").click()
    expect(page.locator(".message.success")).to_be_visible()

    page.goto(dashboard_url(live_server, world, WORK_DATE))
    target = cell(page, world.project, WORK_DATE)
    expect(target).to_have_class(re.compile(r"\bcell-changed\b"))
    expect(target.locator(".cell-body")).to_have_attribute("title", "1 change since the last sync")
    screenshot(page, "sync-dashboard-changed")
    settle(page)
