"""Editing shifts: approval falls back to pending when paid time changes, the version moves on
every edit and guards against overwriting, soft delete, and the history of changes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from tests import factories
from tests.timesync.api.helpers import (
    TORONTO,
    VANCOUVER,
    errors_of,
    hours,
    ids,
    instant,
    local,
    shift_url,
    url,
)
from timesync.models import ApprovalState, Role, Shift

pytestmark = pytest.mark.django_db


@pytest.fixture
def shift(organization, worker, project):
    """June 3rd, 07:00 to 15:30 in Toronto with a half-hour break: 8.00 paid hours."""
    return factories.ShiftFactory(
        organization=organization, worker=worker, project=project,
        start=local(TORONTO, 2026, 6, 3, 7, 0), end=local(TORONTO, 2026, 6, 3, 15, 30),
        break_minutes=30,
    )


@pytest.fixture
def approved_shift(shift, admin):
    shift.approval_state = ApprovalState.APPROVED
    shift.decided_by = admin.user
    shift.decided_at = timezone.now()
    shift.save()
    return shift


def edit(client, shift, **changes):
    return client.patch(shift_url(shift.organization, shift.pk), changes)


def read(client, shift):
    response = client.get(shift_url(shift.organization, shift.pk))
    assert response.status_code == 200, response.content
    return response.json()


# --- Edits and approval --------------------------------------------------------------------


def test_changing_the_break_recomputes_paid_hours(api, admin, shift):
    response = edit(api(admin), shift, break_minutes=45)
    assert response.status_code == 200, response.content
    assert hours(response.json()["paid_hours"]) == Decimal("7.75")
    assert hours(read(api(admin), shift)["paid_hours"]) == Decimal("7.75")


def test_changing_the_end_recomputes_paid_hours(api, admin, shift):
    edit(api(admin), shift, end="2026-06-03T17:30:00-04:00")
    assert hours(read(api(admin), shift)["paid_hours"]) == Decimal("10.00")


def test_a_wall_clock_end_is_read_in_the_projects_zone(api, admin, shift):
    edit(api(admin), shift, end="2026-06-03T16:30:00")
    assert instant(read(api(admin), shift)["end"]) == local(TORONTO, 2026, 6, 3, 16, 30)


def test_moving_a_shift_to_a_project_in_another_zone_moves_its_work_date(
    api, admin, organization, worker
):
    # 01:30 on June 4th in Toronto is 22:30 on June 3rd in Vancouver.
    shift = factories.ShiftFactory(organization=organization, worker=worker,
                                   start=local(TORONTO, 2026, 6, 4, 1, 30))
    coast = factories.ProjectFactory(organization=organization, time_zone="America/Vancouver")
    edit(api(admin), shift, project=coast.pk)
    assert read(api(admin), shift)["work_date"] == "2026-06-03"


def test_a_full_update_replaces_the_shift(api, admin, organization, shift, cost_code):
    body = {"worker": shift.worker_id, "project": shift.project_id, "cost_code": cost_code.pk,
            "start": "2026-06-03T08:00:00-04:00", "end": "2026-06-03T12:00:00-04:00",
            "break_minutes": 0, "time_type": "overtime", "notes": "Half day"}
    response = api(admin).put(shift_url(organization, shift.pk), body)
    assert response.status_code == 200, response.content
    again = read(api(admin), shift)
    assert instant(again["start"]) == local(TORONTO, 2026, 6, 3, 8, 0)
    assert (again["cost_code"], again["time_type"], again["notes"]) == (
        cost_code.pk, "overtime", "Half day")
    assert hours(again["paid_hours"]) == Decimal("4.00")


def paid_time_change(field, organization, cost_code):
    return {
        "start": "2026-06-03T06:30:00-04:00",
        "end": "2026-06-03T16:00:00-04:00",
        "break_minutes": 45,
        "time_type": "overtime",
        "cost_code": cost_code.pk,
        "project": lambda: factories.ProjectFactory(organization=organization).pk,
        "worker": lambda: factories.WorkerFactory(organization=organization).pk,
    }[field]


@pytest.mark.parametrize(
    "field", ["start", "end", "break_minutes", "time_type", "cost_code", "project", "worker"]
)
def test_changing_paid_time_of_an_approved_shift_returns_it_to_pending(
    api, admin, organization, approved_shift, cost_code, field
):
    value = paid_time_change(field, organization, cost_code)
    value = value() if callable(value) else value
    response = edit(api(admin), approved_shift, **{field: value})
    assert response.status_code == 200, response.content
    again = read(api(admin), approved_shift)
    assert again["approval_state"] == ApprovalState.PENDING
    assert again["decided_by"] is None
    assert again["decided_at"] is None


def test_changing_only_the_notes_of_an_approved_shift_keeps_it_approved(
    api, admin, approved_shift
):
    response = edit(api(admin), approved_shift, notes="Crane down an hour")
    assert response.status_code == 200, response.content
    again = read(api(admin), approved_shift)
    assert again["approval_state"] == ApprovalState.APPROVED
    assert again["notes"] == "Crane down an hour"


def test_a_full_update_changing_only_the_notes_keeps_the_approval(
    api, admin, organization, approved_shift
):
    # The same times, written in UTC this time: the same instants, so not a change.
    body = {"worker": approved_shift.worker_id, "project": approved_shift.project_id,
            "start": "2026-06-03T11:00:00Z", "end": "2026-06-03T19:30:00Z",
            "break_minutes": 30, "time_type": "regular", "notes": "Crane down an hour"}
    response = api(admin).put(shift_url(organization, approved_shift.pk), body)
    assert response.status_code == 200, response.content
    assert read(api(admin), approved_shift)["approval_state"] == ApprovalState.APPROVED


def test_editing_cannot_approve_a_shift(api, member, organization, shift):
    manager = member(Role.PROJECT_MANAGER)
    manager.assigned_projects.add(shift.project)
    edit(api(manager), shift, approval_state="approved", decided_by=manager.user.pk)
    assert read(api(manager), shift)["approval_state"] == ApprovalState.PENDING


def test_editing_cannot_set_the_work_date_or_paid_hours(api, admin, shift):
    edit(api(admin), shift, work_date="2026-01-01", paid_hours="12.00")
    again = read(api(admin), shift)
    assert again["work_date"] == "2026-06-03"
    assert hours(again["paid_hours"]) == Decimal("8.00")


def test_changing_paid_time_of_a_rejected_shift_returns_it_to_pending_without_the_reason(
    api, admin, shift
):
    api(admin).post(shift_url(shift.organization, shift.pk, "reject"), {"reason": "No break"})
    edit(api(admin), shift, break_minutes=60)
    again = read(api(admin), shift)
    assert again["approval_state"] == ApprovalState.PENDING
    assert again["rejection_reason"] == ""


def test_an_edit_ending_before_the_start_is_refused_naming_end_and_changes_nothing(
    api, admin, shift
):
    response = edit(api(admin), shift, end="2026-06-03T06:00:00-04:00")
    assert "end" in errors_of(response)
    again = read(api(admin), shift)
    assert instant(again["end"]) == local(TORONTO, 2026, 6, 3, 15, 30)
    assert again["version"] == 1


def test_an_edit_that_overlaps_the_workers_other_shift_is_refused_naming_start(
    api, admin, organization, shift, worker, project
):
    factories.ShiftFactory(organization=organization, worker=worker, project=project,
                           start=local(TORONTO, 2026, 6, 3, 16, 0),
                           end=local(TORONTO, 2026, 6, 3, 20, 0), break_minutes=0)
    response = edit(api(admin), shift, end="2026-06-03T17:00:00-04:00")
    assert "start" in errors_of(response)


def test_an_edit_with_a_break_as_long_as_the_shift_is_refused_naming_break_minutes(
    api, admin, shift
):
    assert "break_minutes" in errors_of(edit(api(admin), shift, break_minutes=510))


def test_moving_a_shift_to_another_tenants_worker_is_refused_naming_worker(
    api, admin, shift, other_organization
):
    theirs = factories.WorkerFactory(organization=other_organization)
    assert "worker" in errors_of(edit(api(admin), shift, worker=theirs.pk))


def test_a_wall_clock_edit_in_the_spring_forward_gap_is_refused_naming_start(
    api, admin, organization, worker, project
):
    shift = factories.ShiftFactory(organization=organization, worker=worker, project=project,
                                   start=local(TORONTO, 2026, 3, 8, 4, 0),
                                   end=local(TORONTO, 2026, 3, 8, 10, 0))
    assert "start" in errors_of(edit(api(admin), shift, start="2026-03-08T02:15:00"))


# --- Versions ------------------------------------------------------------------------------


def test_every_edit_moves_the_version_by_one(api, admin, shift):
    client = api(admin)
    assert edit(client, shift, notes="Rain delay").json()["version"] == 2
    assert edit(client, shift, break_minutes=45).json()["version"] == 3
    approved = client.post(shift_url(shift.organization, shift.pk, "approve"), {})
    assert approved.json()["version"] == 4
    assert read(client, shift)["version"] == 4


def test_an_edit_with_the_current_version_is_applied(api, admin, shift):
    response = edit(api(admin), shift, notes="Rain delay", version=1)
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2


def test_an_edit_with_a_stale_version_is_a_conflict_naming_the_current_version(
    api, admin, shift
):
    edit(api(admin), shift, notes="Someone else's change")
    response = edit(api(admin), shift, break_minutes=60, version=1)
    assert response.status_code == 409
    assert response.json()["current_version"] == 2


def test_an_edit_with_a_stale_version_changes_nothing(api, admin, shift):
    edit(api(admin), shift, notes="Someone else's change")
    edit(api(admin), shift, break_minutes=60, notes="Mine", version=1)
    again = read(api(admin), shift)
    assert (again["break_minutes"], again["notes"], again["version"]) == (
        30, "Someone else's change", 2)


def test_a_full_update_with_a_stale_version_is_a_conflict(api, admin, organization, shift):
    edit(api(admin), shift, notes="Someone else's change")
    body = {"worker": shift.worker_id, "project": shift.project_id,
            "start": "2026-06-03T08:00:00-04:00", "end": "2026-06-03T12:00:00-04:00",
            "version": 1}
    response = api(admin).put(shift_url(organization, shift.pk), body)
    assert response.status_code == 409
    assert instant(read(api(admin), shift)["start"]) == local(TORONTO, 2026, 6, 3, 7, 0)


# --- Soft delete ---------------------------------------------------------------------------


def test_deleting_a_shift_answers_204_and_it_is_no_longer_found(api, admin, organization, shift):
    response = api(admin).delete(shift_url(organization, shift.pk))
    assert response.status_code == 204
    assert api(admin).get(shift_url(organization, shift.pk)).status_code == 404


def test_a_deleted_shift_is_not_listed(api, admin, organization, shift):
    api(admin).delete(shift_url(organization, shift.pk))
    assert ids(api(admin).get(url(organization, "shifts/"))) == []


def test_a_deleted_shift_cannot_be_edited(api, admin, organization, shift):
    api(admin).delete(shift_url(organization, shift.pk))
    assert edit(api(admin), shift, notes="Too late").status_code == 404


def test_a_deleted_shift_cannot_be_deleted_again(api, admin, organization, shift):
    api(admin).delete(shift_url(organization, shift.pk))
    assert api(admin).delete(shift_url(organization, shift.pk)).status_code == 404


def test_deleting_a_shift_frees_the_workers_time(api, admin, organization, shift):
    api(admin).delete(shift_url(organization, shift.pk))
    body = {"worker": shift.worker_id, "project": shift.project_id,
            "start": "2026-06-03T07:00:00-04:00", "end": "2026-06-03T15:30:00-04:00"}
    assert api(admin).post(url(organization, "shifts/"), body).status_code == 201


# --- History -------------------------------------------------------------------------------


def history(client, shift):
    response = client.get(shift_url(shift.organization, shift.pk, "history"))
    assert response.status_code == 200, response.content
    return response.json()


def change_of(entry, field):
    return next((c["before"], c["after"]) for c in entry["changes"] if c["field"] == field)


@pytest.fixture
def dana(member):
    return member(Role.ADMIN, user__full_name="Dana Reyes")


@pytest.fixture
def pat(member):
    return member(Role.PAYROLL_ADMIN, user__full_name="Pat Okafor")


@pytest.fixture
def created_by_dana(api, dana, organization, worker, project):
    body = {"worker": worker.pk, "project": project.pk, "start": "2026-06-03T07:00:00-04:00",
            "end": "2026-06-03T15:30:00-04:00", "break_minutes": 30}
    response = api(dana).post(url(organization, "shifts/"), body)
    assert response.status_code == 201, response.content
    return Shift.objects.get(pk=response.json()["id"])


def test_history_of_a_new_shift_is_its_creation_by_its_author(api, dana, created_by_dana):
    entries = history(api(dana), created_by_dana)
    assert len(entries) == 1
    assert (entries[0]["kind"], entries[0]["who"], entries[0]["version"]) == (
        "created", "Dana Reyes", 1)


def test_history_lists_who_changed_what_newest_first(api, dana, pat, created_by_dana):
    edit(api(pat), created_by_dana, break_minutes=45)
    edit(api(dana), created_by_dana, notes="Rain delay")
    entries = history(api(dana), created_by_dana)
    assert [(e["kind"], e["who"], e["version"]) for e in entries] == [
        ("changed", "Dana Reyes", 3), ("changed", "Pat Okafor", 2), ("created", "Dana Reyes", 1),
    ]
    assert change_of(entries[1], "break_minutes") == ("30", "45")
    assert change_of(entries[1], "paid_hours") == ("8.00", "7.75")
    assert change_of(entries[0], "notes")[1] == "Rain delay"


def test_history_shows_who_approved(api, dana, pat, created_by_dana):
    api(pat).post(shift_url(created_by_dana.organization, created_by_dana.pk, "approve"), {})
    newest = history(api(dana), created_by_dana)[0]
    assert newest["who"] == "Pat Okafor"
    assert change_of(newest, "approval_state") == ("pending", "approved")


def test_history_shows_times_on_the_projects_clock(api, dana, created_by_dana):
    edit(api(dana), created_by_dana, start="2026-06-03T10:30:00Z")  # 06:30 in Toronto
    before, after = change_of(history(api(dana), created_by_dana)[0], "start")
    assert "07:00" in before
    assert "06:30" in after


def test_history_of_a_shift_in_a_vancouver_project_shows_vancouver_times(
    api, admin, organization, worker
):
    coast = factories.ProjectFactory(organization=organization, time_zone="America/Vancouver")
    shift = factories.ShiftFactory(organization=organization, worker=worker, project=coast,
                                   start=local(VANCOUVER, 2026, 6, 3, 7, 0))
    edit(api(admin), shift, start="2026-06-03T06:00:00-07:00")
    before, after = change_of(history(api(admin), shift)[0], "start")
    assert "07:00" in before
    assert "06:00" in after


def test_history_of_another_tenants_shift_is_not_found(api, admin, organization,
                                                       other_organization):
    theirs = factories.ShiftFactory(organization=other_organization)
    response = api(admin).get(shift_url(organization, theirs.pk, "history"))
    assert response.status_code == 404
