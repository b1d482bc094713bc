"""The integration page's Procore messages: a failed message says why and its Retry button
applies it once the cause is fixed; the API does the same."""

from __future__ import annotations

import pytest
from django.test import Client

from tests import factories
from tests.connectors.procore.fixtures import ADRIANA
from tests.timesync.sync.procore_world import (
    Receiving,
    eager_tasks,
    procore_emulator,
    receiving,
)
from timesync.models import InboundEvent, InboundState, MatchField, Role, WorkerLink

__all__ = ["eager_tasks", "procore_emulator", "receiving"]
pytestmark = pytest.mark.django_db(transaction=True)


def failed_message(receiving: Receiving) -> InboundEvent:
    receiving.configure(create_workers=False)  # so her time card waits for a link by hand
    receiving.create_in_procore(hours="7.50", party_id=ADRIANA)
    return InboundEvent.objects.get(integration=receiving.integration,
                                    state=InboundState.FAILED)


def link_adriana(receiving: Receiving):
    adriana = factories.WorkerFactory(organization=receiving.integration.organization,
                                      name="Adriana Alvarez")
    WorkerLink.objects.create(organization=adriana.organization,
                              integration=receiving.integration, worker=adriana,
                              remote_worker_id=str(ADRIANA), matched_by=MatchField.MANUAL)
    return adriana


def page_url(receiving: Receiving) -> str:
    return (f"/o/{receiving.integration.organization.slug}/integrations/"
            f"{receiving.integration.pk}/settings/")


def test_the_page_lists_a_failed_message_with_its_reason_and_a_retry_button(
        receiving: Receiving):
    message = failed_message(receiving)
    client = Client()
    client.force_login(receiving.admin.user)

    page = client.get(page_url(receiving)).content.decode()

    assert "Procore messages" in page
    assert "Adriana Alvarez (Procore person" in page
    assert f"/procore/messages/{message.pk}/retry/" in page


def test_the_retry_button_applies_a_failed_message_once_its_worker_is_linked(
        receiving: Receiving):
    message = failed_message(receiving)
    adriana = link_adriana(receiving)
    client = Client()
    client.force_login(receiving.admin.user)

    answer = client.post(f"/o/{receiving.integration.organization.slug}/integrations/"
                         f"{receiving.integration.pk}/procore/messages/{message.pk}/retry/")

    assert answer.status_code == 302
    message.refresh_from_db()
    assert message.state == InboundState.APPLIED
    assert [s.worker for s in receiving.shifts()] == [adriana]
    assert "Created Adriana Alvarez" in client.get(page_url(receiving)).content.decode()


def test_the_api_lists_failed_messages_and_retries_one(receiving: Receiving, api):
    message = failed_message(receiving)
    link_adriana(receiving)
    base = (f"/api/v1/orgs/{receiving.integration.organization.slug}/integrations/"
            f"{receiving.integration.pk}/procore-messages/")

    listed = api(receiving.admin).get(base, {"state": "failed"}).json()
    retried = api(receiving.admin).post(f"{base}{message.pk}/retry/")

    assert [m["id"] for m in listed["results"]] == [message.pk]
    assert retried.status_code == 202
    message.refresh_from_db()
    assert message.state == InboundState.APPLIED


def test_a_viewer_cannot_retry_a_message(receiving: Receiving, api):
    message = failed_message(receiving)
    viewer = factories.MembershipFactory(organization=receiving.integration.organization,
                                         role=Role.VIEWER)
    base = (f"/api/v1/orgs/{receiving.integration.organization.slug}/integrations/"
            f"{receiving.integration.pk}/procore-messages/")

    assert api(viewer).post(f"{base}{message.pk}/retry/").status_code == 403
    message.refresh_from_db()
    assert message.state == InboundState.FAILED
