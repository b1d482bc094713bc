"""Between our connector-neutral values and QuickBooks' time tracking (qbXML). Pure functions.

Our identifiers for QuickBooks things (all ListIDs: they survive a rename in QuickBooks, where a
FullName does not):
- a worker's remote id is the employee's ListID;
- a project's remote id is the ListID of a customer or a job (`Customer:Job` in QuickBooks'
  words; the catalog keeps the full name to show and to match);
- a cost code's remote id is a service item's ListID;
- a time type is ours (regular, overtime, double time), sent as the payroll wage item an
  admin linked to it;
- an entry's remote id is its TxnID; editing it needs the EditSequence QuickBooks gave last;
- an entry's idempotency key travels as its ExternalGUID, a name-based UUID of the key (the
  same on every retry, so a lost answer is found again by querying the day).

What concerns one entry (its hours, its wage item) is refused as a RejectedEntry, so the other
blocks of the session go on.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal

from connectors.base import RejectedEntry, RemoteEntry, TimecardEntry
from connectors.quickbooks.qbxml import (
    Ref,
    TimeTracking,
    TimeTrackingAdd,
    TimeTrackingDelete,
    TimeTrackingMod,
    TimeTrackingQuery,
    TimeTrackingRecord,
)

# Our own namespace for ExternalGUIDs: a key always gives the same GUID, and nobody else's
# GUIDs collide with ours. (A constant: changing it would make every synced entry a stranger.)
EXTERNAL_GUID_NAMESPACE = uuid.UUID("6b3f1c52-5d0e-4c7a-9a43-2f6b1d8e7c10")
NOTES_MAX_LENGTH = 4095
# QuickBooks keeps a duration in minutes; a day holds at most 24 hours of one person's time.
MAX_HOURS = Decimal(24)


def external_guid(idempotency_key: str) -> str:
    """The ExternalGUID of the entry with this key, in QuickBooks' `{8-4-4-4-12}` form."""
    if not idempotency_key:
        raise ValueError("an entry needs its idempotency key to be sent to QuickBooks")
    return "{" + str(uuid.uuid5(EXTERNAL_GUID_NAMESPACE, idempotency_key)).upper() + "}"


def same_guid(left: str, right: str) -> bool:
    """QuickBooks may give a GUID back in another case; braces and case do not matter."""
    return left.strip("{}").lower() == right.strip("{}").lower()


def time_tracking(entry: TimecardEntry, *, wage_items: Mapping[str, str]) -> TimeTracking:
    """The entry as QuickBooks' time tracking fields. `wage_items`: our time type → the ListID
    of the payroll wage item linked to it (absent: QuickBooks' default for the employee)."""
    if entry.hours <= 0 or entry.hours > MAX_HOURS:
        raise RejectedEntry(
            f"{entry.hours} h on {entry.work_date:%a %d %b} cannot be sent to QuickBooks: a time "
            f"tracking entry holds more than 0 and at most {MAX_HOURS} hours.")
    wage_item = wage_items.get(entry.time_type, "")
    if entry.time_type != "regular" and not wage_item:
        raise RejectedEntry(
            f"No payroll wage item is linked to {entry.time_type.replace('_', ' ')} hours: link "
            "one on the Mappings page, or these hours would be paid as regular time.")
    return TimeTracking(
        work_date=entry.work_date,
        employee=Ref(list_id=entry.worker_remote_id),
        duration_hours=entry.hours,
        customer=Ref(list_id=entry.project_remote_id),
        service_item=Ref(list_id=entry.cost_code_remote_id) if entry.cost_code_remote_id
        else None,
        payroll_wage_item=Ref(list_id=wage_item) if wage_item else None,
        notes=entry.notes[:NOTES_MAX_LENGTH],
    )


def add_request(request_id: str, entry: TimecardEntry, *,
                wage_items: Mapping[str, str]) -> TimeTrackingAdd:
    return TimeTrackingAdd(request_id=request_id, time=time_tracking(entry, wage_items=wage_items),
                           external_guid=external_guid(entry.idempotency_key))


def mod_request(request_id: str, entry: TimecardEntry, *, txn_id: str, edit_sequence: str,
                wage_items: Mapping[str, str]) -> TimeTrackingMod:
    return TimeTrackingMod(request_id=request_id, txn_id=txn_id, edit_sequence=edit_sequence,
                           time=time_tracking(entry, wage_items=wage_items))


def delete_request(request_id: str, *, txn_id: str) -> TimeTrackingDelete:
    return TimeTrackingDelete(request_id=request_id, txn_id=txn_id)


def find_request(request_id: str, entry: TimecardEntry) -> TimeTrackingQuery:
    """The employee's day, to find the entry again by its ExternalGUID after a lost answer, and
    to see hours typed into QuickBooks by hand for the same employee, day and job."""
    return TimeTrackingQuery(request_id=request_id, from_date=entry.work_date,
                             to_date=entry.work_date, employee=Ref(list_id=entry.worker_remote_id))


def remote_entry(record: TimeTrackingRecord, *, keys_by_guid: Mapping[str, str]) -> RemoteEntry:
    """A time tracking transaction in our words. `keys_by_guid` (upper-case GUIDs with braces)
    gives the idempotency key of an entry we sent; hours typed in QuickBooks have none."""
    guid = "{" + record.external_guid.strip("{}").upper() + "}" if record.external_guid else ""
    return RemoteEntry(
        remote_id=record.txn_id,
        idempotency_key=keys_by_guid.get(guid),
        worker_remote_id=record.employee.list_id if record.employee else "",
        project_remote_id=record.customer.list_id if record.customer else "",
        work_date=record.work_date,  # type: ignore[arg-type] - a time tracking always has one
        hours=record.duration_hours if record.duration_hours is not None else Decimal(0),
        extra={"edit_sequence": record.edit_sequence, "external_guid": guid,
               "employee_name": record.employee.full_name if record.employee else "",
               "customer_name": record.customer.full_name if record.customer else ""},
    )


def hand_entered(entries: list[RemoteEntry], entry: TimecardEntry) -> list[RemoteEntry]:
    """Hours already in QuickBooks for the entry's employee, day and customer:job that we did
    not send (no ExternalGUID of ours): sending ours too would pay them twice."""
    return [found for found in entries
            if found.idempotency_key is None and found.work_date == entry.work_date
            and found.worker_remote_id == entry.worker_remote_id
            and found.project_remote_id == entry.project_remote_id]
