"""The Sync Dashboard in a real browser: the pages, htmx and the script as a person meets them,
the live server, and a real Celery worker sending hours to the Plexxis emulator."""

from __future__ import annotations

import csv
import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.helpers import (
    SETTLE_MS,
    cell,
    dashboard_url,
    open_dialog,
    screenshot,
    settle,
    wait_until,
)
from tests.timesync.sync.conftest import WORK_DATE
from timesync.models import Role, SyncRun, SyncState

pytestmark = pytest.mark.django_db(transaction=True)

BLUE, GREEN, RED = "rgb(219, 234, 254)", "rgb(220, 252, 231)", "rgb(254, 226, 226)"
SKIPPED_CY = "Cy Unknown: Worker Cy Unknown (employee #9999) was not found in Plexxis."


def test_static_files_load_htmx_the_script_and_the_stylesheet(world, sign_in, live_server):
    world.shift("ana")
    page = sign_in(world.payroll)
    page.goto(dashboard_url(live_server, world, WORK_DATE))
    assert page.evaluate("typeof htmx") == "object"
    # app.js registered its handlers: a dialog loaded by htmx opens as a modal.
    dialog = open_dialog(page, world.project, WORK_DATE)
    assert dialog.evaluate("d => d.matches(':modal')")
    expect(cell(page, world.project, WORK_DATE).locator(".cell-body")).to_have_css(
        "background-color", BLUE)


def test_payroll_admin_syncs_a_blue_cell_and_it_turns_green_without_a_reload(
    world, sign_in, live_server, celery_worker
):
    world.shift("ana")
    world.shift("ben", start_hour=6)
    world.shift("cy")
    page = sign_in(world.payroll)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Integrations").click()
    page.get_by_role("row", name=re.compile("Plexxis V2")) \
        .get_by_role("link", name="Sync Dashboard").click()
    expect(page.get_by_role("heading", name=re.compile("Sync Dashboard"))).to_be_visible()
    page.goto(f"{page.url}?week={WORK_DATE.isoformat()}")

    target = cell(page, world.project, WORK_DATE)
    expect(target).to_have_class(re.compile(r"\bcell-ready\b"))
    expect(target.locator("button.cell-body")).to_have_css("background-color", BLUE)
    expect(target).to_contain_text("3")  # three workers have hours that day
    page.evaluate("window.__marker = 1")

    dialog = open_dialog(page, world.project, WORK_DATE)
    expect(dialog.get_by_role("heading", level=2)).to_have_text(
        "Sync King Street Tower on Wednesday, Jun 3, 2026?")
    expect(dialog.locator("dd[data-count=create]")).to_have_text("2")
    expect(dialog.locator("dd[data-count=skip]")).to_have_text("1")
    expect(dialog.locator(".warning-box")).to_contain_text(SKIPPED_CY)
    screenshot(page, "sync-dashboard-dialog", dialog)

    dialog.get_by_role("button", name="Confirm").click()
    expect(page.locator("dialog#sync-dialog")).to_have_count(0)
    expect(target).to_have_class(re.compile(r"\bcell-synced\b"), timeout=SETTLE_MS)
    expect(target.locator("button.cell-body")).to_have_css("background-color", GREEN)
    expect(target.locator("button.cell-body")).to_have_attribute(
        "title", "Synced; 1 skipped (unknown remotely)")
    assert page.evaluate("window.__marker") == 1  # the same document: no reload
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    screenshot(page, "sync-dashboard-synced")
    settle(page)

    assert [(e["employee_code"], e["job_number"], e["hours"])
            for e in world.remote_entries()] == [("1001", "24-101", "8.00"),
                                                  ("1002", "24-101", "8.00")]
    run = SyncRun.objects.get()
    assert (run.state, run.created_count, run.skipped_count) == (
        SyncState.SUCCEEDED_WITH_WARNINGS, 2, 1)


def test_cancel_sends_nothing(world, sign_in, live_server, celery_worker):
    world.shift("ana")
    page = sign_in(world.payroll)
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(dashboard_url(live_server, world, WORK_DATE))

    dialog = open_dialog(page, world.project, WORK_DATE)
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("dialog#sync-dialog")).to_have_count(0)
    expect(cell(page, world.project, WORK_DATE)).to_have_class(re.compile(r"\bcell-ready\b"))
    page.wait_for_load_state("networkidle")

    assert posts == []
    assert not SyncRun.objects.exists()
    assert world.emulator.entries() == []
    assert world.emulator.request_count("POST") == 0


def test_a_double_click_on_confirm_starts_one_run(world, sign_in, live_server, celery_worker):
    world.shift("ana")
    world.shift("ben")
    page = sign_in(world.payroll)
    page.goto(dashboard_url(live_server, world, WORK_DATE))

    dialog = open_dialog(page, world.project, WORK_DATE)
    dialog.get_by_role("button", name="Confirm").dblclick()
    target = cell(page, world.project, WORK_DATE)
    expect(target).to_have_class(re.compile(r"\bcell-synced\b"), timeout=SETTLE_MS)
    settle(page)

    assert SyncRun.objects.count() == 1
    assert [e["employee_code"] for e in world.remote_entries()] == ["1001", "1002"]


def test_search_filters_rows_as_you_type_and_the_week_picker_moves_the_url(
    world, sign_in, live_server
):
    organization = world.project.organization
    factories.ProjectFactory(organization=organization, code="24-102", name="Harbour Parkade")
    factories.ProjectFactory(organization=organization, code="24-103", name="Elm Depot")
    page = sign_in(world.payroll)
    page.goto(dashboard_url(live_server, world, WORK_DATE))
    rows = page.locator("#grid tbody tr")
    expect(rows).to_have_count(3)

    page.get_by_label("Search Project").press_sequentially("king")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("King Street Tower")
    expect(page).to_have_url(re.compile(r"[?&]q=king(&|$)"))
    page.get_by_label("Search Project").fill("24-10")
    expect(rows).to_have_count(3)
    expect(page).to_have_url(re.compile(r"[?&]q=24-10(&|$)"))

    page.get_by_role("button", name="Previous week").click()
    expect(page).to_have_url(re.compile(r"[?&]week=2026-05-25(&|$)"))
    expect(page.locator("#week")).to_have_value("2026-05-25")
    page.get_by_role("button", name="Next week").click()
    page.get_by_role("button", name="Next week").click()
    expect(page).to_have_url(re.compile(r"[?&]week=2026-06-08(&|$)"))
    expect(page.locator("#week")).to_have_value("2026-06-08")


def test_the_week_picker_keeps_a_search_typed_since_the_page_loaded(
    world, sign_in, live_server
):
    factories.ProjectFactory(organization=world.project.organization, code="24-102",
                             name="Harbour Parkade")
    page = sign_in(world.payroll)
    page.goto(dashboard_url(live_server, world, WORK_DATE))
    page.get_by_label("Search Project").press_sequentially("king")
    expect(page).to_have_url(re.compile(r"[?&]q=king(&|$)"))
    page.get_by_role("button", name="Next week").click()
    expect(page).to_have_url(re.compile(r"[?&]week=2026-06-08(&|$)"))
    expect(page).to_have_url(re.compile(r"[?&]q=king(&|$)"), timeout=1_000)


def test_the_csv_from_logs_lists_each_worker_and_the_skipped_ones_reason(
    world, sign_in, live_server, celery_worker, tmp_path
):
    world.shift("ana")
    world.shift("cy")
    run = world.start_run()  # through the broker to the worker, as the dashboard would
    wait_until(lambda: not SyncRun.objects.get(pk=run.pk).is_active, "the run to finish")
    page = sign_in(world.payroll)
    page.goto(dashboard_url(live_server, world, WORK_DATE))
    page.locator(".subnav").get_by_role("link", name="Logs").click()

    row = page.get_by_role("row", name=re.compile("King Street Tower"))
    expect(row).to_contain_text("Jun 3, 2026")
    with page.expect_download() as download_info:
        row.get_by_role("link", name="Download").click()
    download = download_info.value
    assert download.suggested_filename == f"timecard-sync-2026-06-03-24-101-run{run.pk}.csv"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    with path.open(newline="", encoding="utf-8") as file:
        lines = list(csv.DictReader(file))

    ana, cy = world.shifts
    assert [(line["Worker"], line["Employee Number"], line["Shift"], line["Outcome"],
             line["Hours"], line["Warning"]) for line in lines] == [
        ("Ana Silva", "1001", str(ana.pk), "created", "8.00", ""),
        ("Cy Unknown", "9999", str(cy.pk), "skipped", "8.00",
         "Worker Cy Unknown (employee #9999) was not found in Plexxis."),
    ]
    assert lines[0]["Remote ID"] == world.remote_entries()[0]["id"]
    assert {line["Project"] for line in lines} == {"24-101 King Street Tower"}
    assert {line["Timesheet Date"] for line in lines} == {"2026-06-03"}


def test_a_viewer_sees_the_dashboard_with_no_clickable_cell(world, sign_in, live_server):
    world.shift("ana")
    viewer = factories.MembershipFactory(organization=world.project.organization,
                                         role=Role.VIEWER)
    page = sign_in(viewer)
    page.goto(dashboard_url(live_server, world, WORK_DATE))
    target = cell(page, world.project, WORK_DATE)
    expect(target).to_have_class(re.compile(r"\bcell-ready\b"))
    expect(target.locator(".cell-body")).to_have_css("background-color", BLUE)
    expect(page.get_by_text("syncing is for payroll admins and project managers")).to_be_visible()
    expect(page.locator("button.cell-body")).to_have_count(0)
    expect(page.locator("#grid [hx-get], #grid [hx-post]")).to_have_count(0)


def test_a_failing_remote_turns_the_cell_red_with_the_reason(
    world, sign_in, live_server, celery_worker, settings
):
    settings.SYNC_MAX_ATTEMPTS = 1
    world.emulator.inject("server_error", count=None)
    world.shift("ana")
    page = sign_in(world.payroll)
    page.goto(dashboard_url(live_server, world, WORK_DATE))

    open_dialog(page, world.project, WORK_DATE).get_by_role("button", name="Confirm").click()
    target = cell(page, world.project, WORK_DATE)
    expect(target).to_have_class(re.compile(r"\bcell-failed\b"), timeout=SETTLE_MS)
    body = target.locator(".cell-body")
    expect(body).to_have_css("background-color", RED)
    expect(body).to_contain_text("Failed")
    run = SyncRun.objects.get()
    assert run.state == SyncState.FAILED
    assert run.error.startswith("Plexxis answered 500")
    expect(body).to_have_attribute("title", f"Last sync failed: {run.error}")
    screenshot(page, "sync-dashboard-failed")
    settle(page)
    assert world.emulator.entries() == []


def test_keyboard_tab_reaches_a_cell_enter_opens_the_dialog_escape_closes_it(
    world, sign_in, live_server
):
    world.shift("ana")
    page = sign_in(world.payroll)
    page.goto(dashboard_url(live_server, world, WORK_DATE))
    button = cell(page, world.project, WORK_DATE).locator("button.cell-body")

    for _ in range(60):
        page.keyboard.press("Tab")
        if button.evaluate("b => b === document.activeElement"):
            break
    else:
        raise AssertionError("Tab never reached the ready cell's button")
    expect(button).to_be_focused()

    page.keyboard.press("Enter")
    dialog = page.locator("dialog#sync-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(button).to_be_focused()
    assert not SyncRun.objects.exists()



def test_a_dash_says_no_timesheet_data_when_pointed_at(world, sign_in, live_server):
    page = sign_in(world.payroll)
    page.goto(dashboard_url(live_server, world, WORK_DATE))
    dash = cell(page, world.project, WORK_DATE).locator(".cell-body")
    dash.hover()
    expect(dash).to_have_attribute("title", "No timesheet data")


def test_pages_of_projects_keep_the_week_and_a_new_search_starts_on_the_first(
    world, sign_in, live_server, settings
):
    settings.SYNC_DASHBOARD_PAGE_SIZE = 2
    for n in range(4):
        factories.ProjectFactory(organization=world.project.organization, name=f"Site {n}",
                                 code=f"S-{n}")
    page = sign_in(world.payroll)
    page.goto(dashboard_url(live_server, world, WORK_DATE))
    rows = page.locator("#grid tbody tr")
    expect(rows).to_have_count(2)

    page.get_by_role("link", name=re.compile(r"^Next 2")).click()
    expect(page).to_have_url(re.compile(r"[?&]page=2(&|$)"))
    expect(page.locator("#grid tfoot")).to_contain_text("projects 3\N{EN DASH}4 of 5")
    page.get_by_role("button", name="Next week").click()
    expect(page).to_have_url(re.compile(r"week=2026-06-08&page=2$"))
    expect(rows.first).to_contain_text("Site 1")

    page.get_by_label("Search Project").press_sequentially("site")
    expect(page).to_have_url(re.compile(r"\?week=2026-06-08&q=site$"))
    expect(rows.first).to_contain_text("Site 0")
    page.get_by_role("button", name="Next week").click()
    expect(page).to_have_url(re.compile(r"\?week=2026-06-15&q=site$"))
