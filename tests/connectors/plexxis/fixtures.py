"""Plexxis emulator fixtures, importable by any test module or conftest:

    from tests.connectors.plexxis.fixtures import plexxis, plexxis_emulator  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.addresses import RemoteAddressPolicy
from connectors.plexxis.client import PlexxisConnector
from connectors.plexxis.emulator import PlexxisEmulator

PLEXXIS_API_KEY = "test-plexxis-key"
# The emulator listens on this machine, which production never lets a connector call.
EMULATOR_ALLOWED = RemoteAddressPolicy.of(private_hosts_allowed=["127.0.0.1"])
# Short, so a timeout fault costs a test about a second; local answers take milliseconds.
PLEXXIS_READ_TIMEOUT = 1.0

EMPLOYEES = [
    {"code": "1001", "first_name": "Aaron", "last_name": "Abbott",
     "email": "aaron.abbott@northwind.example", "phone": "416-555-0100", "active": True},
    {"code": "1002", "first_name": "Adriana", "last_name": "Alvarez",
     "email": "adriana.alvarez@northwind.example", "phone": "416-555-0101", "active": True},
    {"code": "1003", "first_name": "Ahmed", "last_name": "Andersen",
     "email": "", "phone": "", "active": False},
]
JOBS = [
    {"job_number": "24-101", "name": "King Street Condominiums, Tower A", "active": True,
     "sub_jobs": [{"code": "01", "name": "Podium"}, {"code": "02", "name": "Tower"}]},
    {"job_number": "24-102", "name": "Etobicoke Transit Maintenance Facility", "active": True,
     "sub_jobs": []},
]
COST_CODES = [
    {"code": "01.100", "subsection": "01", "activity_code": "100",
     "description": "General Conditions"},
    {"code": "03.100", "subsection": "03", "activity_code": "100",
     "description": "Concrete Formwork"},
    {"code": "03.200", "subsection": "03", "activity_code": "200",
     "description": "Concrete Reinforcing"},
]


@pytest.fixture
def plexxis_emulator() -> Iterator[PlexxisEmulator]:
    """A Plexxis emulator serving on a free local port, seeded with EMPLOYEES, JOBS and
    COST_CODES; its API key is PLEXXIS_API_KEY."""
    emulator = PlexxisEmulator(api_key=PLEXXIS_API_KEY)
    emulator.seed(employees=EMPLOYEES, jobs=JOBS, cost_codes=COST_CODES)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def plexxis(plexxis_emulator: PlexxisEmulator) -> Iterator[PlexxisConnector]:
    """A PlexxisConnector speaking to `plexxis_emulator`, with a 1 s read timeout."""
    connector = PlexxisConnector(
        plexxis_emulator.base_url, PLEXXIS_API_KEY, connect_timeout=1.0,
        read_timeout=PLEXXIS_READ_TIMEOUT, policy=EMULATOR_ALLOWED,
    )
    yield connector
    connector.close()
