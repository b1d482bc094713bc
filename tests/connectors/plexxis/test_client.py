"""PlexxisConnector against the emulator: what a client of Plexxis observes."""

from __future__ import annotations

import socket
import time
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from connectors.base import (
    PermanentError,
    RejectedEntry,
    RemoteNotFound,
    TimecardEntry,
    TransientError,
)
from connectors.plexxis.client import PlexxisConnector
from connectors.plexxis.emulator import PlexxisEmulator
from tests.connectors.plexxis.fixtures import EMPLOYEES, EMULATOR_ALLOWED, PLEXXIS_API_KEY

DAY = date(2025, 3, 10)


def make_entry(**overrides: Any) -> TimecardEntry:
    values: dict[str, Any] = {
        "idempotency_key": "timesync-1-1-1-1", "worker_remote_id": "1001",
        "project_remote_id": "24-101", "cost_code_remote_id": "03.100", "work_date": DAY,
        "hours": Decimal("8"), "time_type": "regular", "notes": "Formwork, level 3",
    }
    return TimecardEntry(**{**values, **overrides})


def post(emulator: PlexxisEmulator, **overrides: Any) -> dict[str, Any]:
    """An entry written by someone else, straight into the emulator."""
    entry = {"employee_code": "1002", "job_number": "24-101", "work_date": DAY.isoformat(),
             "hours": "4.00", "hour_type": "Regular", **overrides}
    emulator.seed(entries=[entry])
    return emulator.entries()[-1]


# --- Settings -------------------------------------------------------------------------------


def test_test_connection_passes_with_the_right_key(plexxis, plexxis_emulator):
    plexxis.test_connection()

    assert plexxis_emulator.request_log()[-1].query == {"page_size": "1"}


def test_test_connection_with_a_wrong_key_says_the_api_key_was_refused(plexxis_emulator):
    connector = PlexxisConnector(plexxis_emulator.base_url, "not-the-key", policy=EMULATOR_ALLOWED)

    with pytest.raises(PermanentError, match="refused the API key"):
        connector.test_connection()


def test_test_connection_to_an_address_without_the_api_says_to_check_it(plexxis_emulator):
    connector = PlexxisConnector(plexxis_emulator.url, PLEXXIS_API_KEY, policy=EMULATOR_ALLOWED)

    with pytest.raises(PermanentError, match="no Plexxis API at"):
        connector.test_connection()


def test_wrong_api_key_on_any_call_is_a_permanent_error_about_the_key(plexxis_emulator):
    connector = PlexxisConnector(plexxis_emulator.base_url, "not-the-key", policy=EMULATOR_ALLOWED)

    with pytest.raises(PermanentError, match="API key"):
        connector.list_workers()


# --- Reference data -------------------------------------------------------------------------


def test_list_workers_follows_pagination_across_pages(plexxis, plexxis_emulator):
    plexxis_emulator.seed(employees=[{"code": str(2000 + n)} for n in range(250)])

    workers = plexxis.list_workers()

    assert len(workers) == 253
    assert len({worker.remote_id for worker in workers}) == 253
    assert plexxis_emulator.request_count("GET", "/employees") == 3


def test_list_workers_maps_code_name_email_and_active(plexxis):
    workers = {worker.remote_id: worker for worker in plexxis.list_workers()}

    assert workers["1001"].name == "Aaron Abbott"
    assert workers["1001"].employee_number == "1001"
    assert workers["1001"].email == EMPLOYEES[0]["email"]
    assert workers["1003"].active is False


def test_list_projects_offers_each_job_and_each_sub_job(plexxis):
    projects = {project.remote_id: project.name for project in plexxis.list_projects()}

    assert projects == {
        "24-101": "King Street Condominiums, Tower A",
        "24-101/01": "King Street Condominiums, Tower A / Podium",
        "24-101/02": "King Street Condominiums, Tower A / Tower",
        "24-102": "Etobicoke Transit Maintenance Facility",
    }


def test_list_cost_codes_gives_code_and_description(plexxis):
    cost_codes = plexxis.list_cost_codes()

    assert [(code.remote_id, code.name) for code in cost_codes] == [
        ("01.100", "General Conditions"),
        ("03.100", "Concrete Formwork"),
        ("03.200", "Concrete Reinforcing"),
    ]


# --- Writes ---------------------------------------------------------------------------------


def test_create_entry_stores_it_in_plexxis(plexxis, plexxis_emulator):
    created = plexxis.create_entry(make_entry(project_remote_id="24-101/01"))

    [stored] = plexxis_emulator.entries()
    assert stored["id"] == created.remote_id
    assert {key: stored[key] for key in (
        "employee_code", "job_number", "sub_job_code", "cost_code", "work_date", "hours",
        "hour_type", "external_reference", "notes",
    )} == {
        "employee_code": "1001", "job_number": "24-101", "sub_job_code": "01",
        "cost_code": "03.100", "work_date": "2025-03-10", "hours": "8.00",
        "hour_type": "Regular", "external_reference": "timesync-1-1-1-1",
        "notes": "Formwork, level 3",
    }
    assert created.project_remote_id == "24-101/01"
    assert created.hours == Decimal("8.00")


def test_update_entry_changes_the_stored_entry(plexxis, plexxis_emulator):
    created = plexxis.create_entry(make_entry())

    updated = plexxis.update_entry(
        created.remote_id, make_entry(hours=Decimal("2.5"), time_type="overtime")
    )

    [stored] = plexxis_emulator.entries()
    assert (stored["hours"], stored["hour_type"]) == ("2.50", "Overtime")
    assert updated.remote_id == created.remote_id
    assert updated.extra["time_type"] == "overtime"


def test_delete_entry_removes_it(plexxis, plexxis_emulator):
    created = plexxis.create_entry(make_entry())

    plexxis.delete_entry(created.remote_id)

    assert plexxis_emulator.entries() == []


def test_delete_of_a_missing_entry_raises_remote_not_found(plexxis):
    with pytest.raises(RemoteNotFound, match="TE-999999"):
        plexxis.delete_entry("TE-999999")


def test_update_of_a_missing_entry_raises_remote_not_found(plexxis):
    with pytest.raises(RemoteNotFound):
        plexxis.update_entry("TE-999999", make_entry())


def test_unknown_employee_is_a_rejected_entry_with_plexxis_own_message(plexxis):
    with pytest.raises(RejectedEntry) as caught:
        plexxis.create_entry(make_entry(worker_remote_id="1234"))

    assert str(caught.value) == "Plexxis refused the timecard entry: Unknown employee code 1234"
    assert isinstance(caught.value, PermanentError)


def test_refused_update_is_a_rejected_entry_and_leaves_the_entry_as_it_was(
    plexxis, plexxis_emulator
):
    created = plexxis.create_entry(make_entry())

    with pytest.raises(RejectedEntry, match=r"Unknown cost code 99\.999"):
        plexxis.update_entry(created.remote_id, make_entry(cost_code_remote_id="99.999"))

    assert plexxis_emulator.entries()[0]["cost_code"] == "03.100"


# --- Reading entries back -------------------------------------------------------------------


def test_find_entry_returns_the_entry_with_that_external_reference(plexxis, plexxis_emulator):
    # A search for "...-1" also matches "...-10" on Plexxis; only the exact key is ours.
    post(plexxis_emulator, external_reference="timesync-1-1-1-10")
    created = plexxis.create_entry(make_entry(idempotency_key="timesync-1-1-1-1"))

    found = plexxis.find_entry(
        idempotency_key="timesync-1-1-1-1", project_remote_id="24-101", work_date=DAY
    )

    assert found is not None
    assert found.remote_id == created.remote_id
    assert found.idempotency_key == "timesync-1-1-1-1"


def test_find_entry_returns_none_when_no_entry_has_the_key(plexxis, plexxis_emulator):
    post(plexxis_emulator, external_reference="someone-else")

    assert plexxis.find_entry(
        idempotency_key="timesync-1-1-1-1", project_remote_id="24-101", work_date=DAY
    ) is None


def test_find_entry_returns_the_oldest_of_duplicates(plexxis, plexxis_emulator):
    first = post(plexxis_emulator, external_reference="timesync-1-1-1-1")
    post(plexxis_emulator, external_reference="timesync-1-1-1-1")

    found = plexxis.find_entry(
        idempotency_key="timesync-1-1-1-1", project_remote_id="24-101", work_date=DAY
    )

    assert found is not None
    assert found.remote_id == first["id"]


def test_find_entry_finds_an_entry_moved_to_another_sub_job(plexxis, plexxis_emulator):
    post(plexxis_emulator, external_reference="timesync-1-1-1-1", sub_job_code="02")

    found = plexxis.find_entry(
        idempotency_key="timesync-1-1-1-1", project_remote_id="24-101/01", work_date=DAY
    )

    assert found is not None
    assert found.project_remote_id == "24-101/02"


def test_list_entries_holds_the_day_s_entries_of_exactly_that_job_or_sub_job(
    plexxis, plexxis_emulator
):
    on_job = post(plexxis_emulator)
    on_sub_job = post(plexxis_emulator, sub_job_code="01")
    post(plexxis_emulator, job_number="24-102")
    post(plexxis_emulator, work_date="2025-03-11")

    job = plexxis.list_entries(project_remote_id="24-101", work_date=DAY)
    sub_job = plexxis.list_entries(project_remote_id="24-101/01", work_date=DAY)

    assert [entry.remote_id for entry in job] == [on_job["id"]]
    assert [entry.remote_id for entry in sub_job] == [on_sub_job["id"]]
    assert job[0].hours == Decimal("4.00")
    assert job[0].idempotency_key is None


# --- Faults ---------------------------------------------------------------------------------


def test_rate_limit_is_a_transient_error_with_the_retry_after(plexxis, plexxis_emulator):
    plexxis_emulator.inject("rate_limit", method="POST", seconds=7)

    with pytest.raises(TransientError) as caught:
        plexxis.create_entry(make_entry())

    assert caught.value.retry_after == pytest.approx(7, abs=1)
    assert plexxis_emulator.entries() == []


def test_server_error_on_a_write_is_a_transient_error_and_writes_nothing(
    plexxis, plexxis_emulator
):
    plexxis_emulator.inject("server_error", method="POST")

    with pytest.raises(TransientError):
        plexxis.create_entry(make_entry())

    assert plexxis_emulator.entries() == []
    assert plexxis_emulator.request_count("POST") == 1  # a write is never retried blindly


def test_server_error_on_a_read_is_retried_and_succeeds(plexxis, plexxis_emulator):
    plexxis_emulator.inject("server_error", method="GET", path_contains="/employees")

    workers = plexxis.list_workers()

    assert len(workers) == 3
    assert [logged.status for logged in plexxis_emulator.request_log()] == [500, 200]


def test_a_read_told_to_come_back_later_is_not_slept_on_inside_the_call(
    plexxis, plexxis_emulator
):
    plexxis_emulator.inject("server_error", method="GET", status=503, retry_after=300)

    with pytest.raises(TransientError) as caught:
        plexxis.list_workers()

    # One request, and the wait handed to the engine: it reschedules the run instead of a
    # worker sleeping five minutes in a socket while its heartbeat goes quiet.
    assert plexxis_emulator.request_count("GET") == 1
    assert caught.value.retry_after == pytest.approx(300, abs=1)


def test_a_rate_limited_write_is_known_not_to_have_been_applied(plexxis, plexxis_emulator):
    plexxis_emulator.inject("rate_limit", method="POST", seconds=1)

    with pytest.raises(TransientError) as caught:
        plexxis.create_entry(make_entry())

    assert caught.value.maybe_applied is False


def test_a_remote_whose_name_cannot_be_found_applied_nothing(monkeypatch):
    def no_such_name(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    nowhere = PlexxisConnector("https://plexxis.example.com/api/v1", "key")

    with pytest.raises(TransientError) as caught:
        nowhere.create_entry(make_entry())

    assert caught.value.maybe_applied is False


def test_a_remote_that_refuses_the_connection_applied_nothing(plexxis_emulator):
    unreachable = PlexxisConnector("http://127.0.0.1:9/api/v1", "key", policy=EMULATOR_ALLOWED)

    with pytest.raises(TransientError) as caught:
        unreachable.create_entry(make_entry())

    assert caught.value.maybe_applied is False


def test_timeout_is_a_transient_error_and_writes_nothing(plexxis, plexxis_emulator):
    plexxis_emulator.inject("timeout", method="POST", seconds=1.5)

    with pytest.raises(TransientError, match="did not answer in time"):
        plexxis.create_entry(make_entry())

    assert plexxis_emulator.entries() == []


def test_lost_response_on_create_is_a_transient_error_though_the_entry_exists(
    plexxis, plexxis_emulator
):
    plexxis_emulator.inject("lose_response", method="POST")

    with pytest.raises(TransientError):
        plexxis.create_entry(make_entry())

    # Written all the same: why the engine looks the key up before creating again.
    [stored] = plexxis_emulator.entries()
    assert stored["external_reference"] == "timesync-1-1-1-1"
    found = plexxis.find_entry(
        idempotency_key="timesync-1-1-1-1", project_remote_id="24-101", work_date=DAY
    )
    assert found is not None
    assert found.remote_id == stored["id"]


def test_latency_slows_a_call_by_at_least_the_injected_delay(plexxis, plexxis_emulator):
    plexxis_emulator.inject("latency", ms=300, path_contains="/cost-codes")

    started = time.monotonic()
    plexxis.list_cost_codes()
    elapsed = time.monotonic() - started

    assert elapsed >= 0.3
