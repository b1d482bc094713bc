"""The conformance check itself: it must catch what it claims to, or the fixture that runs it
after every Procore test proves nothing."""

from __future__ import annotations

from typing import Any

from connectors.procore.emulator import LoggedRequest
from tests.connectors.procore.conformance import violations

COMPANY = {"procore-company-id": "8000000001"}


def logged(method: str, path: str, *, query: dict[str, list[str]] | None = None,
           body: Any = None, headers: dict[str, str] | None = None) -> LoggedRequest:
    return LoggedRequest(method=method, path=path, query=query or {},
                         headers=COMPANY if headers is None else headers, status=200, body=body)


def entry(**fields: Any) -> dict[str, Any]:
    return {"timecard_entry": {"party_id": 1, "date": "2025-03-10", "hours": "8.00", **fields}}


def test_a_conforming_create_passes():
    assert violations(logged("POST", "/rest/v1.0/projects/7/timecard_entries",
                             body=entry(origin_id=12, origin_data="timesync-1"))) == []


def test_origin_id_as_a_string_is_caught():
    [problem] = violations(logged("POST", "/rest/v1.0/projects/7/timecard_entries",
                                  body=entry(origin_id="timesync-1")))

    assert "origin_id" in problem
    assert "integer" in problem


def test_hours_as_a_number_on_a_single_create_is_caught():
    assert violations(logged("POST", "/rest/v1.0/projects/7/timecard_entries",
                             body=entry(hours=8)))


def test_an_unknown_body_field_is_caught():
    assert violations(logged("POST", "/rest/v1.0/projects/7/timecard_entries",
                             body=entry(worker_id=3)))


def test_a_missing_wrapper_object_is_caught():
    assert violations(logged("POST", "/rest/v1.0/projects/7/timecard_entries",
                             body={"party_id": 1}))


def test_a_missing_company_header_is_caught():
    assert violations(logged("GET", "/rest/v1.0/companies/8/people", headers={}))


def test_an_unknown_path_or_method_is_caught():
    assert violations(logged("GET", "/rest/v1.0/timecards"))
    assert violations(logged("PUT", "/rest/v1.0/projects/7/timecard_entries/5"))


def test_a_non_integer_path_id_is_caught():
    assert violations(logged("GET", "/rest/v1.0/projects/abc/timecard_entries"))


def test_a_missing_required_query_parameter_is_caught():
    assert violations(logged("GET", "/rest/v1.0/sub_jobs"))
    assert violations(logged("GET", "/rest/v1.0/standard_cost_codes",
                             query={"company_id": ["8"]}))


def test_an_undeclared_query_parameter_is_caught_but_pagination_is_not():
    assert violations(logged("GET", "/rest/v1.0/companies/8/projects",
                             query={"filters[colour]": ["red"]}))
    assert violations(logged("GET", "/rest/v1.0/companies/8/projects",
                             query={"page": ["2"], "per_page": ["100"]})) == []


def test_a_webhook_list_needs_a_company_or_a_project():
    assert violations(logged("GET", "/rest/v1.0/webhooks/hooks"))
    assert violations(logged("GET", "/rest/v1.0/webhooks/hooks",
                             query={"company_id": ["8"]})) == []
