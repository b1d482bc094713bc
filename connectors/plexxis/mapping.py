"""Between our connector-neutral values and the Plexxis wire format (CONTRACT.md). Pure functions.

Our identifiers for Plexxis things:
- a worker's remote id is the Plexxis employee Code (their payroll id, our employee number);
- a project's remote id is a job number (`24-101`) or a job number and a sub job code joined
  by "/" (`24-101/01`): Plexxis books hours on a job, optionally narrowed to a sub job. This
  assumes job numbers contain no "/";
- a cost code's remote id is the Plexxis cost code string (`03.100`, or `01.03.100` with its
  sub job);
- an entry's idempotency key travels as the entry's `external_reference`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from connectors.base import (
    PermanentError,
    RemoteCostCode,
    RemoteEntry,
    RemoteProject,
    RemoteWorker,
    TimecardEntry,
    as_decimal_hours,
)

PROJECT_SEPARATOR = "/"
EXTERNAL_REFERENCE_MAX_LENGTH = 64
NOTES_MAX_LENGTH = 500

HOUR_TYPES: dict[str, str] = {
    "regular": "Regular",
    "overtime": "Overtime",
    "double_time": "Double Time",
}
TIME_TYPES: dict[str, str] = {hour_type: time_type for time_type, hour_type in HOUR_TYPES.items()}


def split_project_id(project_remote_id: str) -> tuple[str, str | None]:
    """(job number, sub job code or None) from a project's remote id."""
    job_number, separator, sub_job_code = project_remote_id.partition(PROJECT_SEPARATOR)
    if not job_number or (separator and not sub_job_code):
        raise PermanentError(
            f"{project_remote_id!r} is not a Plexxis job: use a job number such as 24-101, or "
            "a job number and sub job code such as 24-101/01."
        )
    return job_number, sub_job_code or None


def join_project_id(job_number: str, sub_job_code: str | None = None) -> str:
    return f"{job_number}{PROJECT_SEPARATOR}{sub_job_code}" if sub_job_code else job_number


def format_hours(hours: Decimal | str | float) -> str:
    return f"{as_decimal_hours(hours):.2f}"


def entry_to_plexxis(entry: TimecardEntry) -> dict[str, Any]:
    """The body of a create (POST) or full update (PATCH) of a timecard entry.

    Start, end and break minutes have no place in a Plexxis timecard entry: it holds paid
    hours per day, which is what payroll needs.
    """
    job_number, sub_job_code = split_project_id(entry.project_remote_id)
    hour_type = HOUR_TYPES.get(entry.time_type)
    if hour_type is None:
        raise PermanentError(
            f"Plexxis has no hour type for time type {entry.time_type!r}; it knows "
            f"{', '.join(HOUR_TYPES)}."
        )
    key = entry.idempotency_key or ""
    # The reference is how a lost answer is found again; a cut one could match another entry.
    if not key or len(key) > EXTERNAL_REFERENCE_MAX_LENGTH:
        raise PermanentError(
            f"The entry's idempotency key must be 1 to {EXTERNAL_REFERENCE_MAX_LENGTH} "
            f"characters to travel as a Plexxis external reference (it has {len(key)})."
        )
    return {
        "employee_code": entry.worker_remote_id,
        "job_number": job_number,
        "sub_job_code": sub_job_code,
        "cost_code": entry.cost_code_remote_id or None,
        "work_date": entry.work_date.isoformat(),
        "hours": format_hours(entry.hours),
        "hour_type": hour_type,
        "external_reference": key,
        "notes": (entry.notes or "")[:NOTES_MAX_LENGTH],
    }


def plexxis_to_remote_entry(data: dict[str, Any]) -> RemoteEntry:
    try:
        return RemoteEntry(
            remote_id=str(data["id"]),
            idempotency_key=data.get("external_reference") or None,
            worker_remote_id=str(data["employee_code"]),
            project_remote_id=join_project_id(
                str(data["job_number"]), data.get("sub_job_code") or None
            ),
            work_date=date.fromisoformat(data["work_date"]),
            hours=as_decimal_hours(data["hours"]),
            extra={
                "time_type": TIME_TYPES.get(data.get("hour_type", "")),
                "hour_type": data.get("hour_type"),
                "cost_code_remote_id": data.get("cost_code") or None,
                "sub_job_code": data.get("sub_job_code") or None,
                "notes": data.get("notes") or "",
                "created_at": data.get("created_at"),
                "updated_at": data.get("updated_at"),
            },
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as error:
        raise PermanentError(
            f"Plexxis sent a timecard entry we cannot read ({error!r}): {str(data)[:300]}"
        ) from error


def plexxis_to_remote_worker(data: dict[str, Any]) -> RemoteWorker:
    code = _required(data, "code", "employee")
    name = " ".join(part for part in (data.get("first_name"), data.get("last_name")) if part)
    return RemoteWorker(
        remote_id=code,
        name=name or code,
        employee_number=code,
        email=data.get("email") or "",
        active=bool(data.get("active", True)),
    )


def plexxis_to_remote_project(data: dict[str, Any]) -> RemoteProject:
    """The job itself, without its sub jobs."""
    job_number = _required(data, "job_number", "job")
    return RemoteProject(remote_id=job_number, name=data.get("name") or job_number,
                         number=job_number)


def plexxis_job_to_remote_projects(data: dict[str, Any]) -> list[RemoteProject]:
    """The job and each of its sub jobs: a project may book on either."""
    job = plexxis_to_remote_project(data)
    projects = [job]
    for sub_job in data.get("sub_jobs") or ():
        code = _required(sub_job, "code", "sub job")
        remote_id = join_project_id(job.remote_id, code)
        sub_name = sub_job.get("name") or code
        projects.append(RemoteProject(remote_id=remote_id, name=f"{job.name} / {sub_name}",
                                      number=remote_id))
    return projects


def plexxis_to_remote_cost_code(data: dict[str, Any]) -> RemoteCostCode:
    code = _required(data, "code", "cost code")
    return RemoteCostCode(remote_id=code, code=code, name=data.get("description") or "")


def _required(data: dict[str, Any], key: str, what: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if value is None or str(value) == "":
        raise PermanentError(f"Plexxis sent a {what} without its {key}: {str(data)[:300]}")
    return str(value)
