"""A payroll admin's hours reach Procore through the one engine, once and only once, and follow
later edits: against the Procore emulator over HTTP, with the integration's links, token store
and request budget as the app holds them (connector_for builds the connector)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from connectors.base import TransientError
from tests import factories
from tests.connectors.procore.fixtures import (
    AARON,
    ADRIANA,
    PROJECT_ID,
    procore_emulator,
)
from timesync import services
from timesync.models import (
    Integration,
    Membership,
    Project,
    Role,
    Shift,
    SyncState,
    Worker,
)
from timesync.sync import runs as sync_runs
from timesync.sync import services as sync_services
from timesync.sync.remotes import connector_for

from .conftest import procore_integration_for, run_to_completion

__all__ = ["procore_emulator"]
pytestmark = pytest.mark.django_db

WORK_DATE = date(2026, 6, 3)
TORONTO = ZoneInfo("America/Toronto")


@dataclass
class ProcoreWorld:
    emulator: object
    payroll: Membership
    integration: Integration
    project: Project
    workers: dict[str, Worker]
    cost_code: object
    shifts: list[Shift] = field(default_factory=list)

    def shift(self, name: str, start_hour: int = 7, hours: float = 8.5, day: date = WORK_DATE,
              **fields) -> Shift:
        start = datetime(day.year, day.month, day.day, start_hour, tzinfo=TORONTO)
        shift = services.shift_create(
            actor=self.payroll, worker=self.workers[name], project=self.project, start=start,
            end=start + timedelta(hours=hours), break_minutes=30, cost_code=self.cost_code,
            **fields)
        self.shifts.append(shift)
        return shift

    def sync(self, day: date = WORK_DATE):
        run = sync_runs.sync_run_start(integration=self.integration, project=self.project,
                                       work_date=day, trigger="api", actor=self.payroll).run
        return run_to_completion(run.pk)

    def remote(self, day: date = WORK_DATE) -> list[tuple[int, str, str, str]]:
        """The emulator's live entries of the day: (person, hours, time type, cost code)."""
        return sorted(
            (e["party"]["id"], e["hours"], e["timecard_time_type"]["abbreviated_time_type"],
             e["cost_code"]["full_code"])
            for e in self.emulator.entries() if e["date"] == day.isoformat())


@pytest.fixture
def world(procore_emulator, settings) -> ProcoreWorld:
    settings.SYNC_RETRY_BASE_SECONDS = 0.01
    settings.SYNC_RETRY_MAX_SECONDS = 2.0
    settings.SYNC_REMOTE_REQUEST_LIFETIME_SECONDS = 0
    organization = factories.OrganizationFactory(time_zone="America/Toronto")
    admin = factories.MembershipFactory(organization=organization, role=Role.ADMIN)
    payroll = factories.MembershipFactory(organization=organization, role=Role.PAYROLL_ADMIN)
    project = factories.ProjectFactory(organization=organization, code="24-101",
                                       name="King Street Tower")
    workers = {
        "aaron": factories.WorkerFactory(organization=organization, name="Aaron Abbott",
                                         employee_number="1001"),
        "adriana": factories.WorkerFactory(organization=organization, name="Adriana Alvarez",
                                           employee_number="1002"),
    }
    cost_code = factories.CostCodeFactory(organization=organization, code="03-100",
                                          name="Concrete Formwork")
    integration = procore_integration_for(organization, procore_emulator)
    # Workers (party ids), the project and the cost code are linked by matching the catalog.
    report = sync_services.integration_refresh_links(actor=admin, integration=integration)
    assert (report.workers_linked, report.projects_linked) == (2, 1)
    return ProcoreWorld(emulator=procore_emulator, payroll=payroll, integration=integration,
                        project=project, workers=workers, cost_code=cost_code)


def test_a_day_exports_one_entry_per_shift_with_exact_hours(world):
    world.shift("aaron", hours=8.5)
    world.shift("adriana", start_hour=6, hours=10.5, time_type="overtime")

    run = world.sync()

    assert run.state == SyncState.SUCCEEDED
    assert (run.created_count, run.updated_count, run.deleted_count) == (2, 0, 0)
    assert world.remote() == [(AARON, "8.00", "REG", "03-100"), (ADRIANA, "10.00", "OT", "03-100")]
    assert all(e["project"]["id"] == PROJECT_ID for e in world.emulator.entries())
    assert run.hours_sent == run.hours_remote == Decimal("18.00") == sum(
        Decimal(e["hours"]) for e in world.emulator.entries())


def test_a_project_procore_does_not_hold_fails_the_run_saying_so_and_sends_nothing(world):
    world.integration.project_links.filter(project=world.project).update(
        remote_project_id="7199999999")
    world.shift("aaron")

    run = world.sync()

    assert run.state == SyncState.FAILED
    assert "no such project or company" in run.error
    assert "Mappings page" in run.error
    assert "unexpected" not in run.error.lower()
    assert world.emulator.entries() == []


def test_edit_move_reject_delete_then_resync_leaves_exactly_the_desired_entries(world):
    edited = world.shift("aaron")
    moved = world.shift("adriana")
    rejected = world.shift("aaron", start_hour=17, hours=3)
    deleted = world.shift("adriana", start_hour=17, hours=3)
    world.shift("adriana", start_hour=21, hours=2)  # kept as it is
    world.sync()
    assert len(world.remote()) == 5

    services.shift_update(actor=world.payroll, shift=edited, break_minutes=60)
    services.shift_update(actor=world.payroll, shift=moved, start=moved.start + timedelta(days=1),
                          end=moved.end + timedelta(days=1))
    services.shift_decide(actor=world.payroll, shift=rejected, approve=False, reason="no show")
    services.shift_delete(actor=world.payroll, shift=deleted)
    run = world.sync()
    next_day = world.sync(WORK_DATE + timedelta(days=1))

    assert run.state == next_day.state == SyncState.SUCCEEDED
    assert (run.created_count, run.updated_count, run.deleted_count, run.unchanged_count) \
        == (0, 1, 3, 1)
    assert world.remote() == [(AARON, "7.50", "REG", "03-100"), (ADRIANA, "1.50", "REG", "03-100")]
    assert world.remote(WORK_DATE + timedelta(days=1)) == [(ADRIANA, "8.00", "REG", "03-100")]
    assert (world.sync().created_count, world.sync().unchanged_count) == (0, 2)  # re-sync: no-op


def test_a_lost_response_after_create_reconciles_without_a_duplicate(world):
    world.shift("aaron")
    world.emulator.inject("lose_response", count=1, method="POST",
                          path_contains="timecard_entries")

    run = world.sync()

    assert run.state == SyncState.SUCCEEDED
    assert world.remote() == [(AARON, "8.00", "REG", "03-100")]
    assert len(world.emulator.entries(include_deleted=True)) == 1


def test_a_429_storm_slows_the_run_and_it_completes(world):
    world.shift("aaron")
    world.shift("adriana")
    world.emulator.inject("rate_limit", count=4, seconds=0.2)

    run = world.sync()

    assert run.state == SyncState.SUCCEEDED
    assert world.emulator.request_count() > 4  # the refused requests were made again
    assert world.remote() == [(AARON, "8.00", "REG", "03-100"), (ADRIANA, "8.00", "REG", "03-100")]
    assert run.hours_sent == Decimal("16.00")


def test_an_update_to_an_entry_procore_locked_is_a_warning_naming_worker_and_day(world):
    shift = world.shift("aaron")
    world.sync()
    entry_id = world.emulator.entries()[0]["id"]
    world.emulator.set_approval_status(entry_id, "completed")
    services.shift_update(actor=world.payroll, shift=shift, break_minutes=60)
    patches_before = world.emulator.request_count("PATCH")

    run = world.sync()

    assert run.state == SyncState.SUCCEEDED_WITH_WARNINGS
    message = run.entries.get(outcome="skipped").message
    assert "Aaron Abbott" in message
    assert WORK_DATE.isoformat() in message
    assert "completed and can no longer be edited" in message
    assert "{" not in message  # Procore's words, not its JSON
    assert world.emulator.request_count("PATCH") == patches_before + 1  # tried once, no loop
    assert world.remote() == [(AARON, "8.00", "REG", "03-100")]


def test_a_run_that_meets_a_revoked_grant_fails_with_the_reason_and_logs_it_once(world, caplog):
    from timesync import crypto
    from timesync.models import OAuthToken

    stored = OAuthToken.objects.get(integration=world.integration)
    world.emulator.revoke_grant_of(crypto.decrypt_json(stored.refresh_token_encrypted)["token"])
    world.emulator.expire_access_tokens()
    world.shift("aaron")

    with caplog.at_level("INFO", logger="timesync"):
        run = world.sync()

    assert run.state == SyncState.FAILED
    assert "must be connected again" in run.error
    assert "revoked" in run.error
    said = [record.getMessage() for record in caplog.records]
    assert not [line for line in said if "another worker" in line]
    assert len([line for line in said if "revoked" in line]) == 1
    assert world.emulator.entries() == []


def test_a_procore_call_gives_up_after_the_read_timeout_the_settings_give(world, settings):
    # `make chaos` shortens it (as PLEXXIS_READ_TIMEOUT_SECONDS) so that a write Procore holds
    # and applies late outlives the client; it was fixed at the client's 30 s default.
    settings.PROCORE_READ_TIMEOUT_SECONDS = 0.2
    world.emulator.inject("apply_late", count=None, method="GET", seconds=1.0)
    connector = connector_for(world.integration)

    with pytest.raises(TransientError):
        connector.list_entries(project_remote_id=str(PROJECT_ID), work_date=WORK_DATE)
    connector.close()

