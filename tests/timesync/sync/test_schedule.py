"""The nightly sync: at the integration's local time, yesterday of every enabled project link,
once a day."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from tests import factories
from timesync.models import SyncRun, SyncTrigger
from timesync.sync import schedule
from timesync.sync import services as sync_services

from .conftest import TORONTO, WORK_DATE

pytestmark = pytest.mark.django_db

TODAY = date(2026, 6, 4)  # the night after WORK_DATE


def at(hour: int, minute: int, day: date = TODAY, zone: ZoneInfo = TORONTO) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


@pytest.fixture
def nightly(world):
    """The world's Plexxis synced nightly at 02:00 Toronto time, with a second linked project."""
    parkade = factories.ProjectFactory(organization=world.project.organization, code="24-102",
                                       name="Harbour Parkade")
    sync_services.project_link_set(actor=world.admin, integration=world.integration,
                                   project=parkade, remote_project_id="24-102")
    sync_services.integration_update(actor=world.admin, integration=world.integration,
                                     schedule_enabled=True, schedule_time=time(2, 0))
    world.parkade = parkade
    return world


def scheduled_runs():
    return list(SyncRun.objects.filter(trigger=SyncTrigger.SCHEDULE).order_by("project__name"))


def test_after_the_scheduled_time_each_linked_project_gets_a_run_for_yesterday(nightly):
    started = schedule.scheduled_syncs_start(now=at(2, 5))

    runs = scheduled_runs()
    assert sorted(started) == sorted(run.pk for run in runs)
    assert [(run.project, run.work_date, run.state) for run in runs] == [
        (nightly.parkade, WORK_DATE, "queued"),
        (nightly.project, WORK_DATE, "queued"),
    ]
    assert all(run.integration == nightly.integration for run in runs)


def test_the_scheduled_time_is_read_in_the_organizations_time_zone(nightly):
    # 06:05 UTC is 02:05 in Toronto (EDT, UTC-4).
    schedule.scheduled_syncs_start(now=datetime(2026, 6, 4, 6, 5, tzinfo=ZoneInfo("UTC")))
    assert {run.work_date for run in scheduled_runs()} == {WORK_DATE}
    assert len(scheduled_runs()) == 2


def test_a_second_call_the_same_day_starts_nothing_more(nightly):
    schedule.scheduled_syncs_start(now=at(2, 5))

    assert schedule.scheduled_syncs_start(now=at(2, 6)) == []
    assert schedule.scheduled_syncs_start(now=at(23, 59)) == []
    assert len(scheduled_runs()) == 2


def test_the_next_night_sends_the_next_day(nightly):
    schedule.scheduled_syncs_start(now=at(2, 5))
    schedule.scheduled_syncs_start(now=at(2, 5, day=date(2026, 6, 5)))
    assert sorted({run.work_date for run in scheduled_runs()}) == [WORK_DATE, TODAY]


def test_before_the_scheduled_time_nothing_starts(nightly):
    assert schedule.scheduled_syncs_start(now=at(1, 55)) == []
    assert scheduled_runs() == []


def test_an_early_call_does_not_use_up_the_night(nightly):
    schedule.scheduled_syncs_start(now=at(1, 55))
    schedule.scheduled_syncs_start(now=at(2, 0))
    assert len(scheduled_runs()) == 2


def test_a_disabled_project_link_gets_no_scheduled_run(nightly):
    sync_services.project_link_set(actor=nightly.admin, integration=nightly.integration,
                                   project=nightly.parkade, enabled=False)

    schedule.scheduled_syncs_start(now=at(2, 5))

    assert [run.project for run in scheduled_runs()] == [nightly.project]


def test_an_integration_without_the_schedule_gets_nothing(nightly):
    sync_services.integration_update(actor=nightly.admin, integration=nightly.integration,
                                     schedule_enabled=False)
    assert schedule.scheduled_syncs_start(now=at(2, 5)) == []
    assert scheduled_runs() == []


def test_a_disconnected_integration_gets_nothing(nightly):
    sync_services.integration_disconnect(actor=nightly.admin, integration=nightly.integration)

    assert schedule.scheduled_syncs_start(now=at(2, 5)) == []
    assert scheduled_runs() == []


def test_a_disconnected_integration_gets_nothing_even_with_its_schedule_turned_back_on(nightly):
    # Disconnecting removes the links; put one back by hand and re-enable the schedule: the
    # integration is still disconnected and must not be synced.
    sync_services.integration_disconnect(actor=nightly.admin, integration=nightly.integration)
    sync_services.integration_update(actor=nightly.admin, integration=nightly.integration,
                                     schedule_enabled=True)
    sync_services.project_link_set(actor=nightly.admin, integration=nightly.integration,
                                   project=nightly.project, remote_project_id="24-101")

    assert schedule.scheduled_syncs_start(now=at(2, 5)) == []
    assert scheduled_runs() == []


def test_a_day_already_syncing_is_not_started_twice(nightly):
    clicked = nightly.start_run(day=WORK_DATE)

    schedule.scheduled_syncs_start(now=at(2, 5))

    assert SyncRun.objects.filter(project=nightly.project, work_date=WORK_DATE).count() == 1
    assert SyncRun.objects.get(project=nightly.project, work_date=WORK_DATE).pk == clicked.pk


def test_the_night_interleaves_tenants_so_a_small_one_is_not_queued_behind_a_large_one(
    nightly, monkeypatch
):
    from timesync.models import Integration, ProjectLink

    for n in range(4):  # the world's organization: six linked projects in all
        project = factories.ProjectFactory(organization=nightly.project.organization,
                                           code=f"30-{n}")
        ProjectLink.objects.create(organization=project.organization,
                                   integration=nightly.integration, project=project,
                                   remote_project_id="24-101")
    small_org = factories.OrganizationFactory(time_zone="America/Toronto")
    small = Integration.objects.create(organization=small_org, kind="plexxis", name="Plexxis",
                                       schedule_enabled=True, schedule_time=time(2, 0))
    small_project = factories.ProjectFactory(organization=small_org)
    ProjectLink.objects.create(organization=small_org, integration=small, project=small_project,
                               remote_project_id="1")
    sent = []
    monkeypatch.setattr(schedule.dispatch, "run_enqueue", sent.append)

    schedule.scheduled_syncs_start(now=at(2, 5))

    order = [SyncRun.objects.get(pk=run_id).integration_id for run_id in sent]
    assert len(order) == 7
    assert order.index(small.pk) <= 1  # among the first turn, not after the six
