"""The integrations' audit trail: who changed what and when, before → after, written with the
change itself, never holding a secret, and seen only inside the organization."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tests import factories
from timesync.models import AuditEvent, IntegrationAuditEntry, Role
from timesync.sync import catalog
from timesync.sync import services as sync_services
from timesync.sync.selectors import integration_audit_log

from .conftest import API_KEY

pytestmark = pytest.mark.django_db


def entries(world, event: str) -> list[IntegrationAuditEntry]:
    return list(integration_audit_log(integration=world.integration).filter(event=event))


def changes(entry: IntegrationAuditEntry) -> list[tuple[str, str, str]]:
    return [(c["field"], c["before"], c["after"]) for c in entry.changes]


def test_a_hand_link_is_recorded_with_who_and_before_and_after(world):
    sync_services.worker_link_set(actor=world.payroll, integration=world.integration,
                                  worker=world.workers["ana"], remote_worker_id="3002")

    (entry,) = entries(world, AuditEvent.WORKER_LINK_SET)
    assert (entry.actor, entry.subject) == (world.payroll.user, "Ana Silva")
    assert changes(entry) == [("Linked to", "1001 (matched by employee number)",
                               "3002 (by hand)")]


def test_removing_a_hand_link_is_recorded(world):
    cy = world.workers["cy"]
    sync_services.worker_link_set(actor=world.payroll, integration=world.integration,
                                  worker=cy, remote_worker_id="7007")
    sync_services.worker_link_set(actor=world.payroll, integration=world.integration,
                                  worker=cy, remote_worker_id="")

    newest = entries(world, AuditEvent.WORKER_LINK_SET)[0]
    assert changes(newest) == [("Linked to", "7007 (by hand)", "—")]


def test_a_cost_code_linked_by_hand_is_recorded(world):
    sync_services.cost_code_link_set(actor=world.admin, integration=world.integration,
                                     cost_code=world.cost_code, remote_cost_code_id="03.999")

    (entry,) = entries(world, AuditEvent.COST_CODE_LINK_SET)
    assert changes(entry) == [("Linked to", "03.100 (matched by code)", "03.999 (by hand)")]


def test_a_project_link_change_is_recorded_field_by_field(world):
    sync_services.project_link_set(actor=world.payroll, integration=world.integration,
                                   project=world.project, remote_project_id="24-102",
                                   sync_only_approved=True)

    (entry,) = entries(world, AuditEvent.PROJECT_LINK_SET)
    assert entry.subject == "24-101 King Street Tower"
    assert changes(entry) == [("Remote job", "24-101", "24-102"),
                              ("Sync Only Approved Shifts", "off", "on")]


def test_a_settings_change_is_recorded_before_and_after(world):
    sync_services.integration_update(actor=world.admin, integration=world.integration,
                                     name="Plexxis Payroll", schedule_enabled=True)

    (entry,) = entries(world, AuditEvent.SETTINGS_CHANGED)
    assert changes(entry) == [("Name", "Plexxis V2", "Plexxis Payroll"),
                              ("Sync every night", "off", "on")]


def test_new_credentials_are_recorded_as_replaced_never_as_a_value(world):
    sync_services.integration_update(actor=world.admin, integration=world.integration,
                                     credentials={"api_key": "new-secret-key"})

    (entry,) = entries(world, AuditEvent.CREDENTIALS_REPLACED)
    assert entry.note == "Credentials replaced."
    stored = list(IntegrationAuditEntry.objects.values_list("subject", "note", "changes"))
    assert "new-secret-key" not in str(stored)
    assert API_KEY not in str(stored)


def test_a_secret_put_in_the_settings_is_refused_and_leaves_no_trail(world):
    with pytest.raises(ValidationError):
        sync_services.integration_update(
            actor=world.admin, integration=world.integration,
            settings={**world.integration.settings, "api_key": "oops-in-clear"})

    assert entries(world, AuditEvent.SETTINGS_CHANGED) == []
    stored = list(IntegrationAuditEntry.objects.values_list("subject", "note", "changes"))
    assert "oops-in-clear" not in str(stored)


def test_connecting_is_recorded(world):
    integration = sync_services.integration_connect(
        actor=world.admin, kind="plexxis", name="Plexxis Two",
        settings={"base_url": world.emulator.base_url}, credentials={"api_key": API_KEY})

    (entry,) = integration_audit_log(integration=integration)
    assert (entry.event, entry.actor) == (AuditEvent.CONNECTED, world.admin.user)
    assert entry.note == f"Connected to Plexxis at {world.emulator.base_url}."


def test_disconnecting_is_recorded_with_what_was_removed(world):
    sync_services.integration_disconnect(actor=world.admin, integration=world.integration)

    (entry,) = entries(world, AuditEvent.DISCONNECTED)
    assert entry.note == ("Removed 1 project links, 2 worker links, 1 cost code links, the "
                          "credentials and the schedule.")


def test_a_refresh_by_hand_is_recorded_with_who_asked(world):
    sync_services.integration_catalog_refresh(actor=world.admin, integration=world.integration)
    catalog.catalog_fetch(integration_id=world.integration.pk)

    newest = entries(world, AuditEvent.CATALOG_REFRESHED)[0]
    assert newest.actor == world.admin.user
    assert newest.note == ("Read 2 employees, 2 jobs and 1 cost code. Not matched: 1 worker, "
                           "0 projects, 0 cost codes.")


def test_a_refused_change_leaves_no_entry(world):
    other = sync_services.integration_create(actor=world.admin, kind="plexxis", name="Second")
    with pytest.raises(ValidationError):
        sync_services.integration_update(actor=world.admin, integration=other,
                                         name="Plexxis V2")
    assert not IntegrationAuditEntry.objects.filter(event=AuditEvent.SETTINGS_CHANGED).exists()


def test_the_trail_is_newest_first(world):
    sync_services.integration_update(actor=world.admin, integration=world.integration,
                                     schedule_enabled=True)
    sync_services.integration_update(actor=world.admin, integration=world.integration,
                                     schedule_enabled=False)

    trail = list(integration_audit_log(integration=world.integration))
    assert [changes(e)[0][2] for e in trail[:2]] == ["off", "on"]


def test_another_organizations_trail_holds_none_of_ours(world):
    sync_services.integration_update(actor=world.admin, integration=world.integration,
                                     schedule_enabled=True)
    outsider = factories.MembershipFactory(role=Role.ADMIN)
    theirs = sync_services.integration_create(actor=outsider, kind="plexxis", name="Plexxis V2")

    trail = list(integration_audit_log(integration=theirs))

    assert [entry.organization_id for entry in trail] == [outsider.organization_id]
