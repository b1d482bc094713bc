"""Procore emulator fixtures, importable by any test module or conftest:

    from tests.connectors.procore.fixtures import procore, procore_emulator  # noqa: F401

`procore_emulator` fails the test that used it if any request our client made does not
conform to the OpenAPI subset (tests/connectors/procore/conformance.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from connectors.addresses import RemoteAddressPolicy
from connectors.procore.client import USER_AGENT, ProcoreClient, ProcoreConnector
from connectors.procore.emulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    ProcoreEmulator,
)
from tests.connectors.procore import conformance

COMPANY_ID = 8_000_000_001
PROJECT_ID = 7_100_000_001  # total hours
START_STOP_PROJECT_ID = 7_100_000_002  # start and stop times
SUB_JOB_ID = 7_200_000_001
AARON, ADRIANA, VISITOR = 9_100_000_001, 9_100_000_002, 9_100_000_003
EMULATOR_ALLOWED = RemoteAddressPolicy.of(private_hosts_allowed=["127.0.0.1"])
READ_TIMEOUT = 1.0

SEED = {
    "companies": [{"id": COMPANY_ID, "name": "Northwind Builders"}],
    "people": [
        {"id": AARON, "company_id": COMPANY_ID, "first_name": "Aaron", "last_name": "Abbott",
         "is_employee": True, "employee_id": "1001",
         "email_address": "aaron.abbott@northwind.example"},
        {"id": ADRIANA, "company_id": COMPANY_ID, "first_name": "Adriana",
         "last_name": "Alvarez", "is_employee": True, "employee_id": "1002"},
        {"id": VISITOR, "company_id": COMPANY_ID, "first_name": "Vera", "last_name": "Visitor",
         "is_employee": False},
    ],
    "projects": [
        {"id": PROJECT_ID, "company_id": COMPANY_ID, "name": "King Street Tower A",
         "project_number": "24-101"},
        {"id": START_STOP_PROJECT_ID, "company_id": COMPANY_ID, "name": "Transit Facility",
         "project_number": "24-102", "timecard_entry_mode": "start_stop"},
    ],
    "sub_jobs": [{"id": SUB_JOB_ID, "project_id": PROJECT_ID, "code": "01", "name": "Podium"}],
    "cost_codes": [
        {"id": 7_300_000_001, "project_id": PROJECT_ID, "full_code": "03-100",
         "name": "Concrete Formwork"},
        {"id": 7_300_000_002, "project_id": START_STOP_PROJECT_ID, "full_code": "03-100",
         "name": "Concrete Formwork"},
    ],
    "standard_cost_codes": [
        {"id": 7_400_000_001, "company_id": COMPANY_ID, "full_code": "01-100",
         "name": "General Conditions"},
        {"id": 7_400_000_002, "company_id": COMPANY_ID, "full_code": "03-100",
         "name": "Concrete Formwork"},
    ],
}


class Tokens:
    """The caller's side of OAuth, as the domain will hold it: the current access token, and
    a refresh that spends the single-use refresh token at the emulator's token endpoint."""

    def __init__(self, emulator: ProcoreEmulator) -> None:
        self.emulator = emulator
        issued = emulator.issue_tokens()
        self.access, self.refresh_token = issued["access_token"], issued["refresh_token"]
        self.refreshes = 0

    def access_token(self) -> str:
        return self.access

    def refresh(self) -> str:
        self.refreshes += 1
        answer = requests.post(f"{self.emulator.login_base_url}/oauth/token", data={
            "grant_type": "refresh_token", "refresh_token": self.refresh_token,
            "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET,
        }, timeout=5)
        answer.raise_for_status()
        body = answer.json()
        self.access, self.refresh_token = body["access_token"], body["refresh_token"]
        return self.access


@pytest.fixture
def procore_emulator() -> Iterator[ProcoreEmulator]:
    """A Procore emulator on a free local port, seeded with SEED. At teardown, every request
    our client made is checked against the OpenAPI subset."""
    emulator = ProcoreEmulator()
    emulator.seed(**SEED)
    emulator.start()
    yield emulator
    emulator.stop()
    problems = [problem for logged in emulator.request_log()
                if logged.headers.get("user-agent") == USER_AGENT
                for problem in conformance.violations(logged)]
    if problems:
        pytest.fail("Requests that do not conform to the Procore OpenAPI subset:\n"
                    + "\n".join(problems), pytrace=False)


@pytest.fixture
def procore_tokens(procore_emulator: ProcoreEmulator) -> Tokens:
    return Tokens(procore_emulator)


@pytest.fixture
def procore(procore_emulator: ProcoreEmulator, procore_tokens: Tokens
            ) -> Iterator[ProcoreConnector]:
    """A ProcoreConnector on `procore_emulator` (company COMPANY_ID), 1 s read timeout,
    START_STOP_PROJECT_ID set up for start and stop times; waits are recorded, not slept."""
    client = ProcoreClient(
        procore_emulator.api_base_url, COMPANY_ID, procore_tokens.access_token,
        procore_tokens.refresh, policy=EMULATOR_ALLOWED, connect_timeout=1.0,
        read_timeout=READ_TIMEOUT, sleep=lambda seconds: None,
    )
    connector = ProcoreConnector(client, start_stop_project_ids={str(START_STOP_PROJECT_ID)})
    yield connector
    connector.close()
