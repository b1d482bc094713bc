"""The project day page (a day's shifts, hours and total in the project's time zone) and the
shift page (facts, history of who changed what, approve and reject)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests import factories
from tests.dashboard.helpers import section, visible_text
from timesync import services
from timesync.models import ApprovalState, Role

pytestmark = pytest.mark.django_db


def day_heading(day) -> str:
    """How the page names a day, e.g. 'Wednesday, Jun 3, 2026'."""
    return f"{day:%A}, {day:%b} {day.day}, {day.year}"


# --- Organization page ---------------------------------------------------------------------


def test_organization_page_counts_a_weeks_shifts_and_pending_approvals(
    browser_client, admin, organization
):
    project = factories.ProjectFactory(organization=organization, name="Harbour Tower")
    for day, state in [(1, "pending"), (3, "approved"), (5, "pending"), (9, "pending")]:
        factories.ShiftFactory(
            organization=organization, project=project, approval_state=state,
            start=datetime(2026, 6, day, 12, 0, tzinfo=UTC),
        )

    response = browser_client(admin).get(f"/o/{organization.slug}/?week=2026-06-03")

    text = visible_text(response.content)
    assert "Jun 1 \u2013 Jun 7, 2026" in text  # en dash
    assert "Harbour Tower America/Toronto 3 2 pending Active" in text


def test_project_manager_without_projects_is_told_to_ask_for_them(browser_client, member):
    manager = member(Role.PROJECT_MANAGER)

    response = browser_client(manager).get(f"/o/{manager.organization.slug}/")

    assert "No project is assigned to you yet" in visible_text(response.content)


# --- Project page ---------------------------------------------------------------------------


@pytest.fixture
def coastal(organization):
    """A Vancouver project with two shifts on June 3 (local) and one on June 4."""
    project = factories.ProjectFactory(
        organization=organization, name="Coastal Mill", time_zone="America/Vancouver"
    )

    def shift(name, start, hours, break_minutes=30):
        return factories.ShiftFactory(
            organization=organization, project=project,
            worker=factories.WorkerFactory(organization=organization, name=name),
            start=start, end=start + timedelta(hours=hours), break_minutes=break_minutes,
        )

    # 15:00 UTC is 08:00 in Vancouver (PDT, UTC-7).
    shift("Ana Alvarez", datetime(2026, 6, 3, 15, 0, tzinfo=UTC), 8.5)   # 08:00-16:30, 8.00 h
    shift("Ben Brooks", datetime(2026, 6, 3, 16, 0, tzinfo=UTC), 8)      # 09:00-17:00, 7.50 h
    shift("Cy Carter", datetime(2026, 6, 4, 15, 0, tzinfo=UTC), 8)       # next day
    return project


def project_page(client, project, day: str = ""):
    query = f"?date={day}" if day else ""
    return client.get(f"/o/{project.organization.slug}/projects/{project.pk}/{query}")


def test_project_page_lists_that_days_shifts(browser_client, admin, coastal):
    response = project_page(browser_client(admin), coastal, "2026-06-03")

    assert response.status_code == 200
    text = visible_text(response.content)
    assert "Ana Alvarez" in text
    assert "Ben Brooks" in text
    assert "Cy Carter" not in text
    assert day_heading(datetime(2026, 6, 3)) in text


def test_project_page_shows_each_shifts_paid_hours_and_the_days_total(
    browser_client, admin, coastal
):
    text = visible_text(project_page(browser_client(admin), coastal, "2026-06-03").content)

    assert "Ana Alvarez 08:00 16:30 30 min 8.00" in text
    assert "Ben Brooks 09:00 17:00 30 min 7.50" in text
    assert "Total 15.50" in text


def test_project_page_shows_times_in_the_projects_time_zone(browser_client, admin, coastal):
    text = visible_text(project_page(browser_client(admin), coastal, "2026-06-03").content)

    assert "08:00" in text
    assert "15:00" not in text  # the UTC start
    assert "Times shown in America/Vancouver." in text


def test_project_page_marks_an_overnight_shifts_end_as_next_day(
    browser_client, admin, organization
):
    project = factories.ProjectFactory(organization=organization, time_zone="America/Toronto")
    factories.ShiftFactory(
        organization=organization, project=project, break_minutes=0,
        start=datetime(2026, 6, 4, 2, 0, tzinfo=UTC),  # 22:00 June 3 in Toronto
        end=datetime(2026, 6, 4, 10, 0, tzinfo=UTC),   # 06:00 June 4
    )

    text = visible_text(project_page(browser_client(admin), project, "2026-06-03").content)

    assert "22:00 06:00 (next day)" in text
    assert "8.00" in text


def test_project_page_for_a_day_without_shifts_says_so(browser_client, admin, coastal):
    text = visible_text(project_page(browser_client(admin), coastal, "2026-06-05").content)

    assert "No shifts on this day" in text


def test_project_page_leaves_out_deleted_shifts(browser_client, admin, coastal):
    admin_client = browser_client(admin)
    ana = coastal.shifts.get(worker__name="Ana Alvarez")
    services.shift_delete(actor=admin, shift=ana)

    text = visible_text(project_page(admin_client, coastal, "2026-06-03").content)

    assert "Ana Alvarez" not in text
    assert "Total 7.50" in text


@pytest.mark.parametrize("bad_date", ["not-a-date", "2026-13-45", "2026-06"])
def test_project_page_with_a_bad_date_falls_back_to_today(
    browser_client, admin, organization, bad_date
):
    project = factories.ProjectFactory(organization=organization, time_zone="UTC")
    now = timezone.now()
    factories.ShiftFactory(
        organization=organization, project=project,
        worker=factories.WorkerFactory(organization=organization, name="Tess Today"),
        start=now.replace(hour=0, minute=5, second=0, microsecond=0), end=now + timedelta(hours=1),
    )

    response = project_page(browser_client(admin), project, bad_date)

    assert response.status_code == 200
    text = visible_text(response.content)
    assert day_heading(now.date()) in text
    assert "Tess Today" in text


def test_project_page_without_a_date_shows_today_at_the_project(
    browser_client, admin, organization
):
    # Pick a zone whose calendar date differs from UTC's right now: "today" for the people on
    # that site is their local date (a Vancouver foreman at 6 pm is not on tomorrow yet).
    now = timezone.now()
    zone = "Pacific/Kiritimati" if now.hour >= 11 else "Pacific/Pago_Pago"  # UTC+14 / UTC-11
    local_today = now.astimezone(ZoneInfo(zone)).date()
    assert local_today != now.date()
    project = factories.ProjectFactory(organization=organization, time_zone=zone)
    local_start = datetime.combine(local_today, datetime.min.time(), ZoneInfo(zone))
    factories.ShiftFactory(
        organization=organization, project=project,
        worker=factories.WorkerFactory(organization=organization, name="Lola Local"),
        start=local_start + timedelta(minutes=5), end=local_start + timedelta(minutes=65),
    )

    text = visible_text(project_page(browser_client(admin), project).content)

    assert day_heading(local_today) in text
    assert "Lola Local" in text


def test_project_of_another_organization_is_404(browser_client, admin):
    foreign = factories.ProjectFactory()

    assert project_page(browser_client(admin), foreign).status_code == 404


# --- Shift page -----------------------------------------------------------------------------


@pytest.fixture
def project(organization):
    return factories.ProjectFactory(organization=organization, name="Harbour Tower")


@pytest.fixture
def shift(organization, project):
    # 11:00-19:30 UTC is 07:00-15:30 in Toronto; 30 min break: 8.00 paid hours.
    return factories.ShiftFactory(
        organization=organization, project=project,
        worker=factories.WorkerFactory(organization=organization, name="Wes Welder"),
        start=datetime(2026, 6, 3, 11, 0, tzinfo=UTC),
        end=datetime(2026, 6, 3, 19, 30, tzinfo=UTC),
        break_minutes=30,
    )


@pytest.fixture
def payroll(member):
    return member(Role.PAYROLL_ADMIN, user=factories.UserFactory(full_name="Pat Payroll"))


@pytest.fixture
def manager(member, project):
    membership = member(Role.PROJECT_MANAGER, user=factories.UserFactory(full_name="Max Manager"))
    membership.assigned_projects.add(project)
    return membership


@pytest.fixture
def viewer(member):
    return member(Role.VIEWER, user=factories.UserFactory(full_name="Vi Viewer"))


def shift_url(shift) -> str:
    return f"/o/{shift.organization.slug}/shifts/{shift.pk}/"


def has_decision_buttons(response) -> bool:
    return (b'name="decision" value="approve"' in response.content
            and b'name="decision" value="reject"' in response.content)


def test_shift_page_shows_the_shift_in_the_projects_time_zone(browser_client, viewer, shift):
    response = browser_client(viewer).get(shift_url(shift))

    assert response.status_code == 200
    text = visible_text(response.content)
    assert "Wes Welder Pending" in text
    assert "Work date Wednesday, Jun 3, 2026" in text
    assert "Start Jun 3, 07:00 EDT" in text
    assert "End Jun 3, 15:30 EDT" in text
    assert "Unpaid break 30 min" in text
    assert "Paid hours 8.00" in text


def test_shift_history_shows_who_changed_the_break_and_from_what_to_what(
    browser_client, viewer, payroll, shift
):
    services.shift_update(actor=payroll, shift=shift, break_minutes=45)

    history = section(browser_client(viewer).get(shift_url(shift)).content, "History")

    assert "Pat Payroll changed the shift (version 2)" in history
    assert "Unpaid break minutes: 30 → 45" in history


def test_shift_history_shows_the_paid_hours_change(browser_client, viewer, payroll, shift):
    services.shift_update(actor=payroll, shift=shift, break_minutes=45)

    history = section(browser_client(viewer).get(shift_url(shift)).content, "History")

    assert "Paid hours: 8.00 → 7.75" in history


def test_shift_history_shows_a_moved_start_in_the_projects_time_zone(
    browser_client, viewer, payroll, shift
):
    services.shift_update(actor=payroll, shift=shift, start=datetime(2026, 6, 3, 12, 0, tzinfo=UTC))

    history = section(browser_client(viewer).get(shift_url(shift)).content, "History")

    assert "Start: 2026-06-03 07:00 EDT → 2026-06-03 08:00 EDT" in history


def test_shift_history_shows_who_created_the_shift(browser_client, viewer, payroll, project):
    created = services.shift_create(
        actor=payroll, worker=factories.WorkerFactory(organization=project.organization),
        project=project, start=datetime(2026, 6, 3, 11, 0, tzinfo=UTC),
        end=datetime(2026, 6, 3, 19, 0, tzinfo=UTC),
    )

    history = section(browser_client(viewer).get(shift_url(created)).content, "History")

    assert "Pat Payroll created the shift (version 1)" in history


def test_approve_and_reject_are_offered_to_a_payroll_admin(browser_client, payroll, shift):
    assert has_decision_buttons(browser_client(payroll).get(shift_url(shift)))


def test_approve_and_reject_are_offered_to_a_project_manager_on_an_assigned_project(
    browser_client, manager, shift
):
    assert has_decision_buttons(browser_client(manager).get(shift_url(shift)))


def test_approve_and_reject_are_hidden_from_a_viewer(browser_client, viewer, shift):
    response = browser_client(viewer).get(shift_url(shift))

    assert response.status_code == 200
    assert not has_decision_buttons(response)
    assert b'name="decision"' not in response.content


def test_approve_and_reject_are_hidden_while_the_worker_is_on_site(
    browser_client, payroll, organization, project
):
    open_shift = factories.ShiftFactory(organization=organization, project=project, end=None)

    response = browser_client(payroll).get(shift_url(open_shift))

    assert "still on site" in visible_text(response.content)
    assert not has_decision_buttons(response)


def test_project_manager_gets_404_on_a_shift_of_a_project_not_assigned(
    browser_client, member, shift
):
    unassigned = member(Role.PROJECT_MANAGER)

    assert browser_client(unassigned).get(shift_url(shift)).status_code == 404


def test_shift_of_another_organization_is_404(browser_client, admin):
    foreign = factories.ShiftFactory()

    assert browser_client(admin).get(shift_url(foreign)).status_code == 404


def test_payroll_admin_approves_a_shift(browser_client, payroll, shift):
    response = browser_client(payroll).post(shift_url(shift), {"decision": "approve"}, follow=True)

    text = visible_text(response.content)
    assert "Shift approved." in text
    assert "Approved by Pat Payroll" in text
    shift.refresh_from_db()
    assert shift.approval_state == ApprovalState.APPROVED
    assert shift.decided_by == payroll.user


def test_project_manager_approves_a_shift_on_an_assigned_project(
    browser_client, manager, shift
):
    browser_client(manager).post(shift_url(shift), {"decision": "approve"})

    shift.refresh_from_db()
    assert shift.approval_state == ApprovalState.APPROVED


def test_rejecting_with_a_reason_shows_the_reason(browser_client, payroll, shift):
    response = browser_client(payroll).post(
        shift_url(shift), {"decision": "reject", "reason": "Worker was on the Quarry job"},
        follow=True,
    )

    text = visible_text(response.content)
    assert "Shift rejected." in text
    assert "Rejected by Pat Payroll" in text
    assert "Worker was on the Quarry job" in text
    shift.refresh_from_db()
    assert shift.approval_state == ApprovalState.REJECTED
    assert shift.rejection_reason == "Worker was on the Quarry job"


def test_a_viewer_posting_a_decision_does_not_change_the_shift(browser_client, viewer, shift):
    response = browser_client(viewer).post(shift_url(shift), {"decision": "approve"}, follow=True)

    assert response.status_code == 403 or b'class="message error"' in response.content
    shift.refresh_from_db()
    assert shift.approval_state == ApprovalState.PENDING
    assert shift.decided_by is None
    assert shift.version == 1


def test_a_decision_that_is_neither_approve_nor_reject_is_refused_without_a_server_error(
    client, payroll, shift
):
    client.force_login(payroll.user)
    client.raise_request_exception = False

    response = client.post(shift_url(shift), {"decision": "maybe"})

    assert response.status_code in (302, 400)
    shift.refresh_from_db()
    assert shift.approval_state == ApprovalState.PENDING


# --- Approving and rejecting from the project page ------------------------------------------


@pytest.fixture
def day_of_shifts(organization, project):
    """Three finished shifts of Harbour Tower on June 3 (Toronto), by three workers."""
    return [
        factories.ShiftFactory(
            organization=organization, project=project,
            worker=factories.WorkerFactory(organization=organization, name=name),
            start=datetime(2026, 6, 3, 11 + n, 0, tzinfo=UTC),
            end=datetime(2026, 6, 3, 19 + n, 30, tzinfo=UTC),
        )
        for n, name in enumerate(["Ana Alvarez", "Ben Brooks", "Cy Carter"])
    ]


def decide_url(project) -> str:
    return f"/o/{project.organization.slug}/projects/{project.pk}/shifts/decide/"


def states(shifts) -> list[str]:
    return [type(s).objects.get(pk=s.pk).approval_state for s in shifts]


def test_bulk_approve_approves_every_selected_shift(browser_client, payroll, project,
                                                    day_of_shifts):
    ana, _, cy = day_of_shifts

    response = browser_client(payroll).post(
        decide_url(project), {"shift": [ana.pk, cy.pk], "decision": "approve",
                              "date": "2026-06-03"}, follow=True,
    )

    assert states(day_of_shifts) == ["approved", "pending", "approved"]
    assert "Approved 2 shifts." in visible_text(response.content)
    assert response.redirect_chain[-1][0] == (
        f"/o/{project.organization.slug}/projects/{project.pk}/?date=2026-06-03")


def test_bulk_reject_rejects_every_selected_shift_with_the_reason(browser_client, payroll,
                                                                  project, day_of_shifts):
    ana, ben, _ = day_of_shifts

    browser_client(payroll).post(decide_url(project), {
        "shift": [ana.pk, ben.pk], "decision": "reject", "reason": "Rained out, not on site",
    })

    ana.refresh_from_db()
    assert states(day_of_shifts) == ["rejected", "rejected", "pending"]
    assert ana.rejection_reason == "Rained out, not on site"


def test_a_rejection_without_a_reason_changes_nothing(browser_client, payroll, project,
                                                      day_of_shifts):
    ana, ben, _ = day_of_shifts

    response = browser_client(payroll).post(
        decide_url(project), {"shift": [ana.pk, ben.pk], "decision": "reject", "reason": " "},
        follow=True,
    )

    assert states(day_of_shifts) == ["pending", "pending", "pending"]
    assert "Say why the shift is rejected" in visible_text(response.content)


def test_a_selection_with_a_shift_the_manager_cannot_decide_changes_none(
    browser_client, manager, organization, project, day_of_shifts
):
    elsewhere = factories.ShiftFactory(organization=organization)  # a project not assigned
    ana, ben, _ = day_of_shifts

    response = browser_client(manager).post(
        decide_url(project), {"shift": [ana.pk, elsewhere.pk, ben.pk], "decision": "approve"},
        follow=True,
    )

    assert states([ana, ben, elsewhere]) == ["pending", "pending", "pending"]
    assert (f"Shift #{elsewhere.pk} is not one you can approve or reject here; nothing was "
            "changed.") in visible_text(response.content)


def test_a_selection_with_a_shift_still_on_site_changes_none(
    browser_client, payroll, organization, project, day_of_shifts
):
    on_site = factories.ShiftFactory(organization=organization, project=project, end=None,
                                     start=datetime(2026, 6, 3, 12, 0, tzinfo=UTC))
    ana, ben, _ = day_of_shifts

    response = browser_client(payroll).post(
        decide_url(project), {"shift": [ana.pk, on_site.pk, ben.pk], "decision": "approve"},
        follow=True,
    )

    assert states([ana, ben, on_site]) == ["pending", "pending", "pending"]
    assert ("Nothing was changed: The worker is still punched in; punch out first."
            in visible_text(response.content))


def test_approving_with_nothing_selected_says_so(browser_client, payroll, project,
                                                 day_of_shifts):
    response = browser_client(payroll).post(decide_url(project), {"decision": "approve"},
                                            follow=True)

    assert "Select at least one shift first." in visible_text(response.content)


def test_a_viewer_cannot_decide_from_the_project_page(browser_client, viewer, project,
                                                      day_of_shifts):
    response = browser_client(viewer).post(
        decide_url(project), {"shift": [day_of_shifts[0].pk], "decision": "approve"})

    assert response.status_code == 403
    assert states(day_of_shifts) == ["pending", "pending", "pending"]


def test_one_shift_is_approved_from_its_row(browser_client, payroll, project, day_of_shifts):
    ana = day_of_shifts[0]

    response = browser_client(payroll).post(
        decide_url(project), {"shift": ana.pk, "decision": "approve"}, follow=True)

    assert states(day_of_shifts) == ["approved", "pending", "pending"]
    assert "Approved Ana Alvarez's shift." in visible_text(response.content)


def test_the_project_page_offers_selection_approval_and_edit_to_a_payroll_admin(
    browser_client, payroll, project, day_of_shifts
):
    html = project_page(browser_client(payroll), project, "2026-06-03").content.decode()

    ana = day_of_shifts[0]
    assert f'<input type="checkbox" name="shift" value="{ana.pk}"' in html
    assert "Approve selected" in html
    assert "Reject selected" in html
    assert f'form="approve-{ana.pk}"' in html
    assert f'<input id="reason-{ana.pk}" form="reject-{ana.pk}" name="reason"' in html
    assert f'href="/o/{project.organization.slug}/shifts/{ana.pk}/edit/"' in html


def test_the_project_page_offers_a_viewer_no_selection_approval_or_edit(
    browser_client, viewer, project, day_of_shifts
):
    html = project_page(browser_client(viewer), project, "2026-06-03").content.decode()

    assert "Ana Alvarez" in html
    assert 'type="checkbox"' not in html
    assert "Approve" not in html
    assert "/edit/" not in html


def test_a_shift_still_on_site_has_no_checkbox(browser_client, payroll, organization, project):
    on_site = factories.ShiftFactory(organization=organization, project=project, end=None,
                                     start=datetime(2026, 6, 3, 12, 0, tzinfo=UTC))
    factories.ShiftFactory(organization=organization, project=project,
                           start=datetime(2026, 6, 3, 11, 0, tzinfo=UTC))

    html = project_page(browser_client(payroll), project, "2026-06-03").content.decode()

    assert f'name="shift" value="{on_site.pk}"' not in html


def test_rejected_hours_are_left_out_of_the_days_total(browser_client, payroll, project,
                                                       day_of_shifts):
    services.shift_decide(actor=payroll, shift=day_of_shifts[0], approve=False, reason="No")

    text = visible_text(project_page(browser_client(payroll), project, "2026-06-03").content)

    assert "Total 16.00" in text  # twice 8.00: the rejected 8.00 is not paid
    assert "8.00 rejected (1 shift), not in the total" in text


def test_a_rejected_shift_shows_its_reason_on_the_project_page(browser_client, viewer, payroll,
                                                               project, day_of_shifts):
    services.shift_decide(actor=payroll, shift=day_of_shifts[1], approve=False,
                          reason="Was on the Quarry job")

    text = visible_text(project_page(browser_client(viewer), project, "2026-06-03").content)

    assert "Rejected “Was on the Quarry job”" in text


# --- The shift page links to editing, and a rejection needs a reason -------------------------


def test_the_shift_page_links_to_edit_for_a_payroll_admin(browser_client, payroll, shift):
    html = browser_client(payroll).get(shift_url(shift)).content.decode()

    assert f'href="{shift_url(shift)}edit/"' in html


def test_the_shift_page_has_no_edit_link_for_a_viewer(browser_client, viewer, shift):
    html = browser_client(viewer).get(shift_url(shift)).content.decode()

    assert "/edit/" not in html


def test_rejecting_on_the_shift_page_without_a_reason_is_refused(browser_client, payroll,
                                                                 shift):
    response = browser_client(payroll).post(shift_url(shift), {"decision": "reject"},
                                            follow=True)

    assert "Say why the shift is rejected" in visible_text(response.content)
    shift.refresh_from_db()
    assert shift.approval_state == ApprovalState.PENDING


def test_approve_all_pending_approves_the_pending_shifts_shown(browser_client, payroll, project,
                                                               day_of_shifts):
    cy = day_of_shifts[2]
    services.shift_decide(actor=payroll, shift=cy, approve=False, reason="Not on site")
    page = project_page(browser_client(payroll), project, "2026-06-03").content.decode()
    start = page.index('<form class="approve-all"')
    form = page[start:page.index("</form>", start)]
    assert "Approve all 2 pending shifts" in form
    ids = [int(i) for i in re.findall(r'name="shift" value="(\d+)"', form)]

    browser_client(payroll).post(decide_url(project), {"shift": ids, "decision": "approve"})

    assert states(day_of_shifts) == ["approved", "approved", "rejected"]
