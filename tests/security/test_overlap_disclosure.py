"""A shift that overlaps another of the same worker is refused; the refusal names the other
shift only to a member who can see its project (finding 9 of issue 8: a project manager was
told the number, project and day of a shift on a project they are not assigned to)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from tests import factories
from timesync import services
from timesync.models import Role

pytestmark = pytest.mark.django_db
START = datetime(2026, 6, 3, 11, tzinfo=UTC)


@pytest.fixture
def busy(organization, member):
    """A worker on a shift on the secret project, put there by the payroll admin."""
    payroll = member(Role.PAYROLL_ADMIN)
    secret = factories.ProjectFactory(organization=organization, code="SEC-7",
                                      name="Confidential Bid")
    worker = factories.WorkerFactory(organization=organization, name="Wes Welder")
    shift = services.shift_create(actor=payroll, worker=worker, project=secret, start=START,
                                  end=START + timedelta(hours=8))
    return worker, shift


def overlap_error(actor, worker, project) -> str:
    with pytest.raises(ValidationError) as refused:
        services.shift_create(actor=actor, worker=worker, project=project,
                              start=START + timedelta(hours=2), end=START + timedelta(hours=6))
    return " ".join(refused.value.message_dict["start"])


def test_a_project_manager_is_told_only_that_the_worker_is_busy_then(organization, member, busy):
    worker, other_shift = busy
    mine = factories.ProjectFactory(organization=organization, name="Own Site")
    manager = member(Role.PROJECT_MANAGER)
    manager.assigned_projects.add(mine)

    message = overlap_error(manager, worker, mine)

    assert message == "Wes Welder already has a shift at this time."
    assert "Confidential Bid" not in message
    assert "SEC-7" not in message
    assert f"#{other_shift.pk}" not in message


def test_a_project_manager_assigned_to_the_other_project_is_told_which_shift(
    organization, member, busy
):
    worker, other_shift = busy
    mine = factories.ProjectFactory(organization=organization, name="Own Site")
    manager = member(Role.PROJECT_MANAGER)
    manager.assigned_projects.add(mine, other_shift.project)

    message = overlap_error(manager, worker, mine)

    assert f"#{other_shift.pk} on SEC-7 Confidential Bid" in message


def test_a_payroll_admin_is_told_which_shift_and_project(organization, member, busy):
    worker, other_shift = busy
    elsewhere = factories.ProjectFactory(organization=organization)

    message = overlap_error(member(Role.PAYROLL_ADMIN), worker, elsewhere)

    assert f"#{other_shift.pk} on SEC-7 Confidential Bid, 2026-06-03" in message


def test_a_project_manager_bringing_back_a_rejected_shift_is_told_only_that_the_worker_is_busy(
    organization, member, busy
):
    worker, other_shift = busy
    mine = factories.ProjectFactory(organization=organization, name="Own Site")
    manager = member(Role.PROJECT_MANAGER)
    manager.assigned_projects.add(mine)
    payroll = member(Role.PAYROLL_ADMIN)
    services.shift_delete(actor=payroll, shift=other_shift)
    rejected = services.shift_create(actor=manager, worker=worker, project=mine,
                                     start=START, end=START + timedelta(hours=4))
    services.shift_decide(actor=manager, shift=rejected, approve=False, reason="wrong day")
    services.shift_create(actor=payroll, worker=worker, project=other_shift.project,
                          start=START + timedelta(hours=1), end=START + timedelta(hours=3))

    with pytest.raises(ValidationError) as refused:
        services.shift_decide(actor=manager, shift=rejected, approve=True)

    assert " ".join(refused.value.message_dict["start"]) \
        == "Wes Welder already has a shift at this time."
