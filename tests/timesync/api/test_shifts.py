"""Creating and listing shifts: work date and paid hours from the time rules, wall-clock times
read in the project's zone, bad input refused naming the field, and the list filters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

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
from timesync.models import ApprovalState, Shift

pytestmark = pytest.mark.django_db


@pytest.fixture
def body(worker, project):
    """A valid day shift in Toronto: 07:00 to 15:30 with a half-hour break."""
    return {
        "worker": worker.pk,
        "project": project.pk,
        "start": "2026-06-03T07:00:00-04:00",
        "end": "2026-06-03T15:30:00-04:00",
        "break_minutes": 30,
    }


def create(client, organization, body):
    return client.post(url(organization, "shifts/"), body)


# --- Create --------------------------------------------------------------------------------


def test_a_day_shift_gets_its_work_date_and_paid_hours(api, admin, organization, body):
    response = create(api(admin), organization, body)
    assert response.status_code == 201, response.content
    shift = response.json()
    assert shift["work_date"] == "2026-06-03"
    assert hours(shift["paid_hours"]) == Decimal("8.00")
    assert instant(shift["start"]) == local(TORONTO, 2026, 6, 3, 7, 0)
    assert instant(shift["end"]) == local(TORONTO, 2026, 6, 3, 15, 30)


def test_a_new_shift_is_pending_at_version_one(api, admin, organization, body):
    shift = create(api(admin), organization, body).json()
    assert shift["approval_state"] == ApprovalState.PENDING
    assert shift["version"] == 1
    assert shift["decided_by"] is None


def test_a_new_shift_cannot_be_created_approved(api, admin, organization, body):
    body |= {"approval_state": "approved", "version": 7, "work_date": "2026-01-01"}
    shift = create(api(admin), organization, body).json()
    assert (shift["approval_state"], shift["version"], shift["work_date"]) == (
        ApprovalState.PENDING, 1, "2026-06-03")


def test_a_created_shift_names_its_worker_and_project(api, admin, organization, body):
    shift = create(api(admin), organization, body).json()
    assert shift["worker_name"] == "Ana Silva"
    assert shift["project_name"] == "Harbour Tower"


def test_a_created_shift_can_be_retrieved(api, admin, organization, body):
    created = create(api(admin), organization, body).json()
    again = api(admin).get(shift_url(organization, created["id"]))
    assert again.status_code == 200
    assert again.json() == created


def test_cost_code_time_type_and_notes_are_kept(api, admin, organization, body, cost_code):
    body |= {"cost_code": cost_code.pk, "time_type": "overtime", "notes": "Pour level 4"}
    shift = create(api(admin), organization, body).json()
    assert shift["cost_code"] == cost_code.pk
    assert shift["time_type"] == "overtime"
    assert shift["notes"] == "Pour level 4"


def test_overnight_shift_across_the_fall_back_pays_the_real_nine_hours_less_break(
    api, admin, organization, body
):
    # Clocks go back at 02:00 on 2026-11-01: 22:00 to 06:00 lasts nine hours.
    body |= {"start": "2026-10-31T22:00:00-04:00", "end": "2026-11-01T06:00:00-05:00",
             "break_minutes": 30}
    shift = create(api(admin), organization, body).json()
    assert hours(shift["paid_hours"]) == Decimal("8.50")
    assert shift["work_date"] == "2026-10-31"


def test_a_shift_given_in_utc_belongs_to_its_local_start_day(api, admin, organization, body):
    # 02:00 UTC on June 4th is 22:00 on June 3rd in Toronto.
    body |= {"start": "2026-06-04T02:00:00Z", "end": "2026-06-04T10:00:00Z", "break_minutes": 0}
    shift = create(api(admin), organization, body).json()
    assert shift["work_date"] == "2026-06-03"
    assert hours(shift["paid_hours"]) == Decimal("8.00")


def test_wall_clock_times_are_read_in_the_organizations_zone(api, admin, organization, body):
    body |= {"start": "2026-06-03T07:00:00", "end": "2026-06-03T15:30:00"}
    shift = create(api(admin), organization, body).json()
    assert instant(shift["start"]) == datetime(2026, 6, 3, 11, 0, tzinfo=UTC)
    assert instant(shift["end"]) == datetime(2026, 6, 3, 19, 30, tzinfo=UTC)


def test_wall_clock_overnight_shift_across_the_fall_back_pays_nine_hours_less_break(
    api, admin, organization, body
):
    body |= {"start": "2026-10-31T22:00:00", "end": "2026-11-01T06:00:00", "break_minutes": 30}
    shift = create(api(admin), organization, body).json()
    assert hours(shift["paid_hours"]) == Decimal("8.50")
    assert shift["work_date"] == "2026-10-31"


def test_wall_clock_times_are_read_in_the_projects_own_zone(api, admin, organization, worker):
    coast = factories.ProjectFactory(organization=organization, time_zone="America/Vancouver")
    body = {"worker": worker.pk, "project": coast.pk, "start": "2026-06-03T21:00:00",
            "end": "2026-06-04T05:00:00"}
    shift = create(api(admin), organization, body).json()
    assert instant(shift["start"]) == local(VANCOUVER, 2026, 6, 3, 21, 0)
    # Already June 4th in Toronto and in UTC, but the project's day is June 3rd.
    assert shift["work_date"] == "2026-06-03"
    assert hours(shift["paid_hours"]) == Decimal("8.00")


def test_a_wall_clock_start_in_the_spring_forward_gap_is_refused_naming_start(
    api, admin, organization, body
):
    body |= {"start": "2026-03-08T02:30:00", "end": "2026-03-08T10:00:00"}
    assert "start" in errors_of(create(api(admin), organization, body))


def test_a_wall_clock_end_in_the_repeated_fall_back_hour_is_refused_naming_end(
    api, admin, organization, body
):
    body |= {"start": "2026-10-31T18:00:00", "end": "2026-11-01T01:30:00"}
    assert "end" in errors_of(create(api(admin), organization, body))


def test_a_repeated_fall_back_hour_given_with_its_offset_is_accepted(
    api, admin, organization, body
):
    # The second 01:30 (after clocks went back, at -05:00).
    body |= {"start": "2026-10-31T18:00:00-04:00", "end": "2026-11-01T01:30:00-05:00",
             "break_minutes": 0}
    shift = create(api(admin), organization, body).json()
    assert hours(shift["paid_hours"]) == Decimal("8.50")


def test_a_shift_with_a_null_end_is_open_with_no_paid_hours(api, admin, organization, body):
    body |= {"end": None, "break_minutes": 0}
    response = create(api(admin), organization, body)
    assert response.status_code == 201, response.content
    assert response.json()["end"] is None
    assert response.json()["paid_hours"] is None


def test_a_shift_without_an_end_is_open_with_no_paid_hours(api, admin, organization, body):
    del body["end"], body["break_minutes"]
    response = create(api(admin), organization, body)
    assert response.status_code == 201, response.content
    assert response.json()["end"] is None
    assert response.json()["paid_hours"] is None


# --- Refused input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end": "2026-06-03T06:00:00-04:00"}, "end"),
        ({"end": "2026-06-03T07:00:00-04:00"}, "end"),
        ({"break_minutes": 510}, "break_minutes"),
        ({"break_minutes": 600}, "break_minutes"),
        ({"break_minutes": -5}, "break_minutes"),
        ({"end": "2026-06-04T07:30:00-04:00", "break_minutes": 0}, "end"),
        ({"time_type": "holiday"}, "time_type"),
        ({"worker": None}, "worker"),
        ({"worker": 987654321}, "worker"),
        ({"project": None}, "project"),
        ({"cost_code": 987654321}, "cost_code"),
        ({"start": "last tuesday"}, "start"),
        ({"end": "2026-06-03 25:00"}, "end"),
    ],
    ids=["end-before-start", "end-at-start", "break-as-long-as-shift", "break-longer",
         "negative-break", "over-24-hours", "unknown-time-type", "no-worker", "unknown-worker",
         "no-project", "unknown-cost-code", "start-not-a-time", "end-not-a-time"],
)
def test_bad_input_is_refused_naming_the_field(api, admin, organization, body, change, field):
    body |= change
    body = {key: value for key, value in body.items() if value is not None}
    assert field in errors_of(create(api(admin), organization, body))
    assert not Shift.objects.exists()


@pytest.mark.parametrize("field", ["worker", "project", "start"])
def test_a_missing_required_field_is_refused_naming_it(api, admin, organization, body, field):
    del body[field]
    assert field in errors_of(create(api(admin), organization, body))


@pytest.mark.parametrize(
    ("field", "factory"),
    [
        ("worker", factories.WorkerFactory),
        ("project", factories.ProjectFactory),
        ("cost_code", factories.CostCodeFactory),
    ],
)
def test_another_tenants_id_in_the_body_is_refused_naming_the_field(
    api, admin, organization, other_organization, body, field, factory
):
    body[field] = factory(organization=other_organization).pk
    assert field in errors_of(create(api(admin), organization, body))
    assert not Shift.objects.exists()


def test_a_shift_overlapping_the_same_workers_shift_is_refused_naming_start(
    api, admin, organization, body, worker
):
    other_site = factories.ProjectFactory(organization=organization)
    factories.ShiftFactory(organization=organization, worker=worker, project=other_site,
                           start=local(TORONTO, 2026, 6, 3, 12, 0))
    assert "start" in errors_of(create(api(admin), organization, body))
    assert Shift.objects.count() == 1


def test_a_shift_overlapping_an_open_shift_of_the_worker_is_refused_naming_start(
    api, admin, organization, body, worker, project
):
    factories.ShiftFactory(organization=organization, worker=worker, project=project,
                           start=local(TORONTO, 2026, 6, 3, 6, 0), end=None)
    assert "start" in errors_of(create(api(admin), organization, body))


def test_a_shift_starting_when_the_last_one_ended_is_accepted(
    api, admin, organization, body, worker, project
):
    factories.ShiftFactory(organization=organization, worker=worker, project=project,
                           start=local(TORONTO, 2026, 6, 3, 3, 0),
                           end=local(TORONTO, 2026, 6, 3, 7, 0))
    assert create(api(admin), organization, body).status_code == 201


def test_another_worker_at_the_same_time_is_accepted(api, admin, organization, body, project):
    factories.ShiftFactory(organization=organization, project=project,
                           start=local(TORONTO, 2026, 6, 3, 7, 0))
    assert create(api(admin), organization, body).status_code == 201


def test_a_rejected_shift_does_not_block_its_time(api, admin, organization, body, worker,
                                                  project):
    factories.ShiftFactory(organization=organization, worker=worker, project=project,
                           start=local(TORONTO, 2026, 6, 3, 7, 0),
                           approval_state=ApprovalState.REJECTED)
    assert create(api(admin), organization, body).status_code == 201


# --- List and filters ----------------------------------------------------------------------


@pytest.fixture
def june(organization, project, worker):
    """Shifts on June 1st, 2nd and 3rd (the 2nd on another project, the 3rd approved)."""
    other_site = factories.ProjectFactory(organization=organization)
    other_worker = factories.WorkerFactory(organization=organization)

    def on(day, **fields):
        fields = {"project": project, "worker": worker} | fields
        return factories.ShiftFactory(organization=organization,
                                      start=local(TORONTO, 2026, 6, day, 7, 0), **fields)

    return {
        1: on(1),
        2: on(2, project=other_site, worker=other_worker),
        3: on(3, approval_state=ApprovalState.APPROVED),
    }


def listed(client, organization, **params):
    return ids(client.get(url(organization, "shifts/"), params))


def test_list_shows_the_organizations_shifts_in_start_order(api, admin, organization, june,
                                                            other_organization):
    factories.ShiftFactory(organization=other_organization)
    assert listed(api(admin), organization) == [june[1].pk, june[2].pk, june[3].pk]


def test_list_is_paginated_with_count_and_results(api, admin, organization, june):
    body = api(admin).get(url(organization, "shifts/"), {"limit": 2, "offset": 1}).json()
    assert body["count"] == 3
    assert [row["id"] for row in body["results"]] == [june[2].pk, june[3].pk]


def test_list_filters_by_project(api, admin, organization, june, project):
    assert listed(api(admin), organization, project=project.pk) == [june[1].pk, june[3].pk]


def test_list_filters_by_worker(api, admin, organization, june):
    assert listed(api(admin), organization, worker=june[2].worker_id) == [june[2].pk]


def test_list_filters_by_work_date(api, admin, organization, june):
    assert listed(api(admin), organization, work_date="2026-06-02") == [june[2].pk]


def test_list_filters_by_an_inclusive_date_range(api, admin, organization, june):
    chosen = listed(api(admin), organization, date_from="2026-06-02", date_to="2026-06-03")
    assert chosen == [june[2].pk, june[3].pk]


def test_list_filters_by_approval_state(api, admin, organization, june):
    assert listed(api(admin), organization, approval_state="approved") == [june[3].pk]


def test_list_filters_by_the_local_work_date_not_the_utc_date(api, admin, organization,
                                                              project):
    late = factories.ShiftFactory(organization=organization, project=project,
                                  start=local(TORONTO, 2026, 6, 3, 22, 0))
    assert listed(api(admin), organization, work_date="2026-06-03") == [late.pk]
    assert listed(api(admin), organization, work_date="2026-06-04") == []


@pytest.mark.parametrize("field", ["work_date", "date_from", "date_to"])
@pytest.mark.parametrize("value", ["2026-13-01", "yesterday"])
def test_a_bad_date_filter_is_refused_naming_it(api, admin, organization, field, value):
    response = api(admin).get(url(organization, "shifts/"), {field: value})
    assert field in errors_of(response)


def test_date_from_after_date_to_is_refused_naming_date_to(api, admin, organization):
    response = api(admin).get(url(organization, "shifts/"),
                              {"date_from": "2026-06-05", "date_to": "2026-06-01"})
    assert "date_to" in errors_of(response)


@pytest.mark.parametrize(("field", "value"), [("approval_state", "maybe"), ("project", "abc"),
                                              ("worker", "-1")])
def test_a_bad_filter_value_is_refused_naming_it(api, admin, organization, field, value):
    response = api(admin).get(url(organization, "shifts/"), {field: value})
    assert field in errors_of(response)


def test_a_single_day_range_is_fine(api, admin, organization, june):
    day = date(2026, 6, 2).isoformat()
    assert listed(api(admin), organization, date_from=day, date_to=day) == [june[2].pk]


def test_another_tenants_shift_is_not_found(api, admin, organization, other_organization):
    theirs = factories.ShiftFactory(organization=other_organization)
    assert api(admin).get(shift_url(organization, theirs.pk)).status_code == 404


def test_paid_hours_round_to_the_hundredth(api, admin, organization, body):
    start = local(TORONTO, 2026, 6, 3, 7, 0)
    body |= {"start": start.isoformat(),
             "end": (start + timedelta(hours=7, minutes=20)).isoformat(), "break_minutes": 0}
    assert hours(create(api(admin), organization, body).json()["paid_hours"]) == Decimal("7.33")
