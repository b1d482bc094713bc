"""Between our values and Plexxis JSON: pure functions, no server."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from connectors.base import PermanentError, RemoteCostCode, RemoteProject, TimecardEntry
from connectors.plexxis import mapping


def make_entry(**overrides: Any) -> TimecardEntry:
    values: dict[str, Any] = {
        "idempotency_key": "timesync-1-2-3-1", "worker_remote_id": "1001",
        "project_remote_id": "24-101", "cost_code_remote_id": "03.100",
        "work_date": date(2025, 3, 10), "hours": Decimal("8"), "time_type": "regular",
    }
    return TimecardEntry(**{**values, **overrides})


def plexxis_entry(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "TE-000123", "employee_code": "1001", "job_number": "24-101",
        "sub_job_code": None, "cost_code": "03.100", "work_date": "2025-03-10",
        "hours": "8.00", "hour_type": "Regular", "external_reference": "timesync-1-2-3-1",
        "notes": "", "created_at": "2025-03-10T22:15:03.120Z",
        "updated_at": "2025-03-10T22:15:03.120Z", **overrides,
    }


def test_entry_to_plexxis_writes_every_contract_field():
    assert mapping.entry_to_plexxis(make_entry(notes="Level 3")) == {
        "employee_code": "1001", "job_number": "24-101", "sub_job_code": None,
        "cost_code": "03.100", "work_date": "2025-03-10", "hours": "8.00",
        "hour_type": "Regular", "external_reference": "timesync-1-2-3-1", "notes": "Level 3",
    }


@pytest.mark.parametrize(("time_type", "hour_type"), [
    ("regular", "Regular"), ("overtime", "Overtime"), ("double_time", "Double Time"),
])
def test_time_type_becomes_the_plexxis_hour_type(time_type, hour_type):
    assert mapping.entry_to_plexxis(make_entry(time_type=time_type))["hour_type"] == hour_type


def test_unknown_time_type_is_a_permanent_error():
    with pytest.raises(PermanentError, match="holiday"):
        mapping.entry_to_plexxis(make_entry(time_type="holiday"))


@pytest.mark.parametrize(("hours", "sent"), [
    (Decimal("8"), "8.00"), (Decimal("7.5"), "7.50"), (Decimal("0.25"), "0.25"),
])
def test_hours_travel_as_a_string_with_two_decimals(hours, sent):
    assert mapping.entry_to_plexxis(make_entry(hours=hours))["hours"] == sent


def test_project_with_a_sub_job_splits_into_job_number_and_sub_job_code():
    payload = mapping.entry_to_plexxis(make_entry(project_remote_id="24-101/01"))

    assert (payload["job_number"], payload["sub_job_code"]) == ("24-101", "01")


@pytest.mark.parametrize("project_remote_id", ["", "/01", "24-101/"])
def test_malformed_project_id_is_a_permanent_error(project_remote_id):
    with pytest.raises(PermanentError, match="not a Plexxis job"):
        mapping.entry_to_plexxis(make_entry(project_remote_id=project_remote_id))


def test_missing_cost_code_is_sent_as_null():
    assert mapping.entry_to_plexxis(make_entry(cost_code_remote_id=None))["cost_code"] is None


def test_notes_are_cut_to_what_plexxis_accepts():
    payload = mapping.entry_to_plexxis(make_entry(notes="x" * 600))

    assert payload["notes"] == "x" * mapping.NOTES_MAX_LENGTH


def test_idempotency_key_longer_than_an_external_reference_is_a_permanent_error():
    with pytest.raises(PermanentError, match="64"):
        mapping.entry_to_plexxis(make_entry(idempotency_key="k" * 65))


def test_plexxis_entry_becomes_a_remote_entry():
    remote = mapping.plexxis_to_remote_entry(plexxis_entry(sub_job_code="01", hours="7.5"))

    assert remote.remote_id == "TE-000123"
    assert remote.idempotency_key == "timesync-1-2-3-1"
    assert remote.worker_remote_id == "1001"
    assert remote.project_remote_id == "24-101/01"
    assert remote.work_date == date(2025, 3, 10)
    assert remote.hours == Decimal("7.50")
    assert remote.extra["time_type"] == "regular"
    assert remote.extra["cost_code_remote_id"] == "03.100"


def test_entry_without_external_reference_has_no_idempotency_key():
    remote = mapping.plexxis_to_remote_entry(plexxis_entry(external_reference=""))

    assert remote.idempotency_key is None


def test_unreadable_plexxis_entry_is_a_permanent_error():
    broken = plexxis_entry()
    del broken["id"]

    with pytest.raises(PermanentError, match="cannot read"):
        mapping.plexxis_to_remote_entry(broken)


def test_written_entry_reads_back_as_the_same_project_worker_day_and_hours():
    entry = make_entry(project_remote_id="24-101/02", hours=Decimal("9.75"))
    written = {"id": "TE-000001", **mapping.entry_to_plexxis(entry)}

    remote = mapping.plexxis_to_remote_entry(written)

    assert (remote.project_remote_id, remote.worker_remote_id, remote.work_date,
            remote.hours, remote.idempotency_key) == (
        entry.project_remote_id, entry.worker_remote_id, entry.work_date, entry.hours,
        entry.idempotency_key,
    )


def test_employee_becomes_a_worker_keyed_by_its_code():
    worker = mapping.plexxis_to_remote_worker({
        "code": "1001", "first_name": "Aaron", "last_name": "Abbott",
        "email": "aaron@example.com", "phone": "", "active": False,
    })

    assert (worker.remote_id, worker.employee_number, worker.name, worker.email,
            worker.active) == ("1001", "1001", "Aaron Abbott", "aaron@example.com", False)


def test_employee_without_a_name_is_named_by_its_code():
    assert mapping.plexxis_to_remote_worker({"code": "1001"}).name == "1001"


def test_employee_without_a_code_is_a_permanent_error():
    with pytest.raises(PermanentError, match="code"):
        mapping.plexxis_to_remote_worker({"first_name": "Aaron"})


def test_job_becomes_a_project_keyed_by_its_number():
    project = mapping.plexxis_to_remote_project({"job_number": "24-101", "name": "Tower A"})

    assert project == RemoteProject(remote_id="24-101", name="Tower A", number="24-101")


def test_job_with_sub_jobs_becomes_one_project_each():
    projects = mapping.plexxis_job_to_remote_projects({
        "job_number": "24-101", "name": "Tower A",
        "sub_jobs": [{"code": "01", "name": "Podium"}],
    })

    assert projects == [
        RemoteProject(remote_id="24-101", name="Tower A", number="24-101"),
        RemoteProject(remote_id="24-101/01", name="Tower A / Podium", number="24-101/01"),
    ]


def test_cost_code_keeps_its_code_and_description():
    cost_code = mapping.plexxis_to_remote_cost_code({
        "code": "03.100", "subsection": "03", "activity_code": "100",
        "description": "Concrete Formwork",
    })

    assert cost_code == RemoteCostCode(remote_id="03.100", code="03.100",
                                       name="Concrete Formwork")
