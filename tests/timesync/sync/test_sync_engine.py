"""A payroll admin's hours reach Plexxis once and only once, and follow later edits."""

from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.core import mail

from timesync import services
from timesync.models import ProjectLink, SyncState
from timesync.sync import services as sync_services
from timesync.sync.planning import round_hours

from .conftest import API_KEY, WORK_DATE, run_to_completion

pytestmark = pytest.mark.django_db


def test_first_sync_creates_one_entry_per_shift_with_its_hours(world):
    world.shift("ana", hours=8.5)
    world.shift("ben", start_hour=6, hours=10.5, time_type="overtime")
    run = run_to_completion(world.start_run().pk)
    assert run.state == SyncState.SUCCEEDED
    assert (run.created_count, run.updated_count, run.deleted_count) == (2, 0, 0)
    entries = world.remote_entries()
    assert [(e["employee_code"], e["job_number"], e["cost_code"], e["hours"], e["hour_type"])
            for e in entries] == [
        ("1001", "24-101", "03.100", "8.00", "Regular"),
        ("1002", "24-101", "03.100", "10.00", "Overtime"),
    ]
    assert run.hours_sent == run.hours_remote == Decimal("18.00")


def test_resync_of_an_unchanged_day_writes_nothing(world):
    world.shift("ana")
    run_to_completion(world.start_run().pk)
    writes_before = sum(world.emulator.request_count(m) for m in ("POST", "PATCH", "DELETE"))
    run = run_to_completion(world.start_run().pk)
    assert run.state == SyncState.SUCCEEDED
    assert (run.created_count, run.unchanged_count) == (0, 1)
    assert sum(world.emulator.request_count(m) for m in ("POST", "PATCH", "DELETE")) \
        == writes_before


def test_edit_delete_reject_then_resync_leaves_exactly_the_eligible_shifts(world):
    edited = world.shift("ana")
    deleted = world.shift("ben")
    rejected = world.shift("ana", start_hour=17, hours=3)
    kept = world.shift("ben", start_hour=17, hours=3)
    run_to_completion(world.start_run().pk)
    assert len(world.remote_entries()) == 4

    services.shift_update(actor=world.payroll, shift=edited, break_minutes=60)
    services.shift_delete(actor=world.payroll, shift=deleted)
    services.shift_decide(actor=world.payroll, shift=rejected, approve=False, reason="no show")
    run = run_to_completion(world.start_run().pk)

    assert run.state == SyncState.SUCCEEDED
    assert (run.created_count, run.updated_count, run.deleted_count, run.unchanged_count) \
        == (0, 1, 2, 1)
    assert [(e["employee_code"], e["hours"]) for e in world.remote_entries()] == [
        ("1001", "7.50"), ("1002", "2.50"),
    ]
    assert kept.pk  # the untouched one is still there, once


def test_unknown_worker_is_skipped_with_a_warning(world):
    world.shift("ana")
    world.shift("cy")
    run = run_to_completion(world.start_run().pk)
    assert run.state == SyncState.SUCCEEDED_WITH_WARNINGS
    assert (run.created_count, run.skipped_count) == (1, 1)
    skipped = run.entries.get(outcome="skipped")
    assert skipped.worker_name == "Cy Unknown"
    assert "not found in Plexxis" in skipped.message
    assert [e["employee_code"] for e in world.remote_entries()] == ["1001"]


def test_sync_only_approved_sends_approved_shifts_and_removes_the_rest(world):
    approved = world.shift("ana")
    world.shift("ben")
    services.shift_decide(actor=world.payroll, shift=approved, approve=True)
    run_to_completion(world.start_run().pk)
    assert len(world.remote_entries()) == 2  # the default: every shift not rejected
    sync_services.project_link_set(actor=world.payroll, integration=world.integration,
                                   project=world.project, sync_only_approved=True)
    run = run_to_completion(world.start_run().pk)
    assert run.deleted_count == 1
    assert [e["employee_code"] for e in world.remote_entries()] == ["1001"]


def test_a_shift_moved_to_another_day_leaves_the_old_day_and_arrives_on_the_new(world):
    shift = world.shift("ana")
    run_to_completion(world.start_run().pk)
    next_day = WORK_DATE + timedelta(days=1)
    services.shift_update(actor=world.payroll, shift=shift, start=shift.start + timedelta(days=1),
                          end=shift.end + timedelta(days=1))
    run = run_to_completion(world.start_run(day=next_day).pk)
    assert run.created_count == 1
    assert world.remote_entries(WORK_DATE) == []
    assert [e["work_date"] for e in world.remote_entries(next_day)] == [next_day.isoformat()]


def test_an_entry_deleted_by_hand_in_plexxis_is_sent_again_when_the_shift_changes(world):
    shift = world.shift("ana")
    run_to_completion(world.start_run().pk)
    remote_id = world.remote_entries()[0]["id"]
    requests.delete(f"{world.emulator.base_url}/timecard-entries/{remote_id}",
                    headers={"X-API-Key": API_KEY}, timeout=5)
    services.shift_update(actor=world.payroll, shift=shift, notes="poured slab")
    run = run_to_completion(world.start_run().pk)
    assert run.created_count == 1
    assert len(world.remote_entries()) == 1


def test_hours_entered_by_hand_in_plexxis_are_a_warning(world):
    world.shift("ana")
    world.emulator.seed(entries=[{
        "employee_code": "1002", "job_number": "24-101", "work_date": WORK_DATE.isoformat(),
        "hours": "4.00", "hour_type": "Regular", "external_reference": "", "notes": "by hand",
    }])
    run = run_to_completion(world.start_run().pk)
    assert run.state == SyncState.SUCCEEDED_WITH_WARNINGS
    assert (run.hours_sent, run.hours_remote) == (Decimal("8.00"), Decimal("12.00"))
    assert "holds 12.00 hours" in run.warnings[0]


def test_a_project_without_a_link_fails_with_what_to_do(world):
    ProjectLink.objects.filter(integration=world.integration).delete()
    world.shift("ana")
    run = run_to_completion(world.start_run().pk)
    assert run.state == SyncState.FAILED
    assert "not linked" in run.error
    assert "Mappings" in run.error


def test_a_refused_api_key_fails_the_run_and_emails_opted_in_admins_once(
    world, django_capture_on_commit_callbacks
):
    from config.celery import app

    sync_services.integration_update(actor=world.admin, integration=world.integration,
                                     credentials={"api_key": "wrong"})
    world.shift("ana")
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run = world.start_run()
        # Eager mode ran the task inside the callback; run it again: still one email.
        with django_capture_on_commit_callbacks(execute=True):
            run_to_completion(run.pk)
    finally:
        app.conf.task_always_eager = False
    run.refresh_from_db()
    assert run.state == SyncState.FAILED
    assert "API key" in run.error
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [world.admin.user.email]
    assert "King Street Tower" in message.subject
    assert "Plexxis V2" in message.subject
    assert f"/logs/{run.pk}/" in message.body
    assert "API key" in message.body


def test_hours_rounding_applies_once_as_the_integration_says():
    assert round_hours(7 * 3600 + 50 * 60, "quarter") == Decimal("7.75")
    assert round_hours(7 * 3600 + 53 * 60, "quarter") == Decimal("8.00")
    assert round_hours(7 * 3600 + 50 * 60, "tenth") == Decimal("7.80")
    assert round_hours(7 * 3600 + 50 * 60, "none") == Decimal("7.83")


def test_the_preview_counts_only_the_workers_whose_hours_it_sends(world):
    from timesync.sync.selectors import sync_preview

    world.shift("ana")
    world.shift("ben")
    world.shift("cy")
    preview = sync_preview(integration=world.integration, project=world.project,
                           work_date=WORK_DATE)
    assert (preview.workers, preview.hours, preview.skips) == (2, Decimal("16.00"), 1)
