"""ProcoreConnector.create_entries: the company bulk create, BULK_CREATE_MAX entries a request,
one outcome per entry in order (against the emulator over HTTP; every request is checked
against the OpenAPI subset by the fixture)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from connectors.base import RemoteEntry, TimecardEntry, TransientError
from connectors.procore.client import BULK_CREATE_MAX, ProcoreRejected
from tests.connectors.procore.fixtures import AARON, ADRIANA, PROJECT_ID

DAY = date(2025, 3, 10)
BULK = "/timesheets"


def entries(count: int, **overrides: Any) -> list[TimecardEntry]:
    return [TimecardEntry(**{
        "idempotency_key": f"timesync-1-2-{n}-1", "worker_remote_id": str(AARON),
        "project_remote_id": str(PROJECT_ID), "cost_code_remote_id": "03-100",
        "work_date": DAY, "hours": Decimal("2"), "time_type": "regular", **overrides})
        for n in range(count)]


def test_more_entries_than_a_batch_take_one_request_per_batch_in_order(procore,
                                                                        procore_emulator):
    wanted = entries(BULK_CREATE_MAX + 1)

    outcomes = procore.create_entries(wanted)

    assert [o.idempotency_key for o in outcomes] == [e.idempotency_key for e in wanted]
    assert all(isinstance(o, RemoteEntry) for o in outcomes)
    assert procore_emulator.request_count("POST", BULK) == 2
    assert len(procore_emulator.entries()) == BULK_CREATE_MAX + 1


def test_an_entry_a_refused_batch_names_is_rejected_and_the_others_are_created(
        procore, procore_emulator):
    wanted = entries(3)
    wanted[1] = entries(2, worker_remote_id="9100000999")[1]  # nobody in Procore

    outcomes = procore.create_entries(wanted)

    assert isinstance(outcomes[0], RemoteEntry)
    assert isinstance(outcomes[2], RemoteEntry)
    assert isinstance(outcomes[1], ProcoreRejected)
    assert "person 9100000999 on 2025-03-10" in str(outcomes[1])
    assert "party_id" in str(outcomes[1])
    assert procore_emulator.request_count("POST", BULK) == 2  # refused, then the two others
    assert len(procore_emulator.entries()) == 2


def test_a_lost_answer_leaves_every_entry_of_the_request_unknown(procore, procore_emulator):
    procore_emulator.inject("lose_response", count=1, method="POST", path_contains=BULK)

    outcomes = procore.create_entries(entries(3))

    assert all(isinstance(o, TransientError) and o.maybe_applied for o in outcomes)
    assert len(procore_emulator.entries()) == 3  # applied: the reconciliation finds them


def test_fractional_hours_go_alone_and_whole_hours_in_the_batch(procore, procore_emulator):
    wanted = entries(3)
    wanted[0] = entries(1, hours=Decimal("7.5"), worker_remote_id=str(ADRIANA))[0]

    outcomes = procore.create_entries(wanted)

    assert [o.hours for o in outcomes] == [Decimal("7.50"), Decimal("2.00"), Decimal("2.00")]
    assert procore_emulator.request_count("POST", BULK) == 1
    assert procore_emulator.request_count("POST", f"/projects/{PROJECT_ID}/timecard_entries") \
        == 1
