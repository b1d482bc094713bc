"""Our timecard entries as QuickBooks time tracking, and back."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from connectors.base import RejectedEntry, TimecardEntry
from connectors.quickbooks import mapping, qbxml
from connectors.quickbooks.qbxml import Ref, TimeTrackingRecord

WAGE_ITEMS = {"regular": "80000011-1", "overtime": "80000012-1"}


def an_entry(**changes) -> TimecardEntry:
    fields = {
        "idempotency_key": "ts-7-shift-41", "worker_remote_id": "80000001-1403882511",
        "project_remote_id": "8000000A-1403882511", "cost_code_remote_id": "80000020-1",
        "work_date": date(2026, 11, 30), "hours": Decimal("7.75"), "time_type": "regular",
        "notes": "Level 3 decking",
    }
    fields.update(changes)
    return TimecardEntry(**fields)


def test_the_external_guid_is_the_same_for_a_key_on_every_retry_and_in_quickbooks_form():
    guid = mapping.external_guid("ts-7-shift-41")

    assert guid == mapping.external_guid("ts-7-shift-41")
    assert guid != mapping.external_guid("ts-7-shift-42")
    # qbXML's GUIDTYPE pattern (qbxmltypes130.xsd).
    assert re.fullmatch(r"\{[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\}", guid)


def test_guids_compare_whatever_the_case_quickbooks_gives_them_back_in():
    guid = mapping.external_guid("k")

    assert mapping.same_guid(guid, guid.lower().strip("{}"))


def test_an_entry_becomes_an_add_with_every_reference_by_list_id(qbxml_schema):
    add = mapping.add_request("41.2", an_entry(), wage_items=WAGE_ITEMS)

    assert add.time.employee == Ref(list_id="80000001-1403882511")
    assert add.time.customer == Ref(list_id="8000000A-1403882511")
    assert add.time.service_item == Ref(list_id="80000020-1")
    assert add.time.payroll_wage_item == Ref(list_id="80000011-1")
    assert add.external_guid == mapping.external_guid("ts-7-shift-41")
    qbxml_schema.validate(qbxml.message_set([add]))


def test_an_edit_carries_the_transaction_and_its_edit_sequence(qbxml_schema):
    mod = mapping.mod_request("41.3", an_entry(hours=Decimal(8)), txn_id="1A2B-1",
                              edit_sequence="1403882600", wage_items=WAGE_ITEMS)

    assert (mod.txn_id, mod.edit_sequence, mod.time.duration_hours) == (
        "1A2B-1", "1403882600", Decimal(8))
    qbxml_schema.validate(qbxml.message_set([mod]))


def test_overtime_without_a_linked_wage_item_is_refused_rather_than_paid_as_regular():
    with pytest.raises(RejectedEntry, match="No payroll wage item is linked to double time"):
        mapping.add_request("1", an_entry(time_type="double_time"), wage_items=WAGE_ITEMS)


@pytest.mark.parametrize("hours", [Decimal(0), Decimal("24.25")])
def test_hours_quickbooks_cannot_hold_are_refused_for_that_entry_alone(hours):
    with pytest.raises(RejectedEntry, match="cannot be sent to QuickBooks"):
        mapping.add_request("1", an_entry(hours=hours), wage_items=WAGE_ITEMS)


def test_a_lost_answer_is_looked_for_in_the_employee_day(qbxml_schema):
    query = mapping.find_request("41.2f", an_entry())

    assert (query.from_date, query.to_date, query.employee) == (
        date(2026, 11, 30), date(2026, 11, 30), Ref(list_id="80000001-1403882511"))
    qbxml_schema.validate(qbxml.message_set([query]))


def a_record(**changes) -> TimeTrackingRecord:
    fields = {
        "txn_id": "1A2B-1", "edit_sequence": "1403882600", "work_date": date(2026, 11, 30),
        "employee": Ref(list_id="80000001-1403882511", full_name="Novak, Alicia"),
        "customer": Ref(list_id="8000000A-1403882511", full_name="Northwind:King Street"),
        "duration_hours": Decimal("7.75"), "external_guid": "",
    }
    fields.update(changes)
    return TimeTrackingRecord(**fields)


def test_a_transaction_we_sent_is_known_by_its_guid_whatever_its_case():
    guid = mapping.external_guid("ts-7-shift-41")
    record = a_record(external_guid=guid.lower())

    entry = mapping.remote_entry(record, keys_by_guid={guid: "ts-7-shift-41"})

    assert entry.idempotency_key == "ts-7-shift-41"
    assert (entry.remote_id, entry.hours, entry.extra["edit_sequence"]) == (
        "1A2B-1", Decimal("7.75"), "1403882600")


def test_hours_typed_into_quickbooks_for_the_same_employee_day_and_job_are_found():
    typed = mapping.remote_entry(a_record(txn_id="9Z-1"), keys_by_guid={})
    elsewhere = mapping.remote_entry(a_record(txn_id="9Z-2", customer=Ref(list_id="OTHER")),
                                     keys_by_guid={})
    guid = mapping.external_guid("ts-7-shift-41")
    ours = mapping.remote_entry(a_record(txn_id="9Z-3", external_guid=guid),
                                keys_by_guid={guid: "ts-7-shift-41"})

    assert mapping.hand_entered([typed, elsewhere, ours], an_entry()) == [typed]
