"""Editing a shift from its page (wall-clock times at the project, the version read so that a
concurrent change is never overwritten) and deleting it after a confirmation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests import factories
from tests.dashboard.helpers import visible_text
from tests.timesync.sync.conftest import WORK_DATE, run_to_completion
from tests.timesync.sync.conftest import emulator as emulator
from tests.timesync.sync.conftest import world as world
from timesync import services
from timesync.models import ApprovalState, Role, Shift, TimeType
from timesync.sync import cells as grid_cells
from timesync.sync.cells import CellStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(organization):
    return factories.ProjectFactory(organization=organization, name="Harbour Tower",
                                    time_zone="America/Toronto")


@pytest.fixture
def concrete(organization):
    return factories.CostCodeFactory(organization=organization, code="03.300",
                                     name="Cast-in-place Concrete")


@pytest.fixture
def shift(organization, project):
    # 11:00-19:30 UTC is 07:00-15:30 in Toronto (EDT), 30 min break: 8.00 paid hours.
    return factories.ShiftFactory(
        organization=organization, project=project,
        worker=factories.WorkerFactory(organization=organization, name="Wes Welder"),
        start=datetime(2026, 6, 3, 11, 0, tzinfo=UTC), end=datetime(2026, 6, 3, 19, 30, tzinfo=UTC),
        break_minutes=30,
    )


@pytest.fixture
def payroll(member):
    return member(Role.PAYROLL_ADMIN)


def edit_url(shift) -> str:
    return f"/o/{shift.organization.slug}/shifts/{shift.pk}/edit/"


def delete_url(shift) -> str:
    return f"/o/{shift.organization.slug}/shifts/{shift.pk}/delete/"


def form_data(shift, **changes) -> dict:
    """What the edit page posts for the shift as shown, with some fields changed."""
    data = {
        "start": "2026-06-03T07:00", "end": "2026-06-03T15:30", "break_minutes": "30",
        "cost_code": shift.cost_code_id or "", "time_type": shift.time_type,
        "notes": shift.notes, "version": shift.version,
    }
    data.update(changes)
    return data


def field_error(response, field: str) -> str:
    """The visible text of the error shown under one field ('' when it has none)."""
    html = response.content.decode()
    marker = f'id="id_{field}_error"'
    if marker not in html:
        return ""
    start = html.index(marker)
    return visible_text(html[html.index(">", start) + 1:html.index("</div>", start)])


# --- The form -------------------------------------------------------------------------------


def test_the_edit_page_shows_the_shift_in_wall_clock_time_at_the_project(
    browser_client, payroll, shift
):
    html = browser_client(payroll).get(edit_url(shift)).content.decode()

    assert 'type="datetime-local" name="start" value="2026-06-03T07:00"' in html
    assert 'type="datetime-local" name="end" value="2026-06-03T15:30"' in html
    assert f'type="hidden" name="version" value="{shift.version}"' in html
    assert "America/Toronto" in visible_text(html)


def test_the_cost_codes_offered_are_the_organizations_active_ones(
    browser_client, payroll, organization, shift, concrete
):
    retired = factories.CostCodeFactory(organization=organization, code="99.000",
                                        is_active=False)
    foreign = factories.CostCodeFactory(code="77.000")

    html = browser_client(payroll).get(edit_url(shift)).content.decode()

    assert f'<option value="{concrete.pk}">03.300 Cast-in-place Concrete</option>' in html
    assert f'value="{retired.pk}"' not in html
    assert f'value="{foreign.pk}"' not in html


def test_another_organizations_cost_code_is_refused(browser_client, payroll, shift):
    foreign = factories.CostCodeFactory()

    response = browser_client(payroll).post(edit_url(shift),
                                            form_data(shift, cost_code=foreign.pk))

    assert "Select a valid choice" in field_error(response, "cost_code")
    shift.refresh_from_db()
    assert shift.cost_code is None


# --- Saving ---------------------------------------------------------------------------------


def test_saving_changes_the_shift_and_moves_its_version(browser_client, payroll, shift,
                                                        concrete):
    browser_client(payroll).post(edit_url(shift), form_data(
        shift, start="2026-06-03T06:30", end="2026-06-03T16:00", break_minutes="45",
        cost_code=concrete.pk, time_type=TimeType.OVERTIME, notes="Pour day",
    ))

    shift.refresh_from_db()
    assert shift.start == datetime(2026, 6, 3, 10, 30, tzinfo=UTC)  # 06:30 EDT
    assert shift.end == datetime(2026, 6, 3, 20, 0, tzinfo=UTC)
    assert (shift.break_minutes, shift.cost_code, shift.time_type, shift.notes) == (
        45, concrete, TimeType.OVERTIME, "Pour day")
    assert shift.paid_hours == Decimal("8.75")
    assert shift.version == 2


def test_after_saving_the_project_day_says_so(browser_client, payroll, shift):
    response = browser_client(payroll).post(edit_url(shift),
                                            form_data(shift, break_minutes="45"), follow=True)

    assert response.redirect_chain[-1][0] == (
        f"/o/{shift.organization.slug}/projects/{shift.project_id}/?date=2026-06-03")
    assert "Saved Wes Welder's shift (version 2)." in visible_text(response.content)


def test_a_shift_moved_past_midnight_goes_back_to_its_new_day(browser_client, payroll, shift):
    response = browser_client(payroll).post(edit_url(shift), form_data(
        shift, start="2026-06-04T07:00", end="2026-06-04T15:30"))

    assert response["Location"].endswith("?date=2026-06-04")


def test_changing_an_approved_shifts_hours_sends_it_back_to_pending(browser_client, payroll,
                                                                    shift):
    shift = services.shift_decide(actor=payroll, shift=shift, approve=True)

    response = browser_client(payroll).post(
        edit_url(shift), form_data(shift, end="2026-06-03T16:30"), follow=True)

    shift.refresh_from_db()
    assert shift.approval_state == ApprovalState.PENDING
    assert "it is pending approval again" in visible_text(response.content)


def test_changing_only_the_notes_keeps_the_approval(browser_client, payroll, shift):
    shift = services.shift_decide(actor=payroll, shift=shift, approve=True)

    browser_client(payroll).post(edit_url(shift), form_data(shift, notes="Gate 4"))

    shift.refresh_from_db()
    assert (shift.notes, shift.approval_state) == ("Gate 4", ApprovalState.APPROVED)


def test_a_punched_time_keeps_its_seconds_when_other_fields_change(
    browser_client, payroll, organization, project
):
    punched = factories.ShiftFactory(
        organization=organization, project=project,
        start=datetime(2026, 6, 3, 11, 2, 37, tzinfo=UTC),
        end=datetime(2026, 6, 3, 19, 31, 9, tzinfo=UTC),
    )

    browser_client(payroll).post(edit_url(punched), form_data(
        punched, start="2026-06-03T07:02", end="2026-06-03T15:31", notes="Checked"))

    punched.refresh_from_db()
    assert punched.notes == "Checked"
    assert (punched.start.second, punched.end.second) == (37, 9)


def test_a_stale_version_saves_nothing_and_says_to_reload(browser_client, payroll, member,
                                                          shift):
    shown = form_data(shift, break_minutes="60")  # read at version 1
    services.shift_update(actor=member(Role.ADMIN), shift=shift, notes="Someone else")

    response = browser_client(payroll).post(edit_url(shift), shown)

    assert response.status_code == 200
    text = visible_text(response.content)
    assert "changed by someone else while you were editing (it is now version 2)" in text
    assert "Reload the shift" in text
    shift.refresh_from_db()
    assert (shift.break_minutes, shift.notes, shift.version) == (30, "Someone else", 2)


def test_an_end_before_the_start_is_shown_on_the_end_field(browser_client, payroll, shift):
    response = browser_client(payroll).post(edit_url(shift),
                                            form_data(shift, end="2026-06-03T06:00"))

    assert field_error(response, "end") == "✕ The end must be after the start."
    shift.refresh_from_db()
    assert shift.version == 1


def test_an_overlapping_shift_is_shown_on_the_start_field(browser_client, payroll,
                                                          organization, project, shift):
    factories.ShiftFactory(organization=organization, project=project, worker=shift.worker,
                           start=datetime(2026, 6, 3, 20, 0, tzinfo=UTC),
                           end=datetime(2026, 6, 4, 1, 0, tzinfo=UTC))

    response = browser_client(payroll).post(edit_url(shift),
                                            form_data(shift, end="2026-06-03T17:00"))

    assert "Wes Welder already has a shift at this time" in field_error(response, "start")


def test_emptying_the_end_of_a_finished_shift_is_refused(browser_client, payroll, shift):
    response = browser_client(payroll).post(edit_url(shift), form_data(shift, end=""))

    assert field_error(response, "end") == "✕ This field is required."
    shift.refresh_from_db()
    assert shift.end is not None


def test_saving_the_shift_as_shown_changes_nothing(browser_client, payroll, organization,
                                                  project):
    noted = factories.ShiftFactory(organization=organization, project=project,
                                   start=datetime(2026, 6, 3, 11, 0, tzinfo=UTC),
                                   notes="Gate 4\nBring harness")

    response = browser_client(payroll).post(edit_url(noted), form_data(
        noted, notes="Gate 4\r\nBring harness"), follow=True)

    noted.refresh_from_db()
    assert noted.version == 1  # a browser's CRLF line breaks are not an edit
    assert "Nothing changed: the shift is as it was." in visible_text(response.content)


def test_a_post_without_the_version_read_saves_nothing(browser_client, payroll, shift):
    data = form_data(shift, break_minutes="60")
    del data["version"]

    response = browser_client(payroll).post(edit_url(shift), data)

    assert "reload the page and try again" in visible_text(response.content)
    shift.refresh_from_db()
    assert (shift.break_minutes, shift.version) == (30, 1)


# --- Daylight saving time -------------------------------------------------------------------


def test_a_time_the_clocks_skipped_is_refused_on_its_field(browser_client, payroll,
                                                           organization, project):
    night = factories.ShiftFactory(
        organization=organization, project=project,
        start=datetime(2026, 3, 8, 4, 0, tzinfo=UTC),  # 23:00 EST, March 7
        end=datetime(2026, 3, 8, 12, 0, tzinfo=UTC),  # 08:00 EDT, March 8
        break_minutes=0,
    )

    response = browser_client(payroll).post(edit_url(night), form_data(
        night, start="2026-03-07T23:00", end="2026-03-08T02:30", break_minutes="0"))

    error = field_error(response, "end")
    assert "2026-03-08 02:30 does not exist in America/Toronto (clocks moved forward)" in error
    assert field_error(response, "start") == ""
    night.refresh_from_db()
    assert night.version == 1


def test_a_time_that_happened_twice_is_refused_on_its_field(browser_client, payroll,
                                                            organization, project):
    night = factories.ShiftFactory(
        organization=organization, project=project,
        start=datetime(2026, 11, 1, 3, 0, tzinfo=UTC),  # 23:00 EDT, October 31
        end=datetime(2026, 11, 1, 12, 0, tzinfo=UTC),  # 07:00 EST, November 1
        break_minutes=0,
    )

    response = browser_client(payroll).post(edit_url(night), form_data(
        night, start="2026-11-01T01:30", end="2026-11-01T07:00", break_minutes="0"))

    assert "2026-11-01 01:30 happens twice in America/Toronto (clocks moved back)" in (
        field_error(response, "start"))
    night.refresh_from_db()
    assert night.version == 1


def test_an_untouched_time_in_the_repeated_hour_is_kept_as_it_was(browser_client, payroll,
                                                                  organization, project):
    # 01:30 EST, the second 01:30 of November 1: the page shows 01:30 and sends it back.
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    night = factories.ShiftFactory(organization=organization, project=project, start=second,
                                   end=datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
                                   break_minutes=0)

    browser_client(payroll).post(edit_url(night), form_data(
        night, start="2026-11-01T01:30", end="2026-11-01T07:00", break_minutes="0",
        notes="Night pour"))

    night.refresh_from_db()
    assert (night.notes, night.start) == ("Night pour", second)


# --- Who may edit ---------------------------------------------------------------------------


def test_a_viewer_cannot_open_the_edit_page(browser_client, member, shift):
    assert browser_client(member(Role.VIEWER)).get(edit_url(shift)).status_code == 403


def test_a_viewer_posting_an_edit_changes_nothing(browser_client, member, shift):
    response = browser_client(member(Role.VIEWER)).post(
        edit_url(shift), form_data(shift, break_minutes="60"))

    assert response.status_code == 403
    shift.refresh_from_db()
    assert (shift.break_minutes, shift.version) == (30, 1)


def test_a_project_manager_edits_a_shift_of_an_assigned_project(browser_client, member,
                                                                project, shift):
    manager = member(Role.PROJECT_MANAGER)
    manager.assigned_projects.add(project)

    browser_client(manager).post(edit_url(shift), form_data(shift, break_minutes="45"))

    shift.refresh_from_db()
    assert shift.break_minutes == 45


def test_a_project_manager_gets_404_for_another_projects_shift(browser_client, member,
                                                               organization, shift):
    manager = member(Role.PROJECT_MANAGER)
    manager.assigned_projects.add(factories.ProjectFactory(organization=organization))

    assert browser_client(manager).get(edit_url(shift)).status_code == 404


def test_another_organizations_shift_is_404(browser_client, payroll):
    assert browser_client(payroll).get(edit_url(factories.ShiftFactory())).status_code == 404


# --- Deleting -------------------------------------------------------------------------------


def test_delete_asks_for_confirmation_first(browser_client, payroll, shift):
    response = browser_client(payroll).get(delete_url(shift))

    assert "Delete Wes Welder's shift?" in visible_text(response.content)
    shift.refresh_from_db()
    assert shift.deleted_at is None


def test_confirming_deletes_the_shift_and_goes_back_to_its_day(browser_client, payroll,
                                                               shift):
    response = browser_client(payroll).post(delete_url(shift), {"version": shift.version},
                                            follow=True)

    shift.refresh_from_db()
    assert shift.deleted_at is not None
    assert shift.deleted_by == payroll.user
    text = visible_text(response.content)
    assert "Deleted Wes Welder's shift of Jun 3." in text
    assert "No shifts on this day" in text


def test_a_stale_delete_deletes_nothing(browser_client, payroll, member, shift):
    services.shift_update(actor=member(Role.ADMIN), shift=shift, notes="Someone else")

    response = browser_client(payroll).post(delete_url(shift), {"version": 1}, follow=True)

    assert "changed by someone else" in visible_text(response.content)
    shift.refresh_from_db()
    assert shift.deleted_at is None


def test_a_viewer_cannot_delete(browser_client, member, shift):
    response = browser_client(member(Role.VIEWER)).post(delete_url(shift), {"version": 1})

    assert response.status_code == 403
    shift.refresh_from_db()
    assert shift.deleted_at is None


# --- An edit after a sync -------------------------------------------------------------------


def test_editing_a_synced_shift_through_the_page_turns_its_dashboard_cell_amber(world, client):
    ana = world.shift("ana")
    run_to_completion(world.start_run().pk)
    cells = {"integration": world.integration, "project_ids": [world.project.pk],
             "dates": [WORK_DATE]}
    assert grid_cells.sync_cells(**cells)[(world.project.pk, WORK_DATE)].status == (
        CellStatus.SYNCED)
    client.force_login(world.payroll.user)

    client.post(edit_url(ana), form_data(
        ana, start="2026-06-03T07:00", end="2026-06-03T16:00", cost_code=world.cost_code.pk))

    assert Shift.objects.get(pk=ana.pk).version == ana.version + 1
    cell = grid_cells.sync_cells(**cells)[(world.project.pk, WORK_DATE)]
    assert (cell.status, cell.changes) == (CellStatus.CHANGED, 1)
