"""Receiving time cards from Procore, against the emulator over HTTP: its webhooks are real
POSTs to our endpoint on a live server, its entries are read back by id, and the sweep reads
what the webhooks missed."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from config.celery import app
from connectors.procore import mapping
from tests import factories
from tests.connectors.procore.fixtures import AARON, ADRIANA, PROJECT_ID
from tests.timesync.sync.conftest import run_to_completion
from tests.timesync.sync.procore_world import (
    WORK_DATE,
    Receiving,
    eager_tasks,
    make_receiving_integration,
    procore_emulator,
    receiving,
)
from timesync import services
from timesync.models import (
    InboundEvent,
    InboundSource,
    InboundState,
    MatchField,
    ProcoreReceiver,
    WorkerLink,
)
from timesync.sync import planning, procore_receive, push, runs
from timesync.sync import services as sync_services
from timesync.sync.planning import Action, build_plan

__all__ = ["eager_tasks", "procore_emulator", "receiving"]
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_time_card_entered_in_procore_becomes_our_shift(receiving: Receiving):
    receiving.create_in_procore(hours="7.50", description="Formwork, level 3")

    [shift] = receiving.shifts()
    assert (shift.worker, shift.work_date, shift.paid_hours, shift.notes) == (
        receiving.aaron, WORK_DATE, Decimal("7.50"), "Formwork, level 3")
    assert shift.history.first().history_user.full_name == "From Procore"


def test_an_edit_in_procore_changes_our_shift(receiving: Receiving):
    entry = receiving.create_in_procore(hours="7.50")

    receiving.emulator.edit_in_procore(entry["id"], hours="9.25")
    receiving.emulator.wait_for_deliveries()

    [shift] = receiving.shifts()
    assert shift.paid_hours == Decimal("9.25")


def test_a_deletion_in_procore_deletes_our_shift(receiving: Receiving):
    entry = receiving.create_in_procore(hours="7.50")

    receiving.emulator.delete_in_procore(entry["id"])
    receiving.emulator.wait_for_deliveries()

    assert receiving.shifts() == []


def test_the_same_webhook_delivered_twice_changes_nothing_more(receiving: Receiving):
    receiving.emulator.inject_delivery("repeat", times=3)
    receiving.create_in_procore(hours="7.50")

    assert len(receiving.shifts()) == 1
    assert InboundEvent.objects.filter(integration=receiving.integration).count() == 1
    assert len([d for d in receiving.emulator.deliveries() if not d.dropped]) == 3


def test_webhooks_out_of_order_end_with_procores_latest_state(receiving: Receiving):
    entry = receiving.create_in_procore(hours="7.50")
    receiving.emulator.inject_delivery("reorder")
    receiving.emulator.edit_in_procore(entry["id"], hours="8.00")  # held back
    receiving.emulator.edit_in_procore(entry["id"], hours="9.00")  # delivered first
    receiving.emulator.wait_for_deliveries()

    [shift] = receiving.shifts()
    assert shift.paid_hours == Decimal("9.00")
    versions = shift.version
    receiving.emulator.edit_in_procore(entry["id"], description="")  # same content
    receiving.emulator.wait_for_deliveries()
    shift.refresh_from_db()
    assert shift.version == versions


def test_our_own_write_coming_back_as_a_webhook_sends_nothing(receiving: Receiving):
    shift = factories_shift(receiving)
    runs.sync_run_start(integration=receiving.integration, project=receiving.project,
                        work_date=WORK_DATE, trigger="api", actor=receiving.admin)
    receiving.emulator.wait_for_deliveries()
    [event] = InboundEvent.objects.filter(integration=receiving.integration)
    assert event.state == InboundState.IGNORED  # our app's own create
    shift.refresh_from_db()
    assert shift.version == 1
    writes = _writes(receiving)

    runs.sync_run_start(integration=receiving.integration, project=receiving.project,
                        work_date=WORK_DATE, trigger="api", actor=receiving.admin)

    assert _writes(receiving) == writes


def test_an_edit_received_from_procore_is_not_sent_back(receiving: Receiving):
    entry = receiving.create_in_procore(hours="7.50")
    receiving.emulator.edit_in_procore(entry["id"], hours="6.00")
    receiving.emulator.wait_for_deliveries()
    writes = _writes(receiving)

    plan = build_plan(integration=receiving.integration, project=receiving.project,
                      work_date=WORK_DATE)
    runs.sync_run_start(integration=receiving.integration, project=receiving.project,
                        work_date=WORK_DATE, trigger="api", actor=receiving.admin)

    assert [item.action for item in plan.items] == [Action.UNCHANGED]
    assert _writes(receiving) == writes
    assert [Decimal(str(e["hours"])) for e in receiving.emulator.entries()] == [Decimal("6")]


def test_a_change_whose_webhook_never_arrived_is_applied_by_the_next_sweep(
        receiving: Receiving):
    entry = receiving.create_in_procore(hours="7.50")
    receiving.emulator.inject_delivery("drop")
    receiving.emulator.edit_in_procore(entry["id"], hours="10.00")
    receiving.emulator.wait_for_deliveries()
    assert receiving.shifts()[0].paid_hours == Decimal("7.50")

    caught = procore_receive.procore_sweep(integration_id=receiving.integration.pk)

    assert receiving.shifts()[0].paid_hours == Decimal("10.00")
    assert caught == 1
    receiver = ProcoreReceiver.objects.get(integration=receiving.integration)
    assert receiver.last_sweep_at is not None
    assert receiver.last_sweep_caught == 1
    assert procore_receive.procore_sweep(integration_id=receiving.integration.pk) == 0


def test_a_deletion_whose_webhook_never_arrived_is_applied_by_the_next_sweep(
        receiving: Receiving):
    entry = receiving.create_in_procore(hours="7.50")
    receiving.emulator.inject_delivery("drop")
    receiving.emulator.delete_in_procore(entry["id"])
    receiving.emulator.wait_for_deliveries()

    procore_receive.procore_sweep(integration_id=receiving.integration.pk)

    assert receiving.shifts() == []


def test_a_webhook_whose_task_the_broker_lost_is_applied_by_the_next_sweep_not_left_pending(
        receiving: Receiving, monkeypatch, settings):
    # Found by `make chaos` (a Redis restart while Procore delivered): the endpoint stored the
    # event and answered Procore, but its task never reached a worker; the event stayed
    # pending on the activity page for good.
    settings.SYNC_RUN_LOST_SECONDS = 0
    monkeypatch.setattr(procore_receive, "inbound_event_enqueue", lambda event_id: None)
    receiving.create_in_procore(hours="7.50")
    [event] = InboundEvent.objects.filter(integration=receiving.integration)
    assert (event.state, receiving.shifts()) == (InboundState.PENDING, [])

    procore_receive.procore_sweep(integration_id=receiving.integration.pk)

    event.refresh_from_db()
    assert event.state == InboundState.APPLIED
    [shift] = receiving.shifts()
    assert shift.paid_hours == Decimal("7.50")


def test_a_second_entry_of_the_day_in_procore_becomes_a_second_shift_not_an_overlap(
        receiving: Receiving):
    # Found by `make chaos`: a total-hours entry was placed at 08:00 whatever the worker's
    # day held, so a worker with a morning shift got the Procore entry refused as an overlap.
    start = datetime(WORK_DATE.year, WORK_DATE.month, WORK_DATE.day, 7,
                     tzinfo=ZoneInfo("America/Toronto"))
    services.shift_create(actor=receiving.admin, worker=receiving.aaron,
                          project=receiving.project, start=start,
                          end=start + timedelta(hours=8.5), break_minutes=30)

    receiving.create_in_procore(hours="6.25")

    [event] = InboundEvent.objects.filter(integration=receiving.integration)
    assert event.state == InboundState.APPLIED, event.outcome
    assert sorted(shift.paid_hours for shift in receiving.shifts()) == [
        Decimal("6.25"), Decimal("8.00")]
    assert {shift.work_date for shift in receiving.shifts()} == {WORK_DATE}


def test_an_entry_our_sync_wrote_never_becomes_a_second_shift_before_the_ledger_knows_it(
        receiving: Receiving):
    # Found by `make chaos`: the answer to our create was lost, and the sweep listed the entry
    # before the run had settled its id; it took the entry for Procore's and made a second
    # shift of it, whose ledger record then held the same entry (a later sync deleted it, and
    # the hours of the first shift with it).
    start = datetime(WORK_DATE.year, WORK_DATE.month, WORK_DATE.day, 16,
                     tzinfo=ZoneInfo("America/Toronto"))
    ours = services.shift_create(actor=receiving.admin, worker=receiving.aaron,
                                 project=receiving.project, start=start,
                                 end=start + timedelta(hours=4), break_minutes=30)
    key = planning.idempotency_key(receiving.integration, ours, 1)
    receiving.emulator.inject_delivery("drop")
    receiving.emulator.seed(entries=[{
        "project_id": PROJECT_ID, "party_id": AARON, "date": WORK_DATE.isoformat(),
        "hours": "3.50", "origin_id": mapping.origin_id(key), "origin_data": key}])
    receiving.emulator.wait_for_deliveries()

    procore_receive.procore_sweep(integration_id=receiving.integration.pk)

    assert receiving.shifts() == [ours]


def test_a_deletion_in_procore_just_after_our_create_whose_answer_was_lost_is_not_undone(
        receiving: Receiving, settings):
    # Found by `make chaos` (SEED=11 TRIAL=18): the answer to our create was lost, someone
    # deleted the new entry in Procore, its webhook found no record holding that id ("nothing
    # of ours"), and the run, finding no entry with its key, created it again.
    app.conf.task_always_eager = False  # the test plays the run's attempts and the worker
    settings.SYNC_REMOTE_REQUEST_LIFETIME_SECONDS = 0
    start = datetime(WORK_DATE.year, WORK_DATE.month, WORK_DATE.day, 7,
                     tzinfo=ZoneInfo("America/Toronto"))
    shift = services.shift_create(actor=receiving.admin, worker=receiving.aaron,
                                  project=receiving.project, start=start,
                                  end=start + timedelta(hours=8.5), break_minutes=30)
    receiving.emulator.inject("lose_response", method="POST")
    run = runs.sync_run_start(integration=receiving.integration, project=receiving.project,
                              work_date=WORK_DATE, trigger="api", actor=receiving.admin).run
    assert push.sync_run_execute(run_id=run.pk).retry_in is not None  # outcome unknown
    [entry] = receiving.emulator.entries()

    receiving.emulator.delete_in_procore(entry["id"])
    receiving.emulator.wait_for_deliveries()
    for event in InboundEvent.objects.filter(state=InboundState.PENDING):
        procore_receive.inbound_event_process(event_id=event.pk)
    run_to_completion(run.pk)

    assert receiving.emulator.entries() == []
    assert receiving.shifts() == []
    shift.refresh_from_db()
    assert shift.history.first().history_user.full_name == "From Procore"


def test_an_edit_in_procore_to_our_create_whose_answer_was_lost_is_applied_once_confirmed(
        receiving: Receiving, settings):
    # Found by `make chaos` (SEED=12 TRIAL=26): the entry carries our key but no record held
    # its id yet, so its webhook and a sweep left it alone; once the run had settled the id,
    # the sweep listed the same change again under the same key, and skipped it as seen.
    app.conf.task_always_eager = False  # the test plays the run's attempts and the worker
    settings.SYNC_REMOTE_REQUEST_LIFETIME_SECONDS = 0
    settings.SYNC_RUN_LOST_SECONDS = 0
    start = datetime(WORK_DATE.year, WORK_DATE.month, WORK_DATE.day, 7,
                     tzinfo=ZoneInfo("America/Toronto"))
    services.shift_create(actor=receiving.admin, worker=receiving.aaron,
                          project=receiving.project, start=start,
                          end=start + timedelta(hours=8.5), break_minutes=30)
    receiving.emulator.inject("lose_response", method="POST")
    run = runs.sync_run_start(integration=receiving.integration, project=receiving.project,
                              work_date=WORK_DATE, trigger="api", actor=receiving.admin).run
    assert push.sync_run_execute(run_id=run.pk).retry_in is not None  # outcome unknown
    [entry] = receiving.emulator.entries()
    receiving.emulator.edit_in_procore(entry["id"], hours="6.00")
    receiving.emulator.wait_for_deliveries()
    for event in InboundEvent.objects.filter(state=InboundState.PENDING):
        procore_receive.inbound_event_process(event_id=event.pk)
    procore_receive.procore_sweep(integration_id=receiving.integration.pk)

    run_to_completion(run.pk)
    procore_receive.procore_sweep(integration_id=receiving.integration.pk)

    [shift] = receiving.shifts()
    assert shift.paid_hours == Decimal("6.00")
    assert [e["hours"] for e in receiving.emulator.entries()] == ["6.00"]


def test_with_worker_creation_off_an_unknown_person_fails_naming_them_and_a_retry_applies_it_once_linked(  # noqa: E501
        receiving: Receiving):
    receiving.configure(create_workers=False)
    receiving.create_in_procore(hours="7.50", party_id=ADRIANA)

    [event] = InboundEvent.objects.filter(integration=receiving.integration)
    assert event.state == InboundState.FAILED
    assert "Adriana Alvarez" in event.outcome
    assert "Mappings" in event.outcome
    assert receiving.shifts() == []
    assert len(mail.outbox) == 1
    assert "could not be applied" in mail.outbox[0].subject

    adriana = factories.WorkerFactory(organization=receiving.integration.organization,
                                      name="Adriana Alvarez")
    WorkerLink.objects.create(organization=adriana.organization,
                              integration=receiving.integration, worker=adriana,
                              remote_worker_id=str(ADRIANA), matched_by=MatchField.MANUAL)
    procore_receive.inbound_event_retry(actor=receiving.admin,
                                        integration=receiving.integration, event_id=event.pk)

    event.refresh_from_db()
    assert event.state == InboundState.APPLIED
    assert [s.worker for s in receiving.shifts()] == [adriana]


def test_an_entry_of_an_unlinked_project_is_left_out(receiving: Receiving):
    from tests.connectors.procore.fixtures import START_STOP_PROJECT_ID

    receiving.emulator.create_in_procore(
        START_STOP_PROJECT_ID, party_id=receiving_party(), date=WORK_DATE.isoformat(),
        time_in="2026-06-03T07:00:00-04:00", time_out="2026-06-03T15:00:00-04:00")
    receiving.emulator.wait_for_deliveries()

    [event] = InboundEvent.objects.filter(integration=receiving.integration)
    assert event.state == InboundState.IGNORED
    assert "not linked" in event.outcome


def test_disconnect_removes_the_hook_and_the_secret(receiving: Receiving):
    assert len(receiving.emulator.hooks()) == 1

    sync_services.integration_disconnect(actor=receiving.admin,
                                         integration=receiving.integration)

    assert receiving.emulator.hooks() == []
    assert not ProcoreReceiver.objects.filter(integration=receiving.integration).exists()


def test_one_tenants_failing_sweep_does_not_stop_the_others(receiving: Receiving):
    broken = make_receiving_integration(receiving.emulator)
    broken.settings = {**broken.settings, "api_base_url": "http://127.0.0.1:9"}
    broken.save()
    entry = receiving.create_in_procore(hours="7.50")
    receiving.emulator.inject_delivery("drop")
    receiving.emulator.edit_in_procore(entry["id"], hours="5.00")
    receiving.emulator.wait_for_deliveries()

    swept = procore_receive.procore_sweeps_run()

    assert swept == [receiving.integration.pk]
    assert receiving.shifts()[0].paid_hours == Decimal("5.00")


def receiving_party() -> int:
    from tests.connectors.procore.fixtures import AARON

    return AARON


def factories_shift(receiving: Receiving):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from timesync import services

    start = datetime(2026, 6, 3, 7, tzinfo=ZoneInfo("America/Toronto"))
    return services.shift_create(actor=receiving.admin, worker=receiving.aaron,
                                 project=receiving.project, start=start,
                                 end=start + timedelta(hours=8))


def _writes(receiving: Receiving) -> int:
    return sum(receiving.emulator.request_count(method)
               for method in ("POST", "PATCH", "DELETE")) - \
        receiving.emulator.request_count("POST", "/webhooks/") - \
        receiving.emulator.request_count("POST", "/oauth/")



def test_an_older_state_applied_after_a_newer_one_changes_nothing(receiving: Receiving):
    """Two workers may fetch one entry at different moments and apply in the other order."""
    entry = receiving.create_in_procore(hours="7.50")
    older = receiving.emulator.entry(entry["id"])
    receiving.emulator.advance_clock(60)
    receiving.emulator.edit_in_procore(entry["id"], hours="10.00")
    receiving.emulator.wait_for_deliveries()
    late = InboundEvent.objects.create(
        organization=receiving.integration.organization, integration=receiving.integration,
        event_key="sweep-late", source=InboundSource.SWEEP, event_type="update",
        resource_id=str(entry["id"]), payload={"entry": older})

    procore_receive.inbound_event_process(event_id=late.pk)

    late.refresh_from_db()
    assert late.state == InboundState.UNCHANGED
    assert receiving.shifts()[0].paid_hours == Decimal("10.00")


def connect_through_the_api(api, emulator, direction: str):
    from connectors.procore.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    from tests.connectors.procore.fixtures import COMPANY_ID
    from timesync.models import Role

    admin = factories.MembershipFactory(role=Role.ADMIN)
    answer = api(admin).post(f"/api/v1/orgs/{admin.organization.slug}/integrations/", {
        "kind": "procore", "name": "Procore",
        "settings": {"api_base_url": emulator.api_base_url,
                     "login_base_url": emulator.login_base_url, "company_id": COMPANY_ID,
                     "grant": "client_credentials", "direction": direction},
        "credentials": {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET},
    }, format="json")
    assert answer.status_code == 201, answer.json()
    return admin, answer.json()


def test_connecting_a_receiving_integration_makes_its_hook_at_procore(
        procore_emulator, live_server, settings, api):
    settings.SITE_URL = live_server.url

    _, data = connect_through_the_api(api, procore_emulator, "receive")

    [hook] = procore_emulator.hooks()
    receiver = ProcoreReceiver.objects.get(integration_id=data["id"])
    assert hook["destination_url"] == procore_receive.webhook_url(receiver)
    assert len(hook["triggers"]) == 3


def test_an_integration_that_only_sends_makes_no_hook(procore_emulator, live_server,
                                                      settings, api):
    settings.SITE_URL = live_server.url

    connect_through_the_api(api, procore_emulator, "send")

    assert procore_emulator.hooks() == []


def test_the_direction_gaining_receive_makes_the_hook_and_losing_it_removes_it(
        procore_emulator, live_server, settings, api):
    from timesync.models import Integration

    settings.SITE_URL = live_server.url
    admin, data = connect_through_the_api(api, procore_emulator, "send")
    integration = Integration.objects.get(pk=data["id"])

    sync_services.integration_update(actor=admin, integration=integration,
                                     settings={**integration.settings, "direction": "both"})
    assert len(procore_emulator.hooks()) == 1

    integration.refresh_from_db()
    sync_services.integration_update(actor=admin, integration=integration,
                                     settings={**integration.settings, "direction": "send"})
    assert procore_emulator.hooks() == []
