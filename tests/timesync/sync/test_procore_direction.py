"""A Procore integration whose direction is `receive` is never sent to: every way of starting a
sync refuses it with the reason (the rule is Integration.sends, enforced by sync_run_start), and
the nightly schedule passes it by. The pages: tests/dashboard/test_receive_only_pages.py."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from timesync.models import Integration, SyncRun, SyncTrigger
from timesync.sync import runs as sync_runs
from timesync.sync import schedule
from timesync.sync.selectors import IntegrationReceivesOnly

from .test_procore_export import WORK_DATE, ProcoreWorld, procore_emulator, world

__all__ = ["procore_emulator", "world"]
pytestmark = pytest.mark.django_db


def receive_only(integration: Integration) -> Integration:
    integration.settings = {**integration.settings, "direction": "receive"}
    integration.save(update_fields=["settings"])
    return integration


def runs_url(world: ProcoreWorld) -> str:
    return (f"/api/v1/orgs/{world.project.organization.slug}/integrations/"
            f"{world.integration.pk}/runs/")


def test_starting_a_sync_of_a_receive_only_integration_is_refused_with_the_reason(world):
    receive_only(world.integration)
    world.shift("aaron")

    with pytest.raises(IntegrationReceivesOnly, match="only receives time cards from Procore"):
        sync_runs.sync_run_start(integration=world.integration, project=world.project,
                                 work_date=WORK_DATE, trigger=SyncTrigger.API,
                                 actor=world.payroll)

    assert not SyncRun.objects.exists()
    assert world.emulator.request_count("POST") == 0  # nothing sent


def test_the_api_answers_409_integration_receives_only_and_starts_nothing(world, api):
    receive_only(world.integration)
    world.shift("aaron")

    response = api(world.payroll).post(runs_url(world), {"project": world.project.pk,
                                                         "work_date": WORK_DATE.isoformat()})

    assert response.status_code == 409, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "integration_receives_only"
    assert "set its direction to send or both" in body["detail"]
    assert not SyncRun.objects.exists()


def test_an_integration_that_sends_both_ways_still_starts_syncs(world, api):
    world.integration.settings = {**world.integration.settings, "direction": "both"}
    world.integration.save(update_fields=["settings"])

    response = api(world.payroll).post(runs_url(world), {"project": world.project.pk,
                                                         "work_date": WORK_DATE.isoformat()})

    assert response.status_code == 201, response.content


def test_the_nightly_schedule_passes_a_receive_only_integration_by(world, caplog):
    receive_only(world.integration)
    Integration.objects.filter(pk=world.integration.pk).update(
        schedule_enabled=True, schedule_time=time(2, 0))
    night = datetime(2026, 6, 4, 2, 5, tzinfo=ZoneInfo("America/Toronto"))

    started = schedule.scheduled_syncs_start(now=night)

    assert started == []
    assert not SyncRun.objects.exists()
    assert "did not start" not in caplog.text  # passed by, not failed every tick
    world.integration.refresh_from_db()
    assert world.integration.schedule_last_date is None
