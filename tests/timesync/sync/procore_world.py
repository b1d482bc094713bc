"""A Procore integration receiving from the emulator over HTTP: its hook points at a live
Django server, so deliveries are real POSTs to our webhook endpoint. Import the fixtures:

    from tests.timesync.sync.procore_world import receiving, procore_emulator  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from config.celery import app
from connectors.procore.emulator import ProcoreEmulator
from tests import factories
from tests.connectors.procore.fixtures import AARON, PROJECT_ID, procore_emulator
from tests.timesync.sync.conftest import procore_integration_for
from timesync.models import (
    Integration,
    MatchField,
    Membership,
    Project,
    ProjectLink,
    Role,
    Shift,
    Worker,
    WorkerLink,
)
from timesync.sync import procore_receive

__all__ = ["WORK_DATE", "Receiving", "procore_emulator", "receiving"]

WORK_DATE = date(2026, 6, 3)
OUR_APP = "timesync-app"  # the emulator's application id for our client


@dataclass
class Receiving:
    emulator: ProcoreEmulator
    integration: Integration
    admin: Membership
    project: Project
    aaron: Worker

    def create_in_procore(self, hours: str = "7.50", **fields) -> dict:
        entry = self.emulator.create_in_procore(
            PROJECT_ID, party_id=fields.pop("party_id", AARON), date=WORK_DATE.isoformat(),
            hours=hours, **fields)
        self.emulator.wait_for_deliveries()
        return entry

    def configure(self, **settings) -> None:
        """Change the integration's settings (create_workers, create_cost_codes, ...)."""
        self.integration.settings = {**self.integration.settings, **settings}
        self.integration.save(update_fields=["settings"])

    def shifts(self) -> list[Shift]:
        return list(Shift.objects.filter(project=self.project, deleted_at__isnull=True))

    @staticmethod
    def hours(shift: Shift) -> Decimal:
        return shift.paid_hours


def make_receiving_integration(emulator: ProcoreEmulator, *, organization=None,
                               direction: str = "both") -> Integration:
    organization = organization or factories.OrganizationFactory(time_zone="America/Toronto")
    return procore_integration_for(organization, emulator, direction=direction,
                                   application_id=OUR_APP)


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def receiving(procore_emulator, live_server, settings, eager_tasks) -> Receiving:
    settings.SITE_URL = live_server.url
    integration = make_receiving_integration(procore_emulator)
    organization = integration.organization
    admin = factories.MembershipFactory(organization=organization, role=Role.ADMIN,
                                        notify_sync_failures=True)
    project = factories.ProjectFactory(organization=organization, name="King Street Tower A")
    ProjectLink.objects.create(organization=organization, integration=integration,
                               project=project, remote_project_id=str(PROJECT_ID))
    aaron = factories.WorkerFactory(organization=organization, name="Aaron Abbott",
                                    employee_number="1001")
    WorkerLink.objects.create(organization=organization, integration=integration,
                              worker=aaron, remote_worker_id=str(AARON),
                              matched_by=MatchField.EMPLOYEE_NUMBER)
    receiver = procore_receive.procore_receiving_enable(integration=integration)
    assert receiver is not None
    assert receiver.hook_id is not None, receiver.hook_error
    return Receiving(emulator=procore_emulator, integration=integration, admin=admin,
                     project=project, aaron=aaron)
