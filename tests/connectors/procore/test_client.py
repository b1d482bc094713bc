"""ProcoreClient and ProcoreConnector against the emulator over HTTP: what a client of Procore
observes. Every request they make is also checked against the OpenAPI subset (fixtures.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from connectors.base import (
    PermanentError,
    RejectedEntry,
    RemoteNotFound,
    TimecardEntry,
    TransientError,
)
from connectors.procore import mapping
from connectors.procore.client import (
    ProcoreAuthRefused,
    ProcoreClient,
    ProcoreConnector,
    ProcoreLocked,
    ProcoreRefused,
)
from connectors.procore.emulator import ProcoreEmulator
from tests.connectors.procore.fixtures import (
    AARON,
    ADRIANA,
    COMPANY_ID,
    EMULATOR_ALLOWED,
    PROJECT_ID,
    START_STOP_PROJECT_ID,
    SUB_JOB_ID,
    Tokens,
)

DAY = date(2025, 3, 10)
KEY = "timesync-1-2-345-1"


def make_entry(**overrides: Any) -> TimecardEntry:
    values: dict[str, Any] = {
        "idempotency_key": KEY, "worker_remote_id": str(AARON),
        "project_remote_id": str(PROJECT_ID), "cost_code_remote_id": "03-100",
        "work_date": DAY, "hours": Decimal("8"), "time_type": "regular",
        "notes": "Formwork, level 3",
    }
    return TimecardEntry(**{**values, **overrides})


def client_of(emulator: ProcoreEmulator, tokens: Tokens, **kwargs: Any) -> ProcoreClient:
    waits: list[float] = kwargs.pop("waits", [])
    return ProcoreClient(emulator.api_base_url, COMPANY_ID, tokens.access_token,
                         tokens.refresh, policy=EMULATOR_ALLOWED, read_timeout=1.0,
                         sleep=waits.append, **kwargs)


# --- Pagination and headers ------------------------------------------------------------------


def test_lists_follow_the_link_header_across_pages(procore, procore_emulator):
    procore_emulator.seed(people=[{"company_id": COMPANY_ID, "last_name": f"Crew {n}"}
                                  for n in range(250)])

    workers = procore.list_workers()

    assert len(workers) == 252  # the two seeded employees and the 250 new ones
    pages = [r.query["page"] for r in procore_emulator.request_log() if r.path.endswith("/people")]
    assert pages == [["1"], ["2"], ["3"]]


def test_workers_are_the_people_marked_as_employees(procore):
    workers = {worker.remote_id: worker for worker in procore.list_workers()}

    assert set(workers) == {str(AARON), str(ADRIANA)}
    assert workers[str(AARON)].employee_number == "1001"
    assert workers[str(AARON)].name == "Aaron Abbott"


def test_every_request_carries_the_company_and_the_bearer_token(procore, procore_emulator):
    procore.list_projects()
    procore.list_cost_codes()

    log = procore_emulator.request_log()
    assert log
    assert {r.headers["procore-company-id"] for r in log} == {str(COMPANY_ID)}
    assert {r.headers["authorization"] for r in log} == {"Bearer ..."}


def test_projects_include_their_sub_jobs(procore):
    projects = {project.remote_id: project for project in procore.list_projects()}

    assert projects[f"{PROJECT_ID}/{SUB_JOB_ID}"].name == "King Street Tower A / Podium"
    assert projects[str(PROJECT_ID)].number == "24-101"


def test_cost_codes_are_the_company_standard_codes(procore):
    codes = {code.remote_id: code.name for code in procore.list_cost_codes()}

    assert codes == {"01-100": "General Conditions", "03-100": "Concrete Formwork"}


# --- Tokens ----------------------------------------------------------------------------------


def test_an_expired_access_token_is_refreshed_once_and_the_call_retried(
        procore, procore_emulator, procore_tokens):
    procore_emulator.expire_access_tokens()

    workers = procore.list_workers()

    assert len(workers) == 2
    assert procore_tokens.refreshes == 1
    assert [(r.path.split("/")[-1], r.status) for r in procore_emulator.request_log()] == [
        ("people", 401), ("token", 200), ("people", 200)]


def test_a_revoked_grant_asks_to_reconnect_after_one_refresh(procore_emulator, procore_tokens):
    procore_emulator.revoke_grant_of(procore_tokens.refresh_token)
    refreshes: list[str] = []

    def refresh() -> str:
        refreshes.append("called")
        return "a-token-procore-does-not-know"

    client = ProcoreClient(procore_emulator.api_base_url, COMPANY_ID,
                           procore_tokens.access_token, refresh, policy=EMULATOR_ALLOWED)

    with pytest.raises(ProcoreAuthRefused, match="Reconnect"):
        client.list_people()
    assert refreshes == ["called"]
    assert procore_emulator.request_count() == 2


def test_without_a_refresher_a_401_asks_to_reconnect(procore_emulator, procore_tokens):
    procore_emulator.expire_access_tokens()
    client = ProcoreClient(procore_emulator.api_base_url, COMPANY_ID,
                           procore_tokens.access_token, None, policy=EMULATOR_ALLOWED)

    with pytest.raises(ProcoreAuthRefused):
        client.list_people()


# --- Rate limits and overload ----------------------------------------------------------------


def test_a_429_storm_slows_the_reads_but_they_complete(procore_emulator, procore_tokens):
    waits: list[float] = []
    client = client_of(procore_emulator, procore_tokens, waits=waits)
    procore_emulator.inject("rate_limit", count=3, seconds=1)

    people = client.list_people()

    assert len(people) == 3
    assert len(waits) == 3
    assert all(0 < wait <= 2.25 for wait in waits)


def test_a_429_on_a_create_is_waited_out_and_sent_once_more(procore, procore_emulator):
    procore_emulator.inject("rate_limit", count=1, method="POST", seconds=1)

    created = procore.create_entry(make_entry())

    assert [e["id"] for e in procore_emulator.entries()] == [int(created.remote_id)]


def test_a_long_rate_limit_hands_the_wait_to_the_engine(procore, procore_emulator):
    procore_emulator.inject("rate_limit", count=1, seconds=60)

    with pytest.raises(TransientError) as raised:
        procore.list_workers()

    assert 55 <= raised.value.retry_after <= 61
    assert raised.value.maybe_applied is False


def test_a_503_with_retry_after_on_a_read_is_waited_out(procore, procore_emulator):
    procore_emulator.inject("server_error", count=1, status=503, retry_after=1)

    assert len(procore.list_workers()) == 2


def test_a_503_on_a_write_is_not_sent_again_blindly(procore, procore_emulator):
    procore_emulator.inject("server_error", count=1, method="POST", status=503, retry_after=1)

    with pytest.raises(TransientError) as raised:
        procore.create_entry(make_entry())

    assert raised.value.maybe_applied is True
    assert procore_emulator.request_count("POST") == 1


def test_the_shared_budget_is_fed_by_the_rate_limit_headers(procore_emulator, procore_tokens):
    observed: list[int] = []

    class Budget:
        def take(self) -> float:
            return 0.0

        def observe(self, *, remaining: int, reset_at: float) -> None:
            observed.append(remaining)

    client = client_of(procore_emulator, procore_tokens, budget=Budget())
    client.list_people()
    client.list_projects()

    assert observed == [procore_emulator.rate_limit - 1, procore_emulator.rate_limit - 2]


# --- Writing entries ------------------------------------------------------------------------


def test_create_sends_hours_as_a_string_and_our_key_as_origin(procore, procore_emulator):
    created = procore.create_entry(make_entry(hours=Decimal("7.5")))

    sent = procore_emulator.request_log()[-1].body["timecard_entry"]
    assert sent["hours"] == "7.50"
    assert sent["origin_id"] == mapping.origin_id(KEY)
    assert isinstance(sent["origin_id"], int)
    assert sent["origin_data"] == KEY
    assert created.idempotency_key == KEY
    assert created.worker_remote_id == str(AARON)
    assert created.hours == Decimal("7.50")
    assert int(created.remote_id) > 2**32


def test_create_on_a_start_stop_project_sends_times_and_lunch(procore, procore_emulator):
    start = datetime(2025, 3, 10, 7, 0, tzinfo=UTC)
    entry = make_entry(project_remote_id=str(START_STOP_PROJECT_ID), start=start,
                       end=start + timedelta(hours=9), break_minutes=30)

    created = procore.create_entry(entry)

    sent = procore_emulator.request_log()[-1].body["timecard_entry"]
    assert "hours" not in sent
    assert sent["lunch_time"] == "30"
    assert created.hours == Decimal("8.50")


def test_create_names_the_cost_code_time_type_and_sub_job_by_their_ids(procore, procore_emulator):
    created = procore.create_entry(make_entry(project_remote_id=f"{PROJECT_ID}/{SUB_JOB_ID}",
                                              time_type="overtime"))

    assert created.project_remote_id == f"{PROJECT_ID}/{SUB_JOB_ID}"
    assert created.extra["cost_code_remote_id"] == "03-100"
    assert created.extra["time_type"] == "overtime"


def test_a_cost_code_the_project_lacks_is_a_rejection(procore):
    with pytest.raises(RejectedEntry, match="has no cost code 99-999"):
        procore.create_entry(make_entry(cost_code_remote_id="99-999"))


def test_an_invalid_entry_is_a_rejection_with_procores_words(procore):
    with pytest.raises(RejectedEntry, match="hours"):
        procore.create_entry(make_entry(hours=Decimal("30")))


def test_update_changes_the_entry_in_place(procore, procore_emulator):
    created = procore.create_entry(make_entry())

    updated = procore.update_entry(created.remote_id, make_entry(hours=Decimal("6")))

    assert updated.remote_id == created.remote_id
    assert [e["hours"] for e in procore_emulator.entries()] == ["6.00"]


def test_delete_removes_the_entry_and_a_second_delete_is_not_found(procore, procore_emulator):
    created = procore.create_entry(make_entry())

    procore.delete_entry(created.remote_id)

    assert procore_emulator.entries() == []
    with pytest.raises(RemoteNotFound):
        procore.delete_entry(created.remote_id)


# --- Exactly once ---------------------------------------------------------------------------


def test_a_lost_answer_to_a_create_is_found_again_without_a_duplicate(procore, procore_emulator):
    procore_emulator.inject("lose_response", count=1, method="POST")

    with pytest.raises(TransientError) as raised:
        procore.create_entry(make_entry())
    assert raised.value.maybe_applied is True
    found = procore.find_entry(idempotency_key=KEY, project_remote_id=str(PROJECT_ID),
                               work_date=DAY)

    assert found is not None
    assert [e["id"] for e in procore_emulator.entries()] == [int(found.remote_id)]


def test_find_does_not_take_another_keys_entry(procore):
    procore.create_entry(make_entry(idempotency_key="timesync-1-2-999-1"))

    assert procore.find_entry(idempotency_key=KEY, project_remote_id=str(PROJECT_ID),
                              work_date=DAY) is None


def test_list_entries_holds_exactly_the_project_or_sub_job(procore, procore_emulator):
    on_project = procore.create_entry(make_entry())
    on_sub_job = procore.create_entry(make_entry(
        idempotency_key="timesync-1-2-346-1", project_remote_id=f"{PROJECT_ID}/{SUB_JOB_ID}"))
    procore.create_entry(make_entry(idempotency_key="timesync-1-2-347-1",
                                    work_date=DAY + timedelta(days=1)))

    project_day = procore.list_entries(project_remote_id=str(PROJECT_ID), work_date=DAY)
    sub_job_day = procore.list_entries(project_remote_id=f"{PROJECT_ID}/{SUB_JOB_ID}",
                                       work_date=DAY)

    assert [e.remote_id for e in project_day] == [on_project.remote_id]
    assert [e.remote_id for e in sub_job_day] == [on_sub_job.remote_id]


def test_bulk_create_sends_whole_hours_in_one_request_with_an_outcome_each(
        procore, procore_emulator):
    entries = [make_entry(idempotency_key=f"timesync-1-2-{n}-1", worker_remote_id=str(worker))
               for n, worker in ((400, AARON), (401, ADRIANA))]
    fractional = make_entry(idempotency_key="timesync-1-2-402-1", hours=Decimal("7.25"))
    refused = make_entry(idempotency_key="timesync-1-2-403-1", cost_code_remote_id="99-999")

    outcomes = procore.create_entries([*entries, fractional, refused])

    assert [o.idempotency_key for o in outcomes[:3]] == [e.idempotency_key
                                                          for e in (*entries, fractional)]
    assert isinstance(outcomes[3], RejectedEntry)
    assert procore_emulator.request_count("POST", "/timesheets") == 1
    assert procore_emulator.request_count("POST", "/timecard_entries") == 1


# --- Procore's locks ------------------------------------------------------------------------


def test_an_edit_to_a_completed_entry_is_a_readable_rejection_naming_worker_and_day(
        procore, procore_emulator):
    created = procore.create_entry(make_entry())
    procore_emulator.set_approval_status(int(created.remote_id), "completed")

    with pytest.raises(ProcoreLocked) as raised:
        procore.update_entry(created.remote_id, make_entry(hours=Decimal("6")))

    assert isinstance(raised.value, RejectedEntry)  # the run reports it and goes on
    assert "Aaron Abbott" in str(raised.value)
    assert "2025-03-10" in str(raised.value)
    assert procore_emulator.request_count("PATCH") == 1
    assert procore_emulator.entries()[0]["hours"] == "8.00"


def test_deleting_an_approved_entry_is_a_readable_rejection(procore, procore_emulator):
    created = procore.create_entry(make_entry())
    procore_emulator.set_approval_status(int(created.remote_id), "approved")

    with pytest.raises(ProcoreLocked, match="Aaron Abbott's entry of 2025-03-10"):
        procore.delete_entry(created.remote_id)

    assert procore_emulator.request_count("DELETE") == 1
    assert len(procore_emulator.entries()) == 1


def test_a_lock_in_words_we_do_not_know_is_recognised_by_the_entrys_status(
        procore, procore_emulator):
    created = procore.create_entry(make_entry())
    procore_emulator.set_approval_status(int(created.remote_id), "completed")
    procore_emulator.lock_wording = "Cette entrée ne peut plus être modifiée."

    with pytest.raises(ProcoreLocked, match="Aaron Abbott's entry of 2025-03-10"):
        procore.update_entry(created.remote_id, make_entry(hours=Decimal("6")))


def test_a_delete_refused_as_a_permission_on_an_approved_entry_is_its_lock(
        procore, procore_emulator):
    created = procore.create_entry(make_entry())
    procore_emulator.set_approval_status(int(created.remote_id), "approved")
    procore_emulator.lock_wording = "You do not have permission to perform this action."

    with pytest.raises(ProcoreLocked, match="Aaron Abbott's entry of 2025-03-10"):
        procore.delete_entry(created.remote_id)


def test_a_delete_refused_on_a_pending_entry_is_the_apps_permission_not_a_lock(
        procore, procore_emulator):
    created = procore.create_entry(make_entry())
    procore_emulator.delete_refusal = "Forbidden."  # the app may not delete entries

    with pytest.raises(ProcoreRefused) as raised:
        procore.delete_entry(created.remote_id)

    assert not isinstance(raised.value, ProcoreLocked)


# --- Company lists (the sweep) --------------------------------------------------------------


def test_company_entries_filter_by_update_time_and_person(procore, procore_emulator):
    procore.create_entry(make_entry())
    procore.create_entry(make_entry(idempotency_key="timesync-1-2-500-1",
                                    worker_remote_id=str(ADRIANA)))
    now = datetime.now(UTC)

    changed = procore.client.list_company_entries(
        updated_between=(now - timedelta(minutes=5), now + timedelta(minutes=5)),
        party_ids=[ADRIANA])
    before = procore.client.list_company_entries(
        updated_between=(now - timedelta(days=2), now - timedelta(days=1)))

    assert [row["origin_data"] for row in changed] == ["timesync-1-2-500-1"]
    assert before == []


# --- Settings check -------------------------------------------------------------------------


def test_test_connection_passes_for_a_company_with_the_app(procore):
    procore.test_connection()


def test_test_connection_names_a_company_that_does_not_exist(procore_emulator, procore_tokens):
    client = ProcoreClient(procore_emulator.api_base_url, 42, procore_tokens.access_token,
                           policy=EMULATOR_ALLOWED)

    with pytest.raises(PermanentError, match="no company 42"):
        ProcoreConnector(client).test_connection()


def test_test_connection_says_to_install_the_app(procore, procore_emulator):
    procore_emulator.set_app_installed(COMPANY_ID, False)

    with pytest.raises(PermanentError, match="App Management"):
        procore.test_connection()


# --- Webhooks -------------------------------------------------------------------------------


class _Receiver:
    """Our webhook endpoint's stand-in: records every POST with its headers."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/procore/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    receiver = _Receiver()
    yield receiver
    receiver.close()


def hook_up(procore: ProcoreConnector, receiver: _Receiver) -> dict[str, Any]:
    hook = procore.client.create_hook(destination_url=receiver.url,
                                      destination_headers={"Authorization": "Bearer s3cret"},
                                      namespace="timesync-1")
    for event_type in ("create", "update", "delete"):
        procore.client.create_trigger(hook["id"], event_type=event_type)
    return hook


def test_a_change_is_delivered_to_the_hook_with_its_headers(procore, procore_emulator, receiver):
    hook_up(procore, receiver)

    created = procore.create_entry(make_entry())
    procore_emulator.wait_for_deliveries()

    [(headers, event)] = receiver.received
    assert headers["Authorization"] == "Bearer s3cret"
    assert event["resource_name"] == "Timecard Entries"
    assert event["event_type"] == "create"
    assert event["resource_id"] == int(created.remote_id)
    assert event["company_id"] == COMPANY_ID
    # Our own write says so: the receiver must not echo it back.
    assert event["metadata"]["source_application_id"] == "timesync-app"


def test_an_edit_made_in_procore_carries_no_application(procore, procore_emulator, receiver):
    hook_up(procore, receiver)
    created = procore.create_entry(make_entry())

    procore_emulator.edit_in_procore(int(created.remote_id), hours="5")
    procore_emulator.wait_for_deliveries()

    assert [(e["event_type"], e["metadata"]["source_application_id"])
            for _h, e in receiver.received] == [("create", "timesync-app"), ("update", None)]


def test_a_repeated_delivery_carries_the_same_event_id(procore, procore_emulator, receiver):
    hook_up(procore, receiver)
    procore_emulator.inject_delivery("repeat", times=2)

    procore.create_entry(make_entry())
    procore_emulator.wait_for_deliveries()

    assert len(receiver.received) == 2
    assert receiver.received[0][1]["id"] == receiver.received[1][1]["id"]


def test_reordered_deliveries_arrive_newest_first(procore, procore_emulator, receiver):
    hook_up(procore, receiver)
    procore_emulator.inject_delivery("reorder", count=1)

    created = procore.create_entry(make_entry())
    procore.delete_entry(created.remote_id)
    procore_emulator.wait_for_deliveries()

    assert [e["event_type"] for _h, e in receiver.received] == ["delete", "create"]


def test_hooks_and_triggers_are_listed_and_deleted(procore, procore_emulator, receiver):
    hook = hook_up(procore, receiver)

    assert [h["id"] for h in procore.client.list_hooks(namespace="timesync-1")] == [hook["id"]]
    triggers = procore.client.list_triggers(hook["id"])
    assert sorted(t["event_type"] for t in triggers) == ["create", "delete", "update"]
    procore.client.delete_trigger(hook["id"], triggers[0]["id"])
    procore.client.delete_hook(hook["id"])

    assert procore_emulator.hooks() == []


def test_the_emulator_refuses_a_call_without_the_company_header(procore_emulator,
                                                                procore_tokens):
    answer = requests.get(
        f"{procore_emulator.api_base_url}/rest/v1.0/companies/{COMPANY_ID}/people",
        headers={"Authorization": f"Bearer {procore_tokens.access}"}, timeout=5)

    assert answer.status_code == 400
    assert "Procore-Company-Id" in answer.text
