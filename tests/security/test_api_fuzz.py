"""The API under a schema-driven fuzzer (schemathesis): every operation of the published
OpenAPI schema, with inputs generated from the schema (valid ones, and invalid ones: wrong
types, out-of-range numbers, missing fields), as an admin and as a viewer of an organization
with data, in-process through WSGI (no network). No response may be a 5xx (except a remote
system's documented 502 or 503), and every one must use a status code the schema documents for
the operation, with a body that matches the schema.

Bounded in `make test` (FUZZ_EXAMPLES per operation, role and mode; 3 by default, a few hundred
requests in all), longer in `make fuzz`. Seeded and derandomized: the same code sends the same
requests. Prints `[fuzz] requests=N failures=F`, and each failure's request and reason."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import schemathesis
from django.test.client import ClientHandler
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from knox.models import AuthToken
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from connectors.plexxis.emulator import PlexxisEmulator
from tests import factories
from timesync import services, time_rules
from timesync.models import Membership, Role
from timesync.sync import services as sync_services

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
SEED = int(os.environ.get("FUZZ_SEED", "8"))
# Beside these, no 5xx (`_remote_fault` aside): schemathesis's not_a_server_error counts the
# 502 and 503 that say a remote system refused or did not answer, which are documented answers
# of the operations that call one, not our faults.
CHECKS = [status_code_conformance, response_schema_conformance]
API_KEY = "fuzz-plexxis-key"


def wsgi_app() -> Callable:
    """Django's test handler as a WSGI application: the full middleware stack, but without
    closing the test's database connection between requests (which would end its
    transaction)."""
    handler = ClientHandler(enforce_csrf_checks=True)

    def app(environ: dict, start_response: Callable) -> Any:
        response = handler(environ)
        start_response(f"{response.status_code} {response.reason_phrase}",
                       list(response.items()))
        return response

    return app


def _remote_fault(response: Any) -> bool:
    """A 502 or 503 problem saying the remote system refused or could not be reached."""
    if response.status_code not in (502, 503):
        return False
    return response.json().get("code") in ("remote_refused", "remote_unavailable")


@dataclass
class Tally:
    requests: int = 0
    failures: list[str] = field(default_factory=list)


@pytest.fixture
def no_network(monkeypatch, emulator) -> None:
    """Only the local emulator is reachable: a fuzzed address never leaves the machine, and a
    fuzzed host name resolves to nothing at once."""
    real_getaddrinfo = socket.getaddrinfo
    real_send = requests.adapters.HTTPAdapter.send

    def getaddrinfo(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost"):
            raise socket.gaierror(socket.EAI_NONAME, "fuzz: no DNS")
        return real_getaddrinfo(host, *args, **kwargs)

    def send(adapter, request, *args, **kwargs):
        if not request.url.startswith(emulator.base_url):
            raise requests.ConnectionError(f"fuzz: {request.url} is not reachable")
        return real_send(adapter, request, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)


@pytest.fixture
def emulator() -> Iterator[PlexxisEmulator]:
    emulator = PlexxisEmulator(api_key=API_KEY)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def organization_with_data(emulator) -> dict[str, Any]:
    """An organization with projects, workers, cost codes, shifts, and an integration (the
    local Plexxis emulator) with a run: real ids for the fuzzer's path parameters."""
    organization = factories.OrganizationFactory(time_zone="America/Toronto")
    admin = factories.MembershipFactory(organization=organization, role=Role.ADMIN)
    viewer = factories.MembershipFactory(organization=organization, role=Role.VIEWER)
    project = factories.ProjectFactory(organization=organization, code="24-101")
    worker = factories.WorkerFactory(organization=organization, employee_number="1001")
    cost_code = factories.CostCodeFactory(organization=organization)
    day = time_rules.today(organization.time_zone) - timedelta(days=1)
    start = datetime(day.year, day.month, day.day, 7, tzinfo=ZoneInfo(organization.time_zone))
    shift = services.shift_create(actor=admin, worker=worker, project=project, start=start,
                                  end=start + timedelta(hours=8), cost_code=cost_code)
    emulator.seed(employees=[{"code": "1001", "first_name": "Ana", "last_name": "Silva"}],
                  jobs=[{"job_number": "24-101", "name": "Tower"}],
                  cost_codes=[{"code": "03.100", "description": "Formwork"}])
    integration = sync_services.integration_create(
        actor=admin, kind="plexxis", name="Plexxis V2",
        settings={"base_url": emulator.base_url}, credentials={"api_key": API_KEY},
    )
    return {"organization": organization, "admin": admin, "viewer": viewer,
            "ids": {"organization_slug": [organization.slug], "project_id": [project.pk],
                    "worker_id": [worker.pk], "cost_code_id": [cost_code.pk],
                    "shift_id": [shift.pk], "integration_id": [integration.pk]}}


def _schema_for(ids: dict[str, list]) -> dict[str, Any]:
    """The published schema, its path parameters narrowed to this organization's real ids (so
    requests reach the code behind the 404s); everything else is fuzzed as documented."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] in ids:
                    parameter["schema"] = {**parameter["schema"],
                                           "enum": ids[parameter["name"]]}
    return document


def _fuzz(document: dict[str, Any], membership: Membership, tally: Tally) -> None:
    schema = schemathesis.openapi.from_dict(document)
    app = wsgi_app()

    def signed_in() -> dict[str, str]:
        # A token of its own for every request: the fuzzer also calls sign-out and "revoke my
        # tokens", which would leave every later request a 401 and the rest of the API unfuzzed.
        token = AuthToken.objects.create(user=membership.user)[1]
        # identity: the WSGI client does not undo GZipMiddleware's compression.
        return {"Authorization": f"Token {token}", "Accept-Encoding": "identity"}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @seed(SEED)
            @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def send(case: schemathesis.Case) -> None:
                tally.requests += 1
                headers = signed_in()
                try:
                    response = case.call(app=app, headers=headers)
                    if response.status_code >= 500 and not _remote_fault(response):
                        raise AssertionError(f"{response.status_code} from {case.as_curl_command()}"
                                             f": {response.text[:500]}")
                    case.validate_response(response, checks=CHECKS, headers=headers)
                except (Exception, BaseExceptionGroup) as failure:  # counted, not raised
                    tally.failures.append(f"{case.operation.label}: {str(failure).strip()[:1500]}")

            # Unsatisfiable: no invalid input exists for this operation (no parameters or body).
            with contextlib.suppress(Unsatisfiable):
                send()


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_the_fuzzer_finds_no_server_error_and_no_response_outside_the_schema(
        role, organization_with_data, no_network, capsys, settings):
    settings.ALLOWED_HOSTS = ["localhost"]  # the WSGI client's host
    tally = Tally()
    document = _schema_for(organization_with_data["ids"])
    _fuzz(document, organization_with_data[role], tally)
    with capsys.disabled():
        print(f"\n[fuzz] role={role} examples={EXAMPLES} requests={tally.requests} "
              f"failures={len(tally.failures)}")
        for failure in tally.failures:
            print(f"[fuzz] FAIL {failure}\n")
    assert tally.requests > 0
    assert not tally.failures, f"{len(tally.failures)} failures (printed above)"
