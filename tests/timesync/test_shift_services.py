"""Shift write paths: derived fields, versions, history, soft delete, time zone changes."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from tests import factories
from timesync import selectors, services
from timesync.models import ApprovalState, Role, Shift

pytestmark = pytest.mark.django_db


@pytest.fixture
def payroll(member):
    return member(Role.PAYROLL_ADMIN)


@pytest.fixture
def project(organization):
    return factories.ProjectFactory(organization=organization)


@pytest.fixture
def worker(organization):
    return factories.WorkerFactory(organization=organization)


def make_shift(actor, worker, project, start, hours=8, **fields):
    return services.shift_create(
        actor=actor, worker=worker, project=project, start=start,
        end=start + timedelta(hours=hours), **fields,
    )


def test_created_shift_has_work_date_paid_time_version_and_author(payroll, worker, project):
    shift = make_shift(payroll, worker, project, datetime(2026, 6, 3, 11, tzinfo=UTC), hours=8.5,
                       break_minutes=30)
    assert shift.work_date == date(2026, 6, 3)
    assert str(shift.paid_hours) == "8.00"
    assert shift.version == 1
    assert shift.created_by == payroll.user
    assert shift.approval_state == ApprovalState.PENDING


def test_every_edit_moves_the_version_and_is_in_history_with_its_author(payroll, worker, project):
    shift = make_shift(payroll, worker, project, datetime(2026, 6, 3, 11, tzinfo=UTC))
    shift = services.shift_update(actor=payroll, shift=shift, notes="rain delay")
    shift = services.shift_update(actor=payroll, shift=shift, break_minutes=45)
    assert shift.version == 3
    history = selectors.shift_history(shift=shift)
    assert [entry.kind for entry in history] == ["changed", "changed", "created"]
    assert history[0].who == payroll.user.get_full_name()
    change = next(c for c in history[0].changes if c.field == "break_minutes")
    assert (change.before, change.after) == ("0", "45")


def test_an_edit_that_changes_nothing_keeps_the_version(payroll, worker, project):
    shift = make_shift(payroll, worker, project, datetime(2026, 6, 3, 11, tzinfo=UTC))
    assert services.shift_update(actor=payroll, shift=shift, notes="").version == 1


def test_deleted_shift_is_kept_but_no_longer_listed(payroll, worker, project):
    shift = make_shift(payroll, worker, project, datetime(2026, 6, 3, 11, tzinfo=UTC))
    services.shift_delete(actor=payroll, shift=shift)
    stored = Shift.objects.get(pk=shift.pk)
    assert stored.deleted_at is not None
    assert stored.deleted_by == payroll.user
    assert stored.version == 2
    assert not selectors.shift_list(membership=payroll).filter(pk=shift.pk).exists()


def test_a_deleted_shift_cannot_be_edited(payroll, worker, project):
    shift = make_shift(payroll, worker, project, datetime(2026, 6, 3, 11, tzinfo=UTC))
    services.shift_delete(actor=payroll, shift=shift)
    with pytest.raises(ValidationError, match="deleted"):
        services.shift_update(actor=payroll, shift=shift, notes="late edit")


def test_a_deleted_shift_frees_its_time_for_another(payroll, worker, project):
    start = datetime(2026, 6, 3, 11, tzinfo=UTC)
    services.shift_delete(actor=payroll, shift=make_shift(payroll, worker, project, start))
    assert make_shift(payroll, worker, project, start).pk


def test_changing_the_project_time_zone_moves_work_dates_and_versions(payroll, worker, project):
    # 02:30 UTC on June 3 is the evening of June 2 in Toronto, June 3 in London.
    shift = make_shift(payroll, worker, project, datetime(2026, 6, 3, 2, 30, tzinfo=UTC))
    assert shift.work_date == date(2026, 6, 2)
    services.project_update(actor=payroll, project=project, time_zone="Europe/London")
    shift.refresh_from_db()
    assert shift.work_date == date(2026, 6, 3)
    assert shift.version == 2


def test_shift_on_another_organizations_worker_is_refused(payroll, project):
    stranger = factories.WorkerFactory()
    with pytest.raises(PermissionDenied):
        make_shift(payroll, stranger, project, datetime(2026, 6, 3, 11, tzinfo=UTC))


def test_a_rejected_shift_does_not_block_its_time_but_cannot_come_back_over_another(
    payroll, worker, project
):
    start = datetime(2026, 6, 3, 11, tzinfo=UTC)
    first = make_shift(payroll, worker, project, start)
    services.shift_decide(actor=payroll, shift=first, approve=False, reason="duplicate")
    make_shift(payroll, worker, project, start)
    with pytest.raises(ValidationError) as error:
        services.shift_decide(actor=payroll, shift=first, approve=True)
    assert "start" in error.value.message_dict


def test_database_allows_one_open_shift_per_worker(organization, worker, project):
    factories.ShiftFactory(organization=organization, worker=worker, project=project, end=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.ShiftFactory(organization=organization, worker=worker, project=project,
                               end=None)


def test_database_refuses_a_shift_ending_before_it_starts(organization, worker, project):
    start = datetime(2026, 6, 3, 11, tzinfo=UTC)
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.ShiftFactory(organization=organization, worker=worker, project=project,
                               start=start, end=start - timedelta(hours=1))


def test_project_manager_can_work_only_on_assigned_projects(member, worker, project, organization):
    manager = member(Role.PROJECT_MANAGER)
    other_project = factories.ProjectFactory(organization=organization)
    manager.assigned_projects.add(project)
    start = datetime(2026, 6, 3, 11, tzinfo=UTC)
    assert make_shift(manager, worker, project, start).pk
    with pytest.raises(PermissionDenied):
        make_shift(manager, worker, other_project, start + timedelta(days=1))


def test_viewer_cannot_create_shifts(member, worker, project):
    with pytest.raises(PermissionDenied):
        make_shift(member(Role.VIEWER), worker, project, datetime(2026, 6, 3, 11, tzinfo=UTC))


def test_rejecting_twice_with_the_same_reason_is_not_a_change(payroll, worker, project):
    shift = make_shift(payroll, worker, project, datetime(2026, 6, 3, 11, tzinfo=UTC))
    shift = services.shift_decide(actor=payroll, shift=shift, approve=False, reason="  no show  ")
    again = services.shift_decide(actor=payroll, shift=shift, approve=False, reason="  no show ")
    assert again.version == shift.version == 2
    assert again.rejection_reason == "no show"
