"""Our webhook endpoint as Procore (the emulator) and a stranger reach it over HTTP: the hook is
made at connect with our secret in its headers, and only that secret gets an event stored."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.connectors.procore.fixtures import AARON, COMPANY_ID, PROJECT_ID
from tests.timesync.sync.procore_world import (
    WORK_DATE,
    Receiving,
    eager_tasks,
    procore_emulator,
    receiving,
)
from timesync import crypto
from timesync.models import InboundEvent, InboundState, ProcoreReceiver
from timesync.sync import procore_receive

__all__ = ["eager_tasks", "procore_emulator", "receiving"]
pytestmark = pytest.mark.django_db(transaction=True)


def event(**overrides) -> dict:
    return {"id": 991, "ulid": "01J0000000000000000000000", "timestamp": "2026-06-03T12:00:00Z",
            "resource_name": "Timecard Entries", "resource_id": 5_000_000_001,
            "event_type": "update", "company_id": COMPANY_ID, "project_id": PROJECT_ID,
            "user_id": 1, "metadata": {"source_application_id": None}, **overrides}


def post(receiving: Receiving, body: dict | bytes, *, secret: str | None,
         public_id: object = None) -> requests.Response:
    receiver = ProcoreReceiver.objects.get(integration=receiving.integration)
    url = procore_receive.webhook_url(receiver)
    if public_id is not None:
        url = url.replace(str(receiver.public_id), str(public_id))
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["Authorization"] = secret
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(url, data=data, headers=headers, timeout=5)


def our_secret(receiving: Receiving) -> str:
    receiver = ProcoreReceiver.objects.get(integration=receiving.integration)
    return crypto.decrypt_json(receiver.secret_encrypted)["secret"]


def test_connecting_makes_a_company_hook_with_its_triggers_and_our_secret(
        receiving: Receiving):
    [hook] = receiving.emulator.hooks()
    receiver = ProcoreReceiver.objects.get(integration=receiving.integration)

    assert hook["owned_by_company_id"] == COMPANY_ID
    assert hook["destination_url"] == procore_receive.webhook_url(receiver)
    assert hook["destination_headers"]["Authorization"] == our_secret(receiving)
    assert sorted(t["event_type"] for t in hook["triggers"]) == ["create", "delete", "update"]
    assert {t["resource_name"] for t in hook["triggers"]} == {"Timecard Entries"}
    assert our_secret(receiving) not in receiver.secret_encrypted  # kept encrypted


def test_a_wrong_secret_is_refused_and_nothing_is_stored(receiving: Receiving):
    answer = post(receiving, event(), secret="not-the-secret")

    assert answer.status_code == 401
    assert not InboundEvent.objects.exists()


def test_no_secret_is_refused(receiving: Receiving):
    assert post(receiving, event(), secret=None).status_code == 401
    assert not InboundEvent.objects.exists()


def test_the_right_secret_at_another_address_is_refused(receiving: Receiving):
    answer = post(receiving, event(), secret=our_secret(receiving), public_id=uuid.uuid4())

    assert answer.status_code == 401
    assert not InboundEvent.objects.exists()


def test_an_oversized_body_is_refused_before_it_is_read(receiving: Receiving):
    big = json.dumps(event(padding="x" * (procore_receive.MAX_BODY_BYTES + 1))).encode()

    answer = post(receiving, big, secret=our_secret(receiving))

    assert answer.status_code == 413
    assert not InboundEvent.objects.exists()


def test_a_body_that_is_not_an_event_is_refused(receiving: Receiving):
    answer = post(receiving, b"[1, 2", secret=our_secret(receiving))

    assert answer.status_code == 400
    assert not InboundEvent.objects.exists()


def test_procores_delivery_needs_no_session_or_csrf_token_and_is_stored_once(
        receiving: Receiving):
    first = post(receiving, event(), secret=our_secret(receiving))
    again = post(receiving, event(), secret=our_secret(receiving))

    assert (first.status_code, again.status_code) == (202, 200)
    assert InboundEvent.objects.filter(integration=receiving.integration).count() == 1


def test_an_event_our_own_app_caused_changes_nothing(receiving: Receiving):
    entry = receiving.emulator.create_in_procore(PROJECT_ID, party_id=AARON,
                                                 date=WORK_DATE.isoformat(), hours="8.00")
    receiving.emulator.wait_for_deliveries()
    shifts = receiving.shifts()

    answer = post(receiving, event(id=992, resource_id=entry["id"], metadata={
        "source_application_id": "timesync-app"}), secret=our_secret(receiving))

    assert answer.status_code == 200
    stored = InboundEvent.objects.get(event_key="webhook-992")
    assert stored.state == InboundState.IGNORED
    assert receiving.shifts() == shifts
