"""Between our connector-neutral values and Procore's JSON (CONTRACT.md). Pure functions.

What concerns one entry (its worker, times, time type) is refused as a RejectedEntry, so the
run goes on with the others; what concerns the run (its project) is a PermanentError.

Our identifiers for Procore things:
- a worker's remote id is the person's id (the `party_id` of their timecard entries);
- a project's remote id is a project id (`7000000001`), or a project id and a sub job id
  joined by "/" (`7000000001/7000000005`): Procore books time on a project, optionally on one
  of its sub jobs;
- a cost code's remote id is its full code (`03-100`): the same code has one id per project in
  Procore, so the project's own id is looked up when an entry is written;
- a time type is ours (regular, overtime, double time), sent as the company's time type id;
- an entry's idempotency key travels whole in `origin_data`, and as a 63-bit integer derived
  from it in `origin_id` (an integer on v1.0 timecard entries).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from connectors.base import (
    PermanentError,
    RejectedEntry,
    RemoteCostCode,
    RemoteEntry,
    RemoteProject,
    RemoteWorker,
    TimecardEntry,
    as_decimal_hours,
)

PROJECT_SEPARATOR = "/"
DESCRIPTION_MAX_LENGTH = 1000
# Our time types and Procore's abbreviations of its global ones.
TIME_TYPE_ABBREVIATIONS: dict[str, str] = {"regular": "REG", "overtime": "OT",
                                           "double_time": "DT"}
TIME_TYPES: dict[str, str] = {abbr: ours for ours, abbr in TIME_TYPE_ABBREVIATIONS.items()}


def origin_id(idempotency_key: str) -> int:
    """Our 64-bit key for an entry: the first 63 bits of the key's SHA-256, so it is positive
    in a signed bigint, the same on every retry, and found again without the ledger. Two keys
    sharing it are one in 9 quintillion, and the full key in origin_data decides anyway."""
    if not idempotency_key:
        raise PermanentError("An entry needs its idempotency key to be sent to Procore.")
    digest = hashlib.sha256(idempotency_key.encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def split_project_id(project_remote_id: str) -> tuple[int, int | None]:
    """(project id, sub job id or None) from a project's remote id."""
    project, separator, sub_job = project_remote_id.partition(PROJECT_SEPARATOR)
    if not project.isdigit() or (separator and not sub_job.isdigit()):
        raise PermanentError(
            f"{project_remote_id!r} is not a Procore project: use a project id such as "
            "7000000001, or a project id and a sub job id such as 7000000001/7000000005."
        )
    return int(project), int(sub_job) if separator else None


def join_project_id(project_id: int | str, sub_job_id: int | str | None = None) -> str:
    return f"{project_id}{PROJECT_SEPARATOR}{sub_job_id}" if sub_job_id else str(project_id)


def party_id(worker_remote_id: str) -> int:
    if not worker_remote_id.isdigit():
        raise RejectedEntry(f"{worker_remote_id!r} is not a Procore person id.")
    return int(worker_remote_id)


def format_hours(hours: Decimal | str | float) -> str:
    return f"{as_decimal_hours(hours):.2f}"


def entry_to_procore(
    entry: TimecardEntry, *, start_stop: bool, time_type_ids: Mapping[str, int],
    cost_code_id: int | None,
) -> dict[str, Any]:
    """The `timecard_entry` of a single create or update.

    A project set up for total hours gets `hours` (a string); one set up for start and stop
    times gets `time_in`, `time_out` (ISO 8601 with the offset) and `lunch_time` (minutes, a
    string), and Procore works out the hours.
    """
    _project_id, sub_job_id = split_project_id(entry.project_remote_id)
    body: dict[str, Any] = {
        "party_id": party_id(entry.worker_remote_id),
        "date": entry.work_date.isoformat(),
        "timecard_time_type_id": _time_type_id(entry.time_type, time_type_ids),
        "cost_code_id": cost_code_id,
        "sub_job_id": sub_job_id,
        "description": (entry.notes or "")[:DESCRIPTION_MAX_LENGTH],
        "origin_id": origin_id(entry.idempotency_key),
        "origin_data": entry.idempotency_key,
    }
    if start_stop:
        if entry.start is None or entry.end is None:
            raise RejectedEntry(
                "This Procore project takes start and stop times, and the shift has none: "
                "record its start and end, or set the project to total hours in Procore."
            )
        body.update(time_in=_instant(entry.start), time_out=_instant(entry.end),
                    lunch_time=str(max(0, entry.break_minutes)))
    else:
        body["hours"] = format_hours(entry.hours)
    return {key: value for key, value in body.items() if value is not None}


def entry_to_bulk(
    entry: TimecardEntry, *, start_stop: bool, time_type_ids: Mapping[str, int],
    cost_code_id: int | None,
) -> dict[str, Any] | None:
    """One item of the company bulk create, or None when the bulk endpoint cannot carry it
    and the entry goes one by one: it types `hours` as an integer (fractional total hours
    cannot travel) and has no `lunch_time` (start and stop times with a break would arrive
    as longer hours than were worked)."""
    item = entry_to_procore(entry, start_stop=start_stop, time_type_ids=time_type_ids,
                            cost_code_id=cost_code_id)
    item["project_id"] = split_project_id(entry.project_remote_id)[0]
    if start_stop:
        if item.pop("lunch_time", "0") != "0":
            return None
    else:
        hours = as_decimal_hours(entry.hours)
        if hours != hours.to_integral_value():
            return None
        item["hours"] = int(hours)
    return item


def procore_to_remote_entry(data: Mapping[str, Any]) -> RemoteEntry:
    """An entry as Procore answers it: related records are nested objects."""
    try:
        project_id = _nested_id(data, "project")
        sub_job_id = _nested_id(data, "sub_job")
        cost_code = data.get("cost_code") or {}
        time_type = data.get("timecard_time_type") or {}
        party = data.get("party") or {}
        sub_job = data.get("sub_job") or {}
        classification = data.get("work_classification") or {}
        return RemoteEntry(
            remote_id=str(int(data["id"])),
            idempotency_key=data.get("origin_data") or None,
            worker_remote_id=str(int(party["id"])),
            project_remote_id=join_project_id(project_id, sub_job_id) if project_id else "",
            work_date=date.fromisoformat(data["date"]),
            hours=as_decimal_hours(data.get("hours") or 0),
            extra={
                "time_type": TIME_TYPES.get(time_type.get("abbreviated_time_type") or ""),
                "timecard_time_type_id": time_type.get("id"),
                # What Procore calls it, for a time type none of ours matches by abbreviation.
                "time_type_name": time_type.get("time_type") or "",
                "time_type_abbreviation": time_type.get("abbreviated_time_type") or "",
                "cost_code_remote_id": cost_code.get("full_code") or None,
                "cost_code_id": cost_code.get("id"),
                "cost_code_name": cost_code.get("name") or "",
                "sub_job_id": sub_job_id,
                "sub_job_name": sub_job.get("name") or sub_job.get("code") or "",
                "classification": classification.get("name") or "",
                "party_name": party.get("name") or "",
                "origin_id": data.get("origin_id"),
                "time_in": data.get("time_in"),
                "time_out": data.get("time_out"),
                "lunch_time": data.get("lunch_time"),
                "notes": data.get("description") or "",
                "approval_status": data.get("approval_status") or data.get("status"),
                "created_at": data.get("created_at"),
                "updated_at": data.get("updated_at"),
            },
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as error:
        raise PermanentError(
            f"Procore sent a timecard entry we cannot read ({error!r}): {str(data)[:300]}"
        ) from error


def procore_to_remote_worker(data: Mapping[str, Any]) -> RemoteWorker:
    person_id = _required_id(data, "person")
    name = " ".join(part for part in (data.get("first_name"), data.get("last_name")) if part)
    return RemoteWorker(
        remote_id=str(person_id), name=name or str(person_id),
        employee_number=str(data.get("employee_id") or ""),
        email=str(data.get("email_address") or ""), active=bool(data.get("active", True)),
    )


def procore_to_remote_project(data: Mapping[str, Any]) -> RemoteProject:
    project_id = _required_id(data, "project")
    number = str(data.get("project_number") or "")
    return RemoteProject(remote_id=str(project_id), name=str(data.get("name") or project_id),
                         number=number, start_stop=takes_start_stop(data))


def takes_start_stop(data: Mapping[str, Any]) -> bool:
    """Whether a project's timesheets take start and stop times rather than total hours.
    Procore keeps that in the project's timesheet settings and the OpenAPI subset shows no
    field for it: we read `timecard_entry_mode` ("hours" or "start_stop"), the emulator's
    name for it, and take total hours when a project says nothing."""
    return data.get("timecard_entry_mode") == "start_stop"


def procore_sub_job_to_remote_project(project: RemoteProject,
                                      data: Mapping[str, Any]) -> RemoteProject:
    sub_job_id = _required_id(data, "sub job")
    label = str(data.get("name") or data.get("code") or sub_job_id)
    return RemoteProject(remote_id=join_project_id(project.remote_id, sub_job_id),
                         name=f"{project.name} / {label}",
                         number=str(data.get("code") or ""),
                         parent_remote_id=project.remote_id, start_stop=project.start_stop)


def procore_to_remote_cost_code(data: Mapping[str, Any]) -> RemoteCostCode:
    code = str(data.get("full_code") or data.get("code") or "")
    if not code:
        raise PermanentError(f"Procore sent a cost code without its code: {str(data)[:300]}")
    return RemoteCostCode(remote_id=code, code=code, name=str(data.get("name") or ""))


def locked_message(entry: RemoteEntry | None, remote_id: str, action: str, said: str) -> str:
    """What payroll reads when Procore will not let us change an entry it has locked."""
    if entry is None:
        who = f"timecard entry {remote_id}"
    else:
        name = entry.extra.get("party_name") or f"person {entry.worker_remote_id}"
        who = f"{name}'s entry of {entry.work_date.isoformat()} (id {remote_id})"
    return (f"Procore will not let us {action} {who}: {said} Change it in Procore, or move it "
            "back to pending there, and sync again.")


def _time_type_id(time_type: str, time_type_ids: Mapping[str, int]) -> int:
    abbreviation = TIME_TYPE_ABBREVIATIONS.get(time_type)
    if abbreviation is None or abbreviation not in time_type_ids:
        raise RejectedEntry(
            f"The Procore company has no time type for {time_type!r} (it has "
            f"{', '.join(sorted(time_type_ids)) or 'none'}): add it to the company's timesheet "
            "settings in Procore."
        )
    return time_type_ids[abbreviation]


def _instant(value: datetime) -> str:
    if value.tzinfo is None:
        raise RejectedEntry("A shift's start and end must carry their time zone for Procore.")
    return value.isoformat()


def _nested_id(data: Mapping[str, Any], name: str) -> int | None:
    nested = data.get(name)
    if isinstance(nested, Mapping) and nested.get("id") is not None:
        return int(nested["id"])
    flat = data.get(f"{name}_id")
    return int(flat) if flat is not None else None


def _required_id(data: Mapping[str, Any], what: str) -> int:
    value = data.get("id") if isinstance(data, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PermanentError(f"Procore sent a {what} without its id: {str(data)[:300]}")
    return value
