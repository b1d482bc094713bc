"""Punching in and out from a field device: an open shift, then closed with its break."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests import factories
from tests.timesync.api.helpers import (
    TORONTO,
    VANCOUVER,
    errors_of,
    hours,
    instant,
    local,
    shift_url,
    url,
)
from timesync.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def device(api, member):
    """A field device signed in as a payroll admin's account."""
    return api(member(Role.PAYROLL_ADMIN))


def punch_in(client, organization, **body):
    return client.post(url(organization, "shifts/punch-in/"), body)


def punch_out(client, organization, **body):
    return client.post(url(organization, "shifts/punch-out/"), body)


def test_punching_in_opens_a_shift_with_no_end_and_no_paid_hours(
    device, organization, worker, project
):
    response = punch_in(device, organization, worker=worker.pk, project=project.pk,
                        at="2026-06-03T07:00:00-04:00")
    assert response.status_code == 201, response.content
    shift = response.json()
    assert instant(shift["start"]) == local(TORONTO, 2026, 6, 3, 7, 0)
    assert (shift["end"], shift["paid_hours"]) == (None, None)
    assert shift["work_date"] == "2026-06-03"
    assert device.get(shift_url(organization, shift["id"])).status_code == 200


def test_punching_in_without_a_time_starts_now(device, organization, worker, project):
    response = punch_in(device, organization, worker=worker.pk, project=project.pk)
    assert response.status_code == 201, response.content
    assert abs(instant(response.json()["start"]) - timezone.now()) < timedelta(minutes=1)


def test_punching_in_keeps_cost_code_time_type_and_notes(device, organization, worker,
                                                         project, cost_code):
    shift = punch_in(device, organization, worker=worker.pk, project=project.pk,
                     cost_code=cost_code.pk, time_type="overtime", notes="Night pour",
                     at="2026-06-03T19:00:00-04:00").json()
    assert (shift["cost_code"], shift["time_type"], shift["notes"]) == (
        cost_code.pk, "overtime", "Night pour")


def test_punching_in_twice_is_refused_naming_worker(device, organization, worker, project):
    punch_in(device, organization, worker=worker.pk, project=project.pk,
             at="2026-06-03T07:00:00-04:00")
    again = punch_in(device, organization, worker=worker.pk, project=project.pk,
                     at="2026-06-03T07:05:00-04:00")
    assert "worker" in errors_of(again)


def test_punching_out_closes_the_shift_with_its_break_and_paid_hours(
    device, organization, worker, project
):
    opened = punch_in(device, organization, worker=worker.pk, project=project.pk,
                      at="2026-06-03T07:00:00-04:00").json()
    response = punch_out(device, organization, worker=worker.pk,
                         at="2026-06-03T15:30:00-04:00", break_minutes=30)
    assert response.status_code == 200, response.content
    closed = response.json()
    assert closed["id"] == opened["id"]
    assert instant(closed["end"]) == local(TORONTO, 2026, 6, 3, 15, 30)
    assert closed["break_minutes"] == 30
    assert hours(closed["paid_hours"]) == Decimal("8.00")
    assert closed["version"] == opened["version"] + 1


def test_punching_out_across_the_fall_back_pays_real_time(device, organization, worker,
                                                         project):
    punch_in(device, organization, worker=worker.pk, project=project.pk,
             at="2026-10-31T22:00:00-04:00")
    closed = punch_out(device, organization, worker=worker.pk,
                       at="2026-11-01T06:00:00-05:00", break_minutes=30).json()
    assert hours(closed["paid_hours"]) == Decimal("8.50")
    assert closed["work_date"] == "2026-10-31"


def test_punching_out_without_a_time_ends_now(device, organization, worker, project):
    start = timezone.now() - timedelta(hours=4)
    punch_in(device, organization, worker=worker.pk, project=project.pk, at=start.isoformat())
    closed = punch_out(device, organization, worker=worker.pk).json()
    assert abs(instant(closed["end"]) - timezone.now()) < timedelta(minutes=1)
    assert hours(closed["paid_hours"]) == Decimal("4.00")


def test_punching_out_when_not_punched_in_is_refused_naming_worker(device, organization,
                                                                   worker):
    assert "worker" in errors_of(punch_out(device, organization, worker=worker.pk))


def test_punching_out_before_the_punch_in_is_refused_naming_end(device, organization, worker,
                                                               project):
    punch_in(device, organization, worker=worker.pk, project=project.pk,
             at="2026-06-03T07:00:00-04:00")
    response = punch_out(device, organization, worker=worker.pk, at="2026-06-03T06:00:00-04:00")
    assert "end" in errors_of(response)


def test_punching_out_with_a_break_as_long_as_the_shift_is_refused_naming_break_minutes(
    device, organization, worker, project
):
    punch_in(device, organization, worker=worker.pk, project=project.pk,
             at="2026-06-03T07:00:00-04:00")
    response = punch_out(device, organization, worker=worker.pk,
                         at="2026-06-03T07:20:00-04:00", break_minutes=30)
    assert "break_minutes" in errors_of(response)


def test_a_refused_punch_out_leaves_the_worker_punched_in(device, organization, worker,
                                                          project):
    opened = punch_in(device, organization, worker=worker.pk, project=project.pk,
                      at="2026-06-03T07:00:00-04:00").json()
    punch_out(device, organization, worker=worker.pk, at="2026-06-03T06:00:00-04:00")
    assert device.get(shift_url(organization, opened["id"])).json()["end"] is None


def test_after_punching_out_the_worker_can_punch_in_again(device, organization, worker,
                                                          project):
    punch_in(device, organization, worker=worker.pk, project=project.pk,
             at="2026-06-03T07:00:00-04:00")
    punch_out(device, organization, worker=worker.pk, at="2026-06-03T11:00:00-04:00")
    again = punch_in(device, organization, worker=worker.pk, project=project.pk,
                     at="2026-06-03T11:30:00-04:00")
    assert again.status_code == 201, again.content


def test_punching_in_during_a_recorded_shift_is_refused_naming_start(
    device, organization, worker, project
):
    factories.ShiftFactory(organization=organization, worker=worker, project=project,
                           start=local(TORONTO, 2026, 6, 3, 7, 0))
    response = punch_in(device, organization, worker=worker.pk, project=project.pk,
                        at="2026-06-03T09:00:00-04:00")
    assert "start" in errors_of(response)


@pytest.mark.parametrize(
    ("field", "factory"),
    [("worker", factories.WorkerFactory), ("project", factories.ProjectFactory),
     ("cost_code", factories.CostCodeFactory)],
)
def test_punching_in_with_another_tenants_id_is_refused_naming_the_field(
    device, organization, other_organization, worker, project, field, factory
):
    body = {"worker": worker.pk, "project": project.pk,
            field: factory(organization=other_organization).pk}
    assert field in errors_of(punch_in(device, organization, **body))


def test_punching_out_another_tenants_worker_is_refused_naming_worker(
    device, organization, other_organization
):
    theirs = factories.ShiftFactory(organization=other_organization, end=None)
    response = punch_out(device, organization, worker=theirs.worker_id)
    assert "worker" in errors_of(response)
    theirs.refresh_from_db()
    assert theirs.end is None


def test_punching_in_with_an_unknown_time_type_is_refused_naming_time_type(
    device, organization, worker, project
):
    response = punch_in(device, organization, worker=worker.pk, project=project.pk,
                        time_type="holiday")
    assert "time_type" in errors_of(response)


def test_a_wall_clock_punch_in_is_read_in_the_projects_zone(device, organization, worker):
    coast = factories.ProjectFactory(organization=organization, time_zone="America/Vancouver")
    shift = punch_in(device, organization, worker=worker.pk, project=coast.pk,
                     at="2026-06-03T07:00:00").json()
    assert instant(shift["start"]) == local(VANCOUVER, 2026, 6, 3, 7, 0)


def test_a_wall_clock_punch_out_is_read_in_the_projects_zone(device, organization, worker,
                                                             project):
    punch_in(device, organization, worker=worker.pk, project=project.pk,
             at="2026-06-03T07:00:00-04:00")
    closed = punch_out(device, organization, worker=worker.pk, at="2026-06-03T15:00:00").json()
    assert instant(closed["end"]) == local(TORONTO, 2026, 6, 3, 15, 0)
    assert hours(closed["paid_hours"]) == Decimal("8.00")


def test_a_wall_clock_punch_in_during_the_repeated_fall_back_hour_is_refused_naming_at(
    device, organization, worker, project
):
    response = punch_in(device, organization, worker=worker.pk, project=project.pk,
                        at="2026-11-01T01:30:00")
    assert "at" in errors_of(response)
