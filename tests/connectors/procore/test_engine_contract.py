"""ProcoreConnector as the sync engine calls it (timesync.sync.push.perform): the outcomes the
engine decides on, for a lost answer, a lock and a refused token."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from connectors.base import TimecardEntry
from connectors.procore.client import ProcoreClient, ProcoreConnector
from tests.connectors.procore.fixtures import AARON, COMPANY_ID, EMULATOR_ALLOWED, PROJECT_ID
from timesync.sync.ledger import OpKind, RemoteOp, ResultKind
from timesync.sync.push import perform

DAY = date(2025, 3, 10)
KEY = "timesync-1-2-345-1"
ENTRY = TimecardEntry(
    idempotency_key=KEY, worker_remote_id=str(AARON), project_remote_id=str(PROJECT_ID),
    cost_code_remote_id="03-100", work_date=DAY, hours=Decimal("8"), time_type="regular",
)


def op(kind: OpKind, **fields: object) -> RemoteOp:
    values: dict[str, object] = {"kind": kind, "record_id": 1, "revision": 1, "shift_id": 345,
                                 "idempotency_key": KEY, "entry": ENTRY,
                                 "project_remote_id": str(PROJECT_ID), "work_date": DAY}
    return RemoteOp(**{**values, **fields})


def test_a_lost_create_is_unknown_then_found_by_its_key_without_a_duplicate(
        procore, procore_emulator):
    procore_emulator.inject("lose_response", count=1, method="POST")

    created = perform(procore, op(OpKind.CREATE))
    found = perform(procore, op(OpKind.FIND))

    assert created.kind == ResultKind.UNKNOWN
    assert found.kind == ResultKind.APPLIED
    assert [e["id"] for e in procore_emulator.entries()] == [int(found.remote.remote_id)]


def test_an_update_to_a_locked_entry_is_rejected_with_a_readable_reason(
        procore, procore_emulator):
    remote = perform(procore, op(OpKind.CREATE)).remote
    procore_emulator.set_approval_status(int(remote.remote_id), "completed")

    result = perform(procore, op(OpKind.UPDATE, remote_id=remote.remote_id))

    assert result.kind == ResultKind.REJECTED
    assert "Aaron Abbott's entry of 2025-03-10" in result.message


def test_a_revoked_grant_stops_the_run_as_permanent(procore_emulator, procore_tokens):
    procore_emulator.revoke_grant_of(procore_tokens.refresh_token)
    # The caller's refresher: whatever it returns, Procore no longer takes it.
    client = ProcoreClient(procore_emulator.api_base_url, COMPANY_ID,
                           procore_tokens.access_token, lambda: "not-a-token",
                           policy=EMULATOR_ALLOWED)

    result = perform(ProcoreConnector(client), op(OpKind.CREATE))

    assert result.kind == ResultKind.NOT_APPLIED
    assert result.permanent is True
    assert "Reconnect" in result.message
    assert procore_emulator.entries() == []


def test_the_engine_hook_beats_before_every_page(procore, procore_emulator):
    procore_emulator.seed(people=[{"last_name": f"Crew {n}"} for n in range(150)])
    beats: list[int] = []
    procore.set_request_hook(lambda: beats.append(1))

    procore.list_workers()

    assert len(beats) == procore_emulator.request_count() == 2
