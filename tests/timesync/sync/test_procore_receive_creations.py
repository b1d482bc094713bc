"""What a time card entered in Procore creates here, against the emulator over HTTP: the worker
of a new person, the cost code, a project per sub job, as the integration's settings allow;
its time type matched to ours or refused; its classification kept."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from tests import factories
from tests.connectors.procore.fixtures import (
    AARON,
    ADRIANA,
    COMPANY_ID,
    PROJECT_ID,
    SUB_JOB_ID,
    VISITOR,
)
from tests.timesync.sync.procore_world import (
    WORK_DATE,
    Receiving,
    eager_tasks,
    procore_emulator,
    receiving,
)
from timesync.models import (
    AuditEvent,
    CostCode,
    CostCodeLink,
    InboundEvent,
    InboundSource,
    InboundState,
    IntegrationAuditEntry,
    Project,
    ProjectLink,
    Shift,
    TimeType,
    Worker,
    WorkerLink,
)
from timesync.sync import procore_receive

__all__ = ["eager_tasks", "procore_emulator", "receiving"]
pytestmark = pytest.mark.django_db(transaction=True)

PROJECT_COST_CODE = 7_300_000_001  # 03-100 Concrete Formwork on PROJECT_ID


def only_event(receiving: Receiving) -> InboundEvent:
    [event] = InboundEvent.objects.filter(integration=receiving.integration)
    return event


# --- Workers ----------------------------------------------------------------------------------


def test_a_time_card_of_a_new_procore_employee_creates_the_worker_and_the_shift(
        receiving: Receiving):
    receiving.create_in_procore(hours="7.50", party_id=ADRIANA)

    adriana = Worker.objects.get(organization=receiving.integration.organization,
                                 employee_number="1002")
    assert adriana.name == "Adriana Alvarez"
    assert WorkerLink.objects.get(integration=receiving.integration,
                                  worker=adriana).remote_worker_id == str(ADRIANA)
    [shift] = receiving.shifts()
    assert (shift.worker, shift.paid_hours) == (adriana, Decimal("7.50"))
    assert adriana.history.first().history_user.full_name == "From Procore"


def test_what_a_time_card_created_is_said_in_its_outcome_and_the_audit_trail(
        receiving: Receiving):
    receiving.create_in_procore(hours="7.50", party_id=ADRIANA)

    event = only_event(receiving)
    assert event.state == InboundState.APPLIED
    assert "worker Adriana Alvarez (employee number 1002)" in event.outcome
    entry = IntegrationAuditEntry.objects.get(integration=receiving.integration,
                                              event=AuditEvent.CREATED_FROM_REMOTE)
    assert entry.subject == "Adriana Alvarez (employee number 1002)"
    assert entry.actor.full_name == "From Procore"


def test_with_worker_creation_off_the_message_fails_naming_the_person_and_the_fix(
        receiving: Receiving):
    receiving.configure(create_workers=False)

    receiving.create_in_procore(hours="7.50", party_id=ADRIANA)

    event = only_event(receiving)
    assert event.state == InboundState.FAILED
    assert "Adriana Alvarez" in event.outcome
    assert "does not create workers" in event.outcome
    assert "Mappings page" in event.outcome
    assert not Worker.objects.filter(name="Adriana Alvarez").exists()


def test_a_person_procore_does_not_mark_as_an_employee_is_never_made_a_worker(
        receiving: Receiving):
    receiving.create_in_procore(hours="7.50", party_id=VISITOR)

    event = only_event(receiving)
    assert event.state == InboundState.FAILED
    assert "Vera Visitor" in event.outcome
    assert "employee" in event.outcome
    assert receiving.shifts() == []
    assert not Worker.objects.filter(name="Vera Visitor").exists()


def test_a_new_person_whose_employee_number_a_worker_of_ours_has_is_linked_to_that_worker(
        receiving: Receiving):
    ours = factories.WorkerFactory(organization=receiving.integration.organization,
                                   name="A. Alvarez", employee_number="1002")

    receiving.create_in_procore(hours="7.50", party_id=ADRIANA)

    assert Worker.objects.filter(organization=ours.organization,
                                 employee_number="1002").count() == 1
    assert WorkerLink.objects.get(integration=receiving.integration,
                                  remote_worker_id=str(ADRIANA)).worker == ours
    assert [shift.worker for shift in receiving.shifts()] == [ours]


def test_two_time_cards_of_one_new_person_applied_at_once_make_one_worker(
        receiving: Receiving, monkeypatch):
    """Two webhooks, two workers, both having read that nothing is linked to the person:
    they meet at a barrier just before taking the receiver's lock, then race to create."""
    receiving.emulator.inject_delivery("drop", count=2)  # delivered below, at once
    entries = [receiving.emulator.create_in_procore(PROJECT_ID, party_id=ADRIANA,
                                                    date=WORK_DATE.isoformat(), hours=hours)
               for hours in ("4.00", "3.50")]
    receiving.emulator.wait_for_deliveries()
    events = [InboundEvent.objects.create(
        organization=receiving.integration.organization, integration=receiving.integration,
        event_key=f"webhook-{entry['id']}", source=InboundSource.WEBHOOK, event_type="create",
        resource_id=str(entry["id"])) for entry in entries]

    procore_receive.system_actor(receiving.integration)  # exists already, as in production
    barrier = threading.Barrier(2, timeout=20)
    read_person, find_worker = procore_receive._person_if_needed, procore_receive._worker_for

    def read_then_meet(*args, **kwargs):
        person = read_person(*args, **kwargs)
        barrier.wait()
        return person

    # The first to look for the worker waits until the other looks too, or is seen waiting
    # in PostgreSQL for a lock this one holds: without the lock both look, find nothing,
    # and both create.
    entered: list[int] = []
    both_in = threading.Event()

    def meet_then_find(*args, **kwargs):
        entered.append(threading.get_ident())
        if len(entered) == 2:
            both_in.set()
        deadline = time.monotonic() + 20
        while not both_in.wait(0.02) and not another_waits_for_my_lock() \
                and time.monotonic() < deadline:
            pass
        return find_worker(*args, **kwargs)

    monkeypatch.setattr(procore_receive, "_person_if_needed", read_then_meet)
    monkeypatch.setattr(procore_receive, "_worker_for", meet_then_find)

    def process(event_id: int) -> None:
        try:
            procore_receive.inbound_event_process(event_id=event_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=process, args=(e.pk,)) for e in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert Worker.objects.filter(organization=receiving.integration.organization,
                                 name="Adriana Alvarez").count() == 1
    assert [e.state for e in InboundEvent.objects.all()] == [InboundState.APPLIED] * 2
    shifts = sorted(receiving.shifts(), key=lambda shift: shift.start)
    assert [shift.paid_hours for shift in shifts] in (
        [Decimal("4.00"), Decimal("3.50")], [Decimal("3.50"), Decimal("4.00")])
    assert shifts[0].end <= shifts[1].start  # one after the other, not overlapping


def another_waits_for_my_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity "
                       "WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))")
        return cursor.fetchone()[0] > 0


# --- Cost codes -------------------------------------------------------------------------------


def test_a_cost_code_no_code_of_ours_is_linked_to_is_created_and_linked(receiving: Receiving):
    receiving.create_in_procore(hours="7.50", cost_code_id=PROJECT_COST_CODE)

    cost_code = CostCode.objects.get(organization=receiving.integration.organization,
                                     code="03-100")
    assert cost_code.name == "Concrete Formwork"
    assert CostCodeLink.objects.get(integration=receiving.integration,
                                    cost_code=cost_code).remote_cost_code_id == "03-100"
    assert receiving.shifts()[0].cost_code == cost_code


def test_with_cost_code_creation_off_the_message_fails_naming_the_code(receiving: Receiving):
    receiving.configure(create_cost_codes=False)

    receiving.create_in_procore(hours="7.50", cost_code_id=PROJECT_COST_CODE)

    event = only_event(receiving)
    assert event.state == InboundState.FAILED
    assert "03-100 Concrete Formwork" in event.outcome
    assert "Mappings page" in event.outcome
    assert receiving.shifts() == []


# --- Sub jobs ---------------------------------------------------------------------------------


def test_a_sub_job_becomes_a_project_of_ours_copying_its_jobs_settings(receiving: Receiving):
    receiving.configure(create_sub_job_projects=True)
    receiving.project.time_zone = "America/Vancouver"
    receiving.project.save()
    ProjectLink.objects.filter(project=receiving.project).update(sync_only_approved=True)

    receiving.create_in_procore(hours="7.50", sub_job_id=SUB_JOB_ID)
    receiving.create_in_procore(hours="2.00", sub_job_id=SUB_JOB_ID)

    podium = Project.objects.get(name="King Street Tower A / Podium")
    link = ProjectLink.objects.get(integration=receiving.integration, project=podium)
    assert link.remote_project_id == f"{PROJECT_ID}/{SUB_JOB_ID}"
    assert (podium.time_zone, link.sync_only_approved) == ("America/Vancouver", True)
    assert Shift.objects.filter(project=podium).count() == 2
    assert receiving.shifts() == []  # nothing on the job's own project


def test_with_sub_job_projects_off_a_sub_jobs_hours_go_to_its_jobs_project(
        receiving: Receiving):
    receiving.create_in_procore(hours="7.50", sub_job_id=SUB_JOB_ID)

    assert [shift.paid_hours for shift in receiving.shifts()] == [Decimal("7.50")]
    assert not Project.objects.filter(name__contains="Podium").exists()


def test_an_entry_moved_in_procore_to_a_project_not_linked_fails_instead_of_leaving_our_shift(
        receiving: Receiving):
    [yard] = receiving.emulator.seed(projects=[{
        "id": 7_100_000_009, "company_id": COMPANY_ID, "name": "Equipment Yard"}])["projects"]
    entry = receiving.create_in_procore(hours="7.50")
    receiving.emulator.move_in_procore(entry["id"], yard["id"])
    receiving.emulator.wait_for_deliveries()

    update = InboundEvent.objects.filter(integration=receiving.integration,
                                         event_type="update").get()
    assert update.state == InboundState.FAILED
    assert str(yard["id"]) in update.outcome
    assert "Aaron Abbott" in update.outcome
    assert [shift.project for shift in receiving.shifts()] == [receiving.project]


# --- Time types and classification ------------------------------------------------------------


def test_a_time_type_known_by_name_is_matched_to_ours(receiving: Receiving):
    [overtime] = receiving.emulator.seed(time_types=[{
        "company_id": COMPANY_ID, "time_type": "Overtime", "abbreviated_time_type": "OVT"}],
    )["time_types"]

    receiving.create_in_procore(hours="2.00", timecard_time_type_id=overtime["id"])

    assert receiving.shifts()[0].time_type == TimeType.OVERTIME


def test_a_time_type_none_of_ours_matches_fails_the_message_naming_it(receiving: Receiving):
    [vacation] = receiving.emulator.seed(time_types=[{
        "company_id": COMPANY_ID, "time_type": "Vacation", "abbreviated_time_type": "VAC"}],
    )["time_types"]

    receiving.create_in_procore(hours="8.00", timecard_time_type_id=vacation["id"])

    event = only_event(receiving)
    assert event.state == InboundState.FAILED
    assert "Vacation (VAC)" in event.outcome
    assert receiving.shifts() == []


def test_the_classification_is_kept_on_the_shift_and_shown_on_its_page(
        receiving: Receiving, browser_client, api):
    [carpenter] = receiving.emulator.seed(work_classifications=[{
        "company_id": COMPANY_ID, "name": "Carpenter Journeyman"}])["work_classifications"]

    receiving.create_in_procore(hours="7.50", work_classification_id=carpenter["id"])

    [shift] = receiving.shifts()
    assert shift.classification == "Carpenter Journeyman"
    slug = receiving.integration.organization.slug
    page = browser_client(receiving.admin).get(reverse(
        "shift_detail", kwargs={"organization_slug": slug, "shift_id": shift.pk}))
    assert "Carpenter Journeyman" in page.content.decode()
    answer = api(receiving.admin).get(f"/api/v1/orgs/{slug}/shifts/{shift.pk}/")
    assert answer.json()["classification"] == "Carpenter Journeyman"


def test_a_classification_changed_in_procore_changes_our_shift(receiving: Receiving):
    rows = receiving.emulator.seed(work_classifications=[
        {"company_id": COMPANY_ID, "name": "Labourer"},
        {"company_id": COMPANY_ID, "name": "Carpenter"}])["work_classifications"]
    entry = receiving.create_in_procore(hours="7.50", work_classification_id=rows[0]["id"])

    receiving.emulator.edit_in_procore(entry["id"], work_classification_id=rows[1]["id"])
    receiving.emulator.wait_for_deliveries()

    assert receiving.shifts()[0].classification == "Carpenter"


# --- Procore asking us to wait ----------------------------------------------------------------


def retries_recorded(monkeypatch) -> list[tuple[int, int]]:
    """The retries scheduled for later (event, countdown), held instead of sent: an eager
    task would run at once, ignoring the countdown. A first delivery is queued as usual."""
    scheduled: list[tuple[int, int]] = []
    queue = procore_receive.inbound_event_enqueue

    def enqueue(event_id: int, *, countdown: int | None = None) -> None:
        if countdown is None:
            queue(event_id)
        else:
            scheduled.append((event_id, countdown))

    monkeypatch.setattr(procore_receive, "inbound_event_enqueue", enqueue)
    return scheduled


def test_a_503_while_processing_leaves_the_message_pending_then_it_is_retried_and_applied(
        receiving: Receiving, monkeypatch):
    scheduled = retries_recorded(monkeypatch)
    receiving.emulator.inject("server_error", status=503, retry_after=30, method="GET",
                              path_contains="/timecard_entries/")

    receiving.create_in_procore(hours="7.50")

    event = only_event(receiving)
    assert event.state == InboundState.PENDING
    assert "503" in event.outcome
    assert scheduled == [(event.pk, 30)]  # Retry-After honoured, not retried at once
    assert event.next_attempt_at is not None
    assert receiving.shifts() == []

    procore_receive.inbound_event_process(event_id=event.pk)  # the retry, when it is due

    event.refresh_from_db()
    assert event.state == InboundState.APPLIED
    assert [shift.paid_hours for shift in receiving.shifts()] == [Decimal("7.50")]


def test_a_429_while_processing_leaves_the_message_pending_and_waits_for_procores_reset(
        receiving: Receiving, monkeypatch):
    from django.core.cache import cache

    scheduled = retries_recorded(monkeypatch)
    receiving.emulator.inject("rate_limit", seconds=40, method="GET",
                              path_contains="/timecard_entries/")

    receiving.create_in_procore(hours="7.50")

    event = only_event(receiving)
    assert event.state == InboundState.PENDING
    [(_, countdown)] = scheduled
    assert countdown >= 40
    cache.clear()  # Procore's window has reset: the shared request budget starts again
    procore_receive.inbound_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.state == InboundState.APPLIED


def test_a_message_procore_keeps_refusing_fails_with_the_reason_after_the_last_attempt(
        receiving: Receiving):
    # Eager tasks: every retry runs at once, so the bound is what ends it.
    receiving.emulator.inject("server_error", status=503, retry_after=30, count=None,
                              method="GET", path_contains="/timecard_entries/")

    receiving.create_in_procore(hours="7.50")

    event = only_event(receiving)
    assert event.state == InboundState.FAILED
    assert event.attempts == procore_receive.MAX_WAIT_ATTEMPTS
    assert "kept asking us to wait" in event.outcome
    assert receiving.shifts() == []


def test_an_admins_retry_of_a_message_that_waited_too_long_gets_every_attempt_again(
        receiving: Receiving):
    receiving.emulator.inject("server_error", status=503, retry_after=30,
                              count=procore_receive.MAX_WAIT_ATTEMPTS + 2, method="GET",
                              path_contains="/timecard_entries/")
    receiving.create_in_procore(hours="7.50")
    event = only_event(receiving)

    procore_receive.inbound_event_retry(actor=receiving.admin,
                                        integration=receiving.integration, event_id=event.pk)

    event.refresh_from_db()
    assert event.state == InboundState.APPLIED  # two more waits, then Procore answered


def test_a_time_card_for_a_day_already_holding_a_shift_starts_after_it(receiving: Receiving):
    receiving.create_in_procore(hours="4.00")
    receiving.create_in_procore(hours="3.00")

    first, second = sorted(receiving.shifts(), key=lambda shift: shift.start)
    assert second.start == first.end
    assert second.start - first.start == timedelta(hours=4)


def test_a_pending_message_whose_task_was_lost_is_queued_again_and_applied(
        receiving: Receiving):
    from django.utils import timezone

    receiving.emulator.inject_delivery("drop")
    entry = receiving.emulator.create_in_procore(PROJECT_ID, party_id=AARON,
                                                 date=WORK_DATE.isoformat(), hours="6.00")
    receiving.emulator.wait_for_deliveries()
    lost = InboundEvent.objects.create(
        organization=receiving.integration.organization, integration=receiving.integration,
        event_key="webhook-lost", source=InboundSource.WEBHOOK, event_type="create",
        resource_id=str(entry["id"]), received_at=timezone.now() - timedelta(hours=1))

    assert procore_receive.inbound_events_requeue() == 1

    lost.refresh_from_db()
    assert lost.state == InboundState.APPLIED
    assert [shift.paid_hours for shift in receiving.shifts()] == [Decimal("6.00")]
