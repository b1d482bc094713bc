"""A small world for the sync engine: one organization with a Plexxis integration pointed at a
live emulator, a project linked to a job, workers of whom one is unknown to Plexxis."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from connectors.plexxis.emulator import PlexxisEmulator
from tests import factories
from timesync import services
from timesync.models import Integration, Membership, Project, Role, Shift, Worker
from timesync.sync import push
from timesync.sync import runs as sync_runs
from timesync.sync import services as sync_services

WORK_DATE = date(2026, 6, 3)
TORONTO = ZoneInfo("America/Toronto")
API_KEY = "test-plexxis-key"


@pytest.fixture
def emulator() -> Iterator[PlexxisEmulator]:
    emulator = PlexxisEmulator(api_key=API_KEY)
    emulator.start()
    yield emulator
    emulator.stop()


@dataclass
class World:
    emulator: PlexxisEmulator
    payroll: Membership
    admin: Membership
    integration: Integration
    project: Project
    workers: dict[str, Worker]
    cost_code: object
    shifts: list[Shift] = field(default_factory=list)

    def shift(self, name: str, start_hour: int = 7, hours: float = 8.5, day: date = WORK_DATE,
              **fields) -> Shift:
        start = datetime(day.year, day.month, day.day, start_hour, tzinfo=TORONTO)
        shift = services.shift_create(
            actor=self.payroll, worker=self.workers[name], project=fields.pop("project",
                                                                              self.project),
            start=start, end=start + timedelta(hours=hours), break_minutes=30,
            cost_code=fields.pop("cost_code", self.cost_code), **fields,
        )
        self.shifts.append(shift)
        return shift

    def start_run(self, day: date = WORK_DATE, project: Project | None = None):
        return sync_runs.sync_run_start(
            integration=self.integration, project=project or self.project, work_date=day,
            trigger="api", actor=self.payroll,
        ).run

    def remote_entries(self, day: date = WORK_DATE) -> list[dict]:
        return sorted(
            (e for e in self.emulator.entries() if e["work_date"] == day.isoformat()),
            key=lambda e: (e["employee_code"], e["hours"]),
        )


@pytest.fixture
def world(emulator, settings) -> World:
    settings.SYNC_RETRY_BASE_SECONDS = 0.01
    settings.SYNC_RETRY_MAX_SECONDS = 2.0
    # The emulator applies a write before it answers (or never): nothing lands later, unless a
    # test injects the `apply_late` fault and sets a lifetime of its own.
    settings.SYNC_REMOTE_REQUEST_LIFETIME_SECONDS = 0
    organization = factories.OrganizationFactory(time_zone="America/Toronto")
    admin = factories.MembershipFactory(organization=organization, role=Role.ADMIN,
                                        notify_sync_failures=True)
    payroll = factories.MembershipFactory(organization=organization, role=Role.PAYROLL_ADMIN)
    project = factories.ProjectFactory(organization=organization, code="24-101",
                                       name="King Street Tower")
    workers = {
        "ana": factories.WorkerFactory(organization=organization, name="Ana Silva",
                                       employee_number="1001"),
        "ben": factories.WorkerFactory(organization=organization, name="Ben Okafor",
                                       employee_number="1002"),
        "cy": factories.WorkerFactory(organization=organization, name="Cy Unknown",
                                      employee_number="9999"),
    }
    cost_code = factories.CostCodeFactory(organization=organization, code="03.100",
                                          name="Concrete Formwork")
    emulator.seed(
        employees=[{"code": "1001", "first_name": "Ana", "last_name": "Silva"},
                   {"code": "1002", "first_name": "Ben", "last_name": "Okafor"}],
        jobs=[{"job_number": "24-101", "name": "King Street Tower"},
              {"job_number": "24-102", "name": "Harbour Parkade"}],
        cost_codes=[{"code": "03.100", "description": "Concrete Formwork"}],
    )
    integration = sync_services.integration_create(
        actor=admin, kind="plexxis", name="Plexxis V2",
        settings={"base_url": emulator.base_url}, credentials={"api_key": API_KEY},
    )
    sync_services.integration_refresh_links(actor=admin, integration=integration)
    return World(emulator=emulator, payroll=payroll, admin=admin, integration=integration,
                 project=project, workers=workers, cost_code=cost_code)


def run_to_completion(run_id: int, *, max_attempts: int = 30):
    """What the Celery task does, inline: execute, and again while it asks to retry. The
    retry is delivered at once instead of after its countdown (an early delivery is always
    safe): the engine, not the broker's timing, must keep the remote right."""
    from timesync.models import SyncRun

    for _ in range(max_attempts):
        execution = push.sync_run_execute(run_id=run_id)
        if execution.retry_in is None:
            break
    return SyncRun.objects.get(pk=run_id)


def procore_integration_for(organization, emulator, **settings) -> Integration:
    """A Procore integration of `organization` connected to a Procore emulator's company
    (tests.connectors.procore.fixtures.COMPANY_ID) with client credentials, its tokens in the
    token store as connecting leaves them; `settings` adds to (or replaces) its settings."""
    from django.utils import timezone

    from connectors.procore.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    from tests.connectors.procore.fixtures import COMPANY_ID
    from timesync import crypto
    from timesync.models import IntegrationKind, OAuthToken

    integration = Integration.objects.create(
        organization=organization, kind=IntegrationKind.PROCORE, name="Procore",
        settings={"api_base_url": emulator.api_base_url,
                  "login_base_url": emulator.login_base_url,
                  "company_id": COMPANY_ID, "grant": "client_credentials", **settings},
        credentials_encrypted=crypto.encrypt_json({"client_id": DEFAULT_CLIENT_ID,
                                                   "client_secret": DEFAULT_CLIENT_SECRET}))
    issued = emulator.issue_tokens()
    OAuthToken.objects.create(
        organization=organization, integration=integration,
        access_token_encrypted=crypto.encrypt_json({"token": issued["access_token"]}),
        refresh_token_encrypted=crypto.encrypt_json({"token": issued["refresh_token"]}),
        expires_at=timezone.now() + timedelta(seconds=issued["expires_in"]))
    return integration
