"""Approving and rejecting shifts, one at a time and in bulk (all or none)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests import factories
from tests.timesync.api.helpers import TORONTO, errors_of, instant, local, shift_url, url
from timesync.models import ApprovalState, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def payroll(member):
    return member(Role.PAYROLL_ADMIN, user__full_name="Pat Okafor")


@pytest.fixture
def make_shift(organization, project):
    def make(**fields):
        return factories.ShiftFactory(organization=organization, project=project, **fields)

    return make


@pytest.fixture
def shift(make_shift):
    return make_shift()


def decide(client, shift, action, **body):
    return client.post(shift_url(shift.organization, shift.pk, action), body)


def state_of(client, shift):
    return client.get(shift_url(shift.organization, shift.pk)).json()["approval_state"]


def bulk(client, organization, action, shifts, **body):
    shift_ids = [s if isinstance(s, int) else s.pk for s in shifts]
    return client.post(url(organization, f"shifts/bulk-{action}/"),
                       {"shift_ids": shift_ids, **body})


# --- One shift -----------------------------------------------------------------------------


def test_approving_a_shift_records_who_approved_and_when(api, payroll, shift):
    response = decide(api(payroll), shift, "approve")
    assert response.status_code == 200, response.content
    assert response.json()["approval_state"] == ApprovalState.APPROVED
    assert response.json()["decided_by"] == "Pat Okafor"
    assert timezone.now() - instant(response.json()["decided_at"]) < timedelta(minutes=1)
    assert state_of(api(payroll), shift) == ApprovalState.APPROVED


def test_rejecting_a_shift_records_the_reason(api, payroll, shift):
    response = decide(api(payroll), shift, "reject", reason="Break not taken")
    assert response.status_code == 200, response.content
    assert response.json()["approval_state"] == ApprovalState.REJECTED
    assert response.json()["rejection_reason"] == "Break not taken"
    assert response.json()["decided_by"] == "Pat Okafor"


def test_approving_a_rejected_shift_clears_the_reason(api, payroll, shift):
    decide(api(payroll), shift, "reject", reason="Break not taken")
    response = decide(api(payroll), shift, "approve")
    assert response.json()["approval_state"] == ApprovalState.APPROVED
    assert response.json()["rejection_reason"] == ""


def test_approving_an_approved_shift_again_changes_nothing(api, payroll, shift):
    first = decide(api(payroll), shift, "approve").json()
    again = decide(api(payroll), shift, "approve")
    assert again.status_code == 200, again.content
    assert (again.json()["version"], again.json()["decided_at"]) == (
        first["version"], first["decided_at"])


def test_approving_with_the_current_version_is_applied(api, payroll, shift):
    response = decide(api(payroll), shift, "approve", version=1)
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2


def test_approving_with_a_stale_version_is_a_conflict_and_the_shift_stays_pending(
    api, payroll, shift
):
    api(payroll).patch(shift_url(shift.organization, shift.pk), {"break_minutes": 45})
    response = decide(api(payroll), shift, "approve", version=1)
    assert response.status_code == 409
    assert response.json()["current_version"] == 2
    assert state_of(api(payroll), shift) == ApprovalState.PENDING


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_deciding_a_punched_in_shift_is_refused(api, payroll, make_shift, action):
    open_shift = make_shift(end=None)
    response = decide(api(payroll), open_shift, action)
    assert response.status_code == 400
    assert state_of(api(payroll), open_shift) == ApprovalState.PENDING


def test_approving_a_rejected_shift_whose_time_is_now_taken_is_refused_naming_start(
    api, payroll, make_shift, worker
):
    rejected = make_shift(worker=worker, start=local(TORONTO, 2026, 6, 3, 7, 0),
                          approval_state=ApprovalState.REJECTED)
    make_shift(worker=worker, start=local(TORONTO, 2026, 6, 3, 8, 0))
    assert "start" in errors_of(decide(api(payroll), rejected, "approve"))
    assert state_of(api(payroll), rejected) == ApprovalState.REJECTED


def test_approving_a_deleted_shift_is_not_found(api, payroll, shift):
    api(payroll).delete(shift_url(shift.organization, shift.pk))
    assert decide(api(payroll), shift, "approve").status_code == 404


def test_approving_another_tenants_shift_is_not_found(api, payroll, organization,
                                                      other_organization):
    theirs = factories.ShiftFactory(organization=other_organization)
    response = api(payroll).post(shift_url(organization, theirs.pk, "approve"), {})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.approval_state == ApprovalState.PENDING


# --- Bulk ----------------------------------------------------------------------------------


def test_bulk_approve_approves_every_shift(api, payroll, organization, make_shift):
    shifts = [make_shift(), make_shift()]
    response = bulk(api(payroll), organization, "approve", shifts)
    assert response.status_code == 200, response.content
    assert {row["approval_state"] for row in response.json()} == {ApprovalState.APPROVED}
    assert [state_of(api(payroll), s) for s in shifts] == [ApprovalState.APPROVED] * 2


def test_bulk_reject_rejects_every_shift_with_the_reason(api, payroll, organization,
                                                         make_shift):
    shifts = [make_shift(), make_shift()]
    response = bulk(api(payroll), organization, "reject", shifts, reason="Wrong project")
    assert response.status_code == 200, response.content
    assert [(row["approval_state"], row["rejection_reason"]) for row in response.json()] == [
        (ApprovalState.REJECTED, "Wrong project")] * 2


def test_bulk_approve_with_an_unknown_id_is_refused_and_decides_none(
    api, payroll, organization, make_shift
):
    shifts = [make_shift(), make_shift()]
    response = bulk(api(payroll), organization, "approve", [*shifts, 987654321])
    assert "shift_ids" in errors_of(response)
    assert [state_of(api(payroll), s) for s in shifts] == [ApprovalState.PENDING] * 2


def test_bulk_reject_with_another_tenants_shift_is_refused_and_decides_none(
    api, payroll, organization, other_organization, make_shift
):
    mine = make_shift()
    theirs = factories.ShiftFactory(organization=other_organization)
    response = bulk(api(payroll), organization, "reject", [mine, theirs], reason="No")
    assert "shift_ids" in errors_of(response)
    assert state_of(api(payroll), mine) == ApprovalState.PENDING
    theirs.refresh_from_db()
    assert theirs.approval_state == ApprovalState.PENDING


def test_bulk_approve_with_a_punched_in_shift_is_refused_and_decides_none(
    api, payroll, organization, make_shift
):
    closed, still_open = make_shift(), make_shift(end=None)
    response = bulk(api(payroll), organization, "approve", [closed, still_open])
    assert response.status_code == 400
    assert state_of(api(payroll), closed) == ApprovalState.PENDING


def test_bulk_approve_with_a_deleted_shift_is_refused_and_decides_none(
    api, payroll, organization, make_shift
):
    kept, deleted = make_shift(), make_shift()
    api(payroll).delete(shift_url(organization, deleted.pk))
    response = bulk(api(payroll), organization, "approve", [kept, deleted])
    assert "shift_ids" in errors_of(response)
    assert state_of(api(payroll), kept) == ApprovalState.PENDING


def test_bulk_approve_without_ids_is_refused_naming_shift_ids(api, payroll, organization):
    assert "shift_ids" in errors_of(bulk(api(payroll), organization, "approve", []))


def test_bulk_approve_moves_each_shifts_version(api, payroll, organization, make_shift):
    shifts = [make_shift(), make_shift()]
    response = bulk(api(payroll), organization, "approve", shifts)
    assert [row["version"] for row in response.json()] == [2, 2]
