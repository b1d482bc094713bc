"""One tenant's bad data never costs the other tenants their work: every loop over tenants
(the nightly schedule, recovery's re-sends) logs the one that fails, with its ids, and goes on
(finding 13 of issue 8: one integration's value made the nightly start raise and abandoned
every integration after it, across organizations)."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests import factories
from tests.timesync.sync.conftest import WORK_DATE
from tests.timesync.sync.conftest import emulator as emulator
from tests.timesync.sync.conftest import world as world
from timesync.models import Integration, Organization, Role, SyncRun, SyncState, SyncTrigger
from timesync.sync import dispatch, recovery, schedule
from timesync.sync import services as sync_services

pytestmark = pytest.mark.django_db
TORONTO = ZoneInfo("America/Toronto")
NIGHT = datetime(2026, 6, 4, 2, 5, tzinfo=TORONTO)  # after 02:00, the night after WORK_DATE


def nightly(integration, admin) -> None:
    sync_services.integration_update(actor=admin, integration=integration,
                                     schedule_enabled=True, schedule_time=time(2, 0))


@pytest.fixture
def broken(world):
    """Another organization's nightly integration, named to come first in the loop, whose
    organization holds a time zone no calendar knows: written around the services, as data
    from before a rule was."""
    organization = factories.OrganizationFactory(time_zone="America/Toronto")
    admin = factories.MembershipFactory(organization=organization, role=Role.ADMIN)
    project = factories.ProjectFactory(organization=organization, code="B-1")
    integration = sync_services.integration_create(
        actor=admin, kind="plexxis", name="Aardvark Plexxis",
        settings={"base_url": world.emulator.base_url}, credentials={"api_key": "k"})
    sync_services.project_link_set(actor=admin, integration=integration, project=project,
                                   remote_project_id="24-102")
    nightly(integration, admin)
    Organization.objects.filter(pk=organization.pk).update(time_zone="Mars/Olympus_Mons")
    return integration


def scheduled(integration: Integration) -> list[tuple[int, date]]:
    return list(SyncRun.objects.filter(integration=integration, trigger=SyncTrigger.SCHEDULE)
                .values_list("project_id", "work_date"))


def test_an_integration_that_cannot_start_its_night_does_not_stop_another_tenants(
    world, broken
):
    nightly(world.integration, world.admin)
    assert list(Integration.objects.filter(schedule_enabled=True)) == [broken,
                                                                         world.integration]

    started = schedule.scheduled_syncs_start(now=NIGHT)

    assert scheduled(world.integration) == [(world.project.pk, WORK_DATE)]
    assert scheduled(broken) == []
    assert started == [run.pk for run in SyncRun.objects.filter(integration=world.integration)]


def test_the_failure_is_logged_with_the_integration_and_organization(world, broken, caplog):
    nightly(world.integration, world.admin)

    with caplog.at_level(logging.ERROR, logger="timesync.sync.schedule"):
        schedule.scheduled_syncs_start(now=NIGHT)

    (record,) = [r for r in caplog.records if r.name == "timesync.sync.schedule"]
    assert record.levelno == logging.ERROR
    assert f"integration {broken.pk} (organization {broken.organization_id})" \
        in record.getMessage()
    assert record.exc_info is not None


def test_the_failed_integration_is_tried_again_on_the_next_tick(world, broken):
    schedule.scheduled_syncs_start(now=NIGHT)
    Organization.objects.filter(pk=broken.organization_id).update(time_zone="America/Toronto")

    schedule.scheduled_syncs_start(now=NIGHT + timedelta(minutes=1))

    assert len(scheduled(broken)) == 1


def test_a_run_recovery_cannot_send_does_not_stop_the_others(world, monkeypatch, caplog):
    world.shift("ana")
    first, second = world.start_run(), world.start_run(day=WORK_DATE - timedelta(days=1))
    quiet = timezone.now() - timedelta(hours=1)
    SyncRun.objects.filter(pk__in=[first.pk, second.pk]).update(
        state=SyncState.RUNNING, heartbeat_at=quiet)
    sent = []

    def send(run_id: int, *, countdown: float | None = None) -> None:
        if run_id == first.pk:
            raise RuntimeError("this one message cannot be sent")
        sent.append(run_id)

    monkeypatch.setattr(dispatch, "run_enqueue", send)

    with caplog.at_level(logging.ERROR, logger="timesync.sync.dispatch"):
        recovered = recovery.sync_runs_recover()

    assert sorted(recovered) == sorted([first.pk, second.pk])
    assert sent == [second.pk]
    assert any(f"Run {first.pk} could not be sent" in r.getMessage() for r in caplog.records)
