"""The Plexxis emulator over plain HTTP: its contract, its control API, its faults."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.plexxis.emulator import PlexxisEmulator
from tests.connectors.plexxis.fixtures import PLEXXIS_API_KEY

REPOSITORY = Path(__file__).resolve().parents[3]
ENTRY = {
    "employee_code": "1001", "job_number": "24-101", "sub_job_code": None,
    "cost_code": "03.100", "work_date": "2025-03-10", "hours": "8.00", "hour_type": "Regular",
    "external_reference": "timesync-1-1-1-1", "notes": "",
}


def api(emulator: PlexxisEmulator, method: str, path: str, *, key: str | None = PLEXXIS_API_KEY,
        **kwargs: Any) -> requests.Response:
    headers = {"X-API-Key": key} if key else {}
    return requests.request(method, emulator.base_url + path, timeout=5,
                            headers={**headers, **kwargs.pop("headers", {})}, **kwargs)


def control(emulator: PlexxisEmulator, method: str, action: str, **kwargs: Any
            ) -> requests.Response:
    return requests.request(method, f"{emulator.url}/_emulator{action}", timeout=5, **kwargs)


# --- The contract ---------------------------------------------------------------------------


def test_missing_api_key_answers_401(plexxis_emulator):
    response = api(plexxis_emulator, "GET", "/employees", key=None)

    assert response.status_code == 401
    assert "error" in response.json()


def test_every_response_carries_the_rate_limit_headers(plexxis_emulator):
    for response in (api(plexxis_emulator, "GET", "/jobs"),
                     api(plexxis_emulator, "GET", "/jobs", key="wrong")):
        assert response.headers["X-Rate-Limit-Limit"] == "600"
        assert int(response.headers["X-Rate-Limit-Remaining"]) < 600
        assert int(response.headers["X-Rate-Limit-Reset"]) > time.time()


def test_requests_over_the_rate_limit_answer_429_with_retry_after(plexxis_emulator):
    plexxis_emulator.rate_limit = 2

    statuses = [api(plexxis_emulator, "GET", "/jobs") for _ in range(3)]

    assert [response.status_code for response in statuses] == [200, 200, 429]
    assert [response.headers["X-Rate-Limit-Remaining"] for response in statuses] == ["1", "0",
                                                                                     "0"]
    assert 1 <= int(statuses[2].headers["Retry-After"]) <= 10


def test_a_list_ends_with_next_page_null(plexxis_emulator):
    first = api(plexxis_emulator, "GET", "/employees", params={"page_size": 2}).json()
    last = api(plexxis_emulator, "GET", "/employees",
               params={"page": first["next_page"], "page_size": 2}).json()

    assert [row["code"] for row in first["results"]] == ["1001", "1002"]
    assert first["next_page"] == 2
    assert [row["code"] for row in last["results"]] == ["1003"]
    assert last["next_page"] is None


def test_an_oversized_page_size_is_capped(plexxis_emulator):
    plexxis_emulator.seed(employees=[{"code": str(2000 + n)} for n in range(150)])

    page = api(plexxis_emulator, "GET", "/employees", params={"page_size": 1000}).json()

    assert len(page["results"]) == 100
    assert page["next_page"] == 2


def test_create_answers_201_with_the_entry_and_its_id(plexxis_emulator):
    response = api(plexxis_emulator, "POST", "/timecard-entries", json=ENTRY)

    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("TE-")
    assert body["created_at"] == body["updated_at"]
    assert {key: body[key] for key in ENTRY} == ENTRY


def test_the_same_external_reference_can_be_posted_twice(plexxis_emulator):
    first = api(plexxis_emulator, "POST", "/timecard-entries", json=ENTRY)
    second = api(plexxis_emulator, "POST", "/timecard-entries", json=ENTRY)

    assert (first.status_code, second.status_code) == (201, 201)
    assert len(plexxis_emulator.entries()) == 2


def test_a_sub_job_cost_code_is_accepted(plexxis_emulator):
    entry = {**ENTRY, "cost_code": "01.03.100"}

    assert api(plexxis_emulator, "POST", "/timecard-entries", json=entry).status_code == 201


@pytest.mark.parametrize(("change", "message"), [
    ({"employee_code": "1234"}, "Unknown employee code 1234"),
    ({"employee_code": None}, "employee_code is required"),
    ({"job_number": "99-999"}, "Unknown job number 99-999"),
    ({"sub_job_code": "07"}, "Unknown sub job 07 on job 24-101"),
    ({"cost_code": "99.999"}, "Unknown cost code 99.999"),
    ({"cost_code": "07.03.100"}, "Unknown cost code 07.03.100"),
    ({"hours": 8}, "Invalid hours 8"),
    ({"hours": "0.00"}, "Invalid hours 0.00"),
    ({"hours": "24.50"}, "Invalid hours 24.50"),
    ({"hours": "7.125"}, "Invalid hours '7.125'"),
    ({"hour_type": "Holiday"}, "Unknown hour type 'Holiday'"),
    ({"work_date": "2025-02-30"}, "Invalid work_date '2025-02-30'"),
    ({"work_date": "10/03/2025"}, "Invalid work_date '10/03/2025'"),
    ({"external_reference": "k" * 65}, "external_reference is longer than 64"),
    ({"notes": "n" * 501}, "notes are longer than 500"),
])
def test_an_invalid_entry_answers_422_with_the_reason(plexxis_emulator, change, message):
    response = api(plexxis_emulator, "POST", "/timecard-entries", json={**ENTRY, **change})

    assert response.status_code == 422
    assert response.json()["error"].startswith(message)
    assert plexxis_emulator.entries() == []


def test_patch_changes_only_the_fields_it_sends(plexxis_emulator):
    created = api(plexxis_emulator, "POST", "/timecard-entries", json=ENTRY).json()

    response = api(plexxis_emulator, "PATCH", f"/timecard-entries/{created['id']}",
                   json={"hours": "6.50"})

    assert response.status_code == 200
    assert response.json() == {**created, "hours": "6.50",
                               "updated_at": response.json()["updated_at"]}


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_an_unknown_entry_id_answers_404(plexxis_emulator, method):
    response = api(plexxis_emulator, method, "/timecard-entries/TE-999999", json={})

    assert response.status_code == 404
    assert "TE-999999" in response.json()["error"]


def test_delete_answers_204_then_404(plexxis_emulator):
    created = api(plexxis_emulator, "POST", "/timecard-entries", json=ENTRY).json()
    path = f"/timecard-entries/{created['id']}"

    assert api(plexxis_emulator, "DELETE", path).status_code == 204
    assert api(plexxis_emulator, "DELETE", path).status_code == 404


def test_entry_search_by_external_reference_matches_contained_text_in_any_case(
    plexxis_emulator
):
    for reference in ("timesync-1-1-1-1", "TIMESYNC-1-1-1-10", "other"):
        api(plexxis_emulator, "POST", "/timecard-entries",
            json={**ENTRY, "external_reference": reference})

    found = api(plexxis_emulator, "GET", "/timecard-entries", params={
        "job_number": "24-101", "work_date": "2025-03-10",
        "external_reference": "timesync-1-1-1-1",
    }).json()["results"]

    assert [row["external_reference"] for row in found] == ["timesync-1-1-1-1",
                                                            "TIMESYNC-1-1-1-10"]


@pytest.mark.parametrize("params", [{"job_number": "24-101"}, {"work_date": "2025-03-10"}])
def test_listing_entries_needs_a_job_number_and_a_work_date(plexxis_emulator, params):
    assert api(plexxis_emulator, "GET", "/timecard-entries", params=params).status_code == 422


def test_malformed_json_answers_400_and_the_emulator_keeps_serving(plexxis_emulator):
    response = api(plexxis_emulator, "POST", "/timecard-entries", data=b'{"hours": ',
                   headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json()["error"].startswith("Malformed JSON")
    assert api(plexxis_emulator, "GET", "/jobs").status_code == 200


def test_a_body_that_is_not_an_object_answers_400(plexxis_emulator):
    response = api(plexxis_emulator, "POST", "/timecard-entries", json=[ENTRY])

    assert response.status_code == 400


def test_a_method_the_path_does_not_take_answers_405(plexxis_emulator):
    assert api(plexxis_emulator, "DELETE", "/employees").status_code == 405


# --- Faults ---------------------------------------------------------------------------------


def test_a_fault_hits_only_its_method_and_path(plexxis_emulator):
    plexxis_emulator.inject("server_error", count=None, method="GET", path_contains="/jobs")

    assert api(plexxis_emulator, "GET", "/employees").status_code == 200
    assert api(plexxis_emulator, "POST", "/timecard-entries", json=ENTRY).status_code == 201
    assert api(plexxis_emulator, "GET", "/jobs").status_code == 500


def test_a_fault_with_a_count_hits_that_many_requests(plexxis_emulator):
    plexxis_emulator.inject("server_error", count=2, status=503)

    statuses = [api(plexxis_emulator, "GET", "/jobs").status_code for _ in range(3)]

    assert statuses == [503, 503, 200]


def test_an_injected_rate_limit_sends_retry_after_and_the_reset_time(plexxis_emulator):
    plexxis_emulator.inject("rate_limit", seconds=30)

    response = api(plexxis_emulator, "GET", "/jobs")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    assert int(response.headers["X-Rate-Limit-Reset"]) == pytest.approx(time.time() + 30, abs=2)


def test_lose_response_applies_the_write_and_answers_nothing(plexxis_emulator):
    plexxis_emulator.inject("lose_response", method="POST")

    with pytest.raises(requests.ConnectionError):
        api(plexxis_emulator, "POST", "/timecard-entries", json=ENTRY)

    assert len(plexxis_emulator.entries()) == 1
    assert plexxis_emulator.request_log()[-1].status is None


def test_the_request_log_keeps_the_body_of_a_write_a_fault_refused(plexxis_emulator):
    plexxis_emulator.inject("server_error", method="POST")

    api(plexxis_emulator, "POST", "/timecard-entries", json=ENTRY)

    [logged] = plexxis_emulator.request_log()
    assert (logged.status, logged.fault, logged.body) == (500, "server_error", ENTRY)
    assert plexxis_emulator.entries() == []


def test_stop_lets_go_of_a_request_held_by_a_timeout_at_once(plexxis_emulator):
    plexxis_emulator.inject("timeout", seconds=30)
    outcome: list[BaseException | requests.Response] = []

    def call() -> None:
        try:
            outcome.append(api(plexxis_emulator, "POST", "/timecard-entries", json=ENTRY))
        except requests.RequestException as error:
            outcome.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    while plexxis_emulator.request_count() == 0:
        time.sleep(0.01)

    started = time.monotonic()
    plexxis_emulator.stop()
    caller.join(timeout=5)

    assert time.monotonic() - started < 1
    assert not caller.is_alive()
    assert isinstance(outcome[0], requests.ConnectionError)  # closed unanswered
    assert plexxis_emulator.entries() == []


def test_an_unknown_fault_kind_is_refused():
    with pytest.raises(ValueError, match="Unknown fault kind"):
        PlexxisEmulator().inject("meteor")


def test_a_misspelt_fault_parameter_is_refused():
    with pytest.raises(ValueError, match="second"):
        PlexxisEmulator().inject("timeout", second=2)


# --- State ----------------------------------------------------------------------------------


def test_entry_ids_are_never_reused_after_a_reset(plexxis_emulator):
    first = api(plexxis_emulator, "POST", "/timecard-entries", json=ENTRY).json()["id"]
    plexxis_emulator.reset()
    plexxis_emulator.seed(employees=[{"code": "1001"}], jobs=[{"job_number": "24-101"}],
                          cost_codes=[{"code": "03.100"}])

    second = api(plexxis_emulator, "POST", "/timecard-entries", json=ENTRY).json()["id"]

    assert second != first


# --- The control API ------------------------------------------------------------------------


def test_control_api_seeds_over_http_without_an_api_key(plexxis_emulator):
    response = control(plexxis_emulator, "POST", "/seed", json={
        "employees": [{"code": "2001", "first_name": "Zoe"}],
        "entries": [{**ENTRY, "employee_code": "2001"}],
    })

    assert response.status_code == 200
    assert response.json() == {"employees": 4, "jobs": 2, "cost_codes": 3, "entries": 1}
    codes = [row["code"] for row in api(plexxis_emulator, "GET", "/employees").json()["results"]]
    assert "2001" in codes


def test_control_api_injects_lists_and_clears_faults(plexxis_emulator):
    injected = control(plexxis_emulator, "POST", "/faults", json={
        "kind": "server_error", "count": None, "method": "GET", "path_contains": "/jobs",
    })
    listed = control(plexxis_emulator, "GET", "/faults").json()["results"]
    failing = api(plexxis_emulator, "GET", "/jobs").status_code
    cleared = control(plexxis_emulator, "DELETE", "/faults")

    assert injected.status_code == 201
    assert listed == [{"kind": "server_error", "count": None, "method": "GET",
                       "path_contains": "/jobs", "status": 500, "retry_after": 0}]
    assert failing == 500
    assert cleared.status_code == 204
    assert api(plexxis_emulator, "GET", "/jobs").status_code == 200


def test_control_api_refuses_a_fault_it_does_not_know(plexxis_emulator):
    response = control(plexxis_emulator, "POST", "/faults", json={"kind": "meteor"})

    assert response.status_code == 422
    assert "Unknown fault kind" in response.json()["error"]


def test_control_api_lists_the_entries(plexxis_emulator):
    created = api(plexxis_emulator, "POST", "/timecard-entries", json=ENTRY).json()

    response = control(plexxis_emulator, "GET", "/entries")

    assert response.json() == {"results": [created]}


def test_control_api_lists_api_requests_but_not_its_own(plexxis_emulator):
    api(plexxis_emulator, "GET", "/jobs", params={"page": 1})
    api(plexxis_emulator, "POST", "/timecard-entries", json=ENTRY)
    control(plexxis_emulator, "GET", "/entries")

    logged = control(plexxis_emulator, "GET", "/requests").json()["results"]

    assert [(row["method"], row["path"], row["status"]) for row in logged] == [
        ("GET", "/jobs", 200), ("POST", "/timecard-entries", 201),
    ]
    assert logged[0]["query"] == {"page": "1"}
    assert logged[1]["body"] == ENTRY


def test_control_api_reset_forgets_everything(plexxis_emulator):
    api(plexxis_emulator, "POST", "/timecard-entries", json=ENTRY)

    assert control(plexxis_emulator, "POST", "/reset").status_code == 204

    assert plexxis_emulator.entries() == []
    assert api(plexxis_emulator, "GET", "/employees").json()["results"] == []


def test_control_api_answers_malformed_json_with_400(plexxis_emulator):
    response = control(plexxis_emulator, "POST", "/seed", data=b"{nope")

    assert response.status_code == 400
    assert "error" in response.json()


# --- The command line -----------------------------------------------------------------------


def test_command_line_serves_the_seed_file_until_stopped(tmp_path):
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps({"employees": [{"code": "7001"}],
                                     "jobs": [{"job_number": "30-001"}]}))
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "connectors.plexxis.emulator", "--port", "0",
         "--seed-file", str(seed_file), "--api-key", "cli-key"],
        cwd=REPOSITORY, stdout=subprocess.PIPE, text=True,
    )
    try:
        banner = process.stdout.readline()
        base_url = banner.split("API at ", 1)[1].split(" ", 1)[0]
        response = requests.get(f"{base_url}/employees", headers={"X-API-Key": "cli-key"},
                                timeout=5)
        assert [row["code"] for row in response.json()["results"]] == ["7001"]
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0
        process.stdout.close()


def test_with_a_state_file_an_entry_outlives_a_kill_and_a_restart(tmp_path):
    from tests.connectors.plexxis.fixtures import COST_CODES, EMPLOYEES, JOBS

    seed_file, state_file = tmp_path / "seed.json", tmp_path / "state.json"
    seed_file.write_text(json.dumps({"employees": EMPLOYEES, "jobs": JOBS,
                                     "cost_codes": COST_CODES}))

    def serve() -> tuple[subprocess.Popen, str]:
        process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", "connectors.plexxis.emulator", "--port", "0",
             "--seed-file", str(seed_file), "--state-file", str(state_file),
             "--api-key", "cli-key"], cwd=REPOSITORY, stdout=subprocess.PIPE, text=True)
        return process, process.stdout.readline().split("API at ", 1)[1].split(" ", 1)[0]

    def stop(process: subprocess.Popen) -> None:
        process.kill()  # SIGKILL: no chance to save anything on the way out
        process.wait(timeout=5)
        process.stdout.close()

    first, base_url = serve()
    try:
        created = requests.post(f"{base_url}/timecard-entries", json=ENTRY, timeout=5,
                                headers={"X-API-Key": "cli-key"})
        assert created.status_code == 201
    finally:
        stop(first)
    second, base_url = serve()
    try:
        listed = requests.get(f"{base_url}/timecard-entries", timeout=5,
                              params={"job_number": ENTRY["job_number"],
                                      "work_date": ENTRY["work_date"]},
                              headers={"X-API-Key": "cli-key"})
    finally:
        stop(second)

    assert [e["id"] for e in listed.json()["results"]] == [created.json()["id"]]


def test_a_snapshot_restores_entries_with_their_ids(plexxis_emulator, plexxis, tmp_path):
    from connectors.plexxis.emulator import PlexxisEmulator

    plexxis_emulator.state_file = tmp_path / "state.json"
    created = plexxis.create_entry(_restorable_entry())
    restored = PlexxisEmulator()
    restored.restore(json.loads(plexxis_emulator.state_file.read_text()))
    assert [e["id"] for e in restored.entries()] == [created.remote_id]
    assert restored.snapshot()["next_entry_number"] == plexxis_emulator.snapshot()[
        "next_entry_number"]


def _restorable_entry():
    from datetime import date
    from decimal import Decimal

    from connectors.base import TimecardEntry

    return TimecardEntry(
        idempotency_key="k-1", worker_remote_id="1001", project_remote_id="24-101",
        cost_code_remote_id=None, work_date=date(2026, 6, 3), hours=Decimal("8.00"),
        time_type="regular",
    )
