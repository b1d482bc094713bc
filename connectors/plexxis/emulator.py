"""A local emulator of the Plexxis wire contract (CONTRACT.md), for tests and the demo.

A real HTTP server with in-memory state and fault injection (latency, 429, 5xx, timeouts,
lost responses), so the connector and the sync engine meet the failures a remote has. It also
serves a small control API under /_emulator/ (no API key) so another process can seed it,
inject faults and read what it holds. Test and demo code only: never expose it beyond
localhost.

    python -m connectors.plexxis.emulator --port 8766 --seed-file seed.json --api-key KEY

A seed file is JSON: {"employees": [...], "jobs": [...], "cost_codes": [...], "entries": [...]}
in the contract's shapes (entries without id or timestamps).
"""

from __future__ import annotations

import argparse
import copy
import hmac
import json
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from connectors.emulation import (
    CONTROL_PREFIX,
    FAULT_KINDS,
    Emulator,
    EmulatorHandler,
    Fault,
    add_serving_arguments,
    serve_until_interrupted,
)

API_PREFIX = "/api/v1"
DEFAULT_API_KEY = "plexxis-emulator-key"
DEFAULT_PORT = 8766

HOUR_TYPES = ("Regular", "Overtime", "Double Time")
EXTERNAL_REFERENCE_MAX_LENGTH = 64
NOTES_MAX_LENGTH = 500
MAX_HOURS = Decimal("24")
ENTRY_FIELDS = (
    "employee_code", "job_number", "sub_job_code", "cost_code", "work_date", "hours",
    "hour_type", "external_reference", "notes",
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_HOURS = re.compile(r"\d{1,2}(\.\d{1,2})?")
_ENTRY_PATH = re.compile(r"/timecard-entries/([^/]+)")


class _Invalid(Exception):
    """A request the contract answers with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class LoggedRequest:
    """One API request as the emulator saw it (control API calls are not logged)."""

    method: str
    path: str  # below the API prefix, without the query: "/timecard-entries"
    query: dict[str, str]
    status: int | None  # None: the response was deliberately lost
    body: Any = None
    fault: str | None = None
    at: float = 0.0


@dataclass
class _Outcome:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class PlexxisEmulator(Emulator):
    """Thread-safe in-memory Plexxis. `start()` serves it; the methods drive it in-process."""

    thread_name = "plexxis-emulator"
    server_version = "PlexxisEmulator/1.0"
    max_body_bytes = 1_000_000

    def __init__(
        self, *, api_key: str = DEFAULT_API_KEY, rate_limit: int = 600,
        rate_window: float = 10.0, default_page_size: int = 50, max_page_size: int = 100,
    ) -> None:
        super().__init__(rate_limit=rate_limit, rate_window=rate_window)
        self.api_key = api_key
        self.default_page_size = default_page_size
        self.max_page_size = max_page_size
        # Entry ids are never reused, not even after reset(): a remote never hands out an id
        # twice, and a test's stale id must not find a new entry.
        self._next_entry_number = 1
        self._clear_state()

    def _clear_state(self) -> None:
        with self._lock:
            self._employees: dict[str, dict[str, Any]] = {}
            self._jobs: dict[str, dict[str, Any]] = {}
            self._cost_codes: dict[str, dict[str, Any]] = {}
            self._entries: dict[str, dict[str, Any]] = {}
            self._clear_plumbing()

    # --- Serving ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API's address, what a Plexxis integration's base URL setting holds."""
        if not self.url:
            raise RuntimeError("The emulator is not serving: call start() first.")
        return self.url + API_PREFIX

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a daemon thread (port 0: any free port) and return the API's base URL."""
        super().start(host, port)
        return self.base_url

    # --- State ------------------------------------------------------------------------------

    def seed(
        self, *, employees: Iterable[Mapping[str, Any]] = (),
        jobs: Iterable[Mapping[str, Any]] = (), cost_codes: Iterable[Mapping[str, Any]] = (),
        entries: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        """Add (or replace, by code / job number) reference data, then add entries, which are
        validated as a POST would be. Raises ValueError on malformed data."""
        with self._lock:
            for employee in employees:
                row = _seed_employee(employee)
                self._employees[row["code"]] = row
            for job in jobs:
                row = _seed_job(job)
                self._jobs[row["job_number"]] = row
            for cost_code in cost_codes:
                row = _seed_cost_code(cost_code)
                self._cost_codes[row["code"]] = row
            for entry in entries:
                try:
                    self._create_entry(dict(entry))
                except _Invalid as error:
                    raise ValueError(f"Cannot seed entry {dict(entry)}: {error}") from error

    def entries(self) -> list[dict[str, Any]]:
        """Every timecard entry held, oldest first (copies)."""
        with self._lock:
            return [dict(entry) for entry in self._entries.values()]

    def reset(self) -> None:
        """Forget data, entries, faults, the request log and the rate window; keep serving."""
        self._clear_state()

    # --- Persistence (the demo keeps its entries across restarts) ----------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything held, entries with their ids, as `restore()` takes it back."""
        with self._lock:
            return copy.deepcopy({
                "employees": list(self._employees.values()), "jobs": list(self._jobs.values()),
                "cost_codes": list(self._cost_codes.values()),
                "entries": list(self._entries.values()),
                "next_entry_number": self._next_entry_number,
            })

    def restore(self, data: Mapping[str, Any]) -> None:
        """Take back a snapshot: unlike seed(), entries keep their ids, as a remote would."""
        with self._lock:
            self.seed(employees=data.get("employees", ()), jobs=data.get("jobs", ()),
                      cost_codes=data.get("cost_codes", ()))
            for entry in data.get("entries", ()):
                self._entries[entry["id"]] = dict(entry)
            self._next_entry_number = max(self._next_entry_number,
                                          int(data.get("next_entry_number", 1)))

    # --- The API ----------------------------------------------------------------------------

    def _invalid(self, status: int, message: str) -> Exception:
        return _Invalid(status, message)

    def _error_body(self, message: str) -> Any:
        return {"error": message}

    def _serve_request(self, handler: EmulatorHandler, method: str, path: str,
                       query_string: str) -> None:
        if path.startswith(API_PREFIX + "/"):
            self._serve_api(handler, method, path[len(API_PREFIX):], query_string)
        else:
            handler.send_json(404, {"error": f"No such resource: {path}. The API is under "
                                             f"{API_PREFIX}/."}, {})

    def _serve_api(self, handler: EmulatorHandler, method: str, path: str,
                   query_string: str) -> None:
        query = {name: values[-1] for name, values in
                 parse_qs(query_string, keep_blank_values=True).items()}
        target = f"{path}?{query_string}" if query_string else path
        delay, fault = self._take_fault(method, target)
        try:
            raw = handler.read_body()
        except _Invalid as error:
            self._answer(handler, method, path, query, None,
                         _Outcome(error.status, {"error": str(error)}), None)
            return
        stopped, fault = self._hold(delay, fault)
        if stopped:
            return
        if fault is not None and fault.kind != "lose_response":
            outcome = self._fault_outcome(fault)
            attempted = _loggable(raw)
            if fault.kind == "timeout":
                # Logged on arrival: the client gives up long before the 504 would be sent.
                self._record(method, path, query, outcome.status, attempted, fault.kind)
                if self._stopping.wait(fault.params["seconds"]):
                    return
                self._answer(handler, method, path, query, attempted, outcome, fault.kind,
                             log=False)
                return
            self._answer(handler, method, path, query, attempted, outcome, fault.kind)
            return
        body = None
        try:
            outcome = self._rate_limited() or self._unauthorized(handler)
            if outcome is None:
                body = _json_body(raw) if method in ("POST", "PATCH", "PUT") else None
                outcome = self._route(method, path, query, body)
                if method != "GET" and outcome.status < 300:
                    self._persist()
        except _Invalid as error:
            outcome = _Outcome(error.status, {"error": str(error)})
        if fault is not None:  # lose_response: the work is done, the answer never leaves
            self._record(method, path, query, None, body, fault.kind)
            handler.drop_connection()
            return
        self._answer(handler, method, path, query, body, outcome, None)

    def _answer(
        self, handler: EmulatorHandler, method: str, path: str, query: dict[str, str], body: Any,
        outcome: _Outcome, fault: str | None, *, log: bool = True,
    ) -> None:
        outcome.headers = {**self._rate_headers(), **outcome.headers}
        if log:
            self._record(method, path, query, outcome.status, body, fault)
        handler.send_json(outcome.status, outcome.body, outcome.headers)

    def _record(
        self, method: str, path: str, query: dict[str, str], status: int | None, body: Any,
        fault: str | None,
    ) -> None:
        with self._lock:
            self._log.append(LoggedRequest(method=method, path=path, query=query, status=status,
                                           body=body, fault=fault, at=time.time()))

    def _fault_outcome(self, fault: Fault) -> _Outcome:
        status, headers = self._fault_status(fault)
        if fault.kind == "rate_limit":
            headers = {"Retry-After": str(math.ceil(fault.params["seconds"])), **headers}
        message = {"rate_limit": "Rate limit exceeded.",
                   "timeout": "The request timed out."}.get(fault.kind, "Internal server error.")
        return _Outcome(status, {"error": message}, headers)

    def _rate_limited(self) -> _Outcome | None:
        wait = self._count_in_window()
        if wait is None:
            return None
        return _Outcome(429, {"error": "Rate limit exceeded."},
                        {"Retry-After": str(max(1, math.ceil(wait)))})

    def _unauthorized(self, handler: EmulatorHandler) -> _Outcome | None:
        key = handler.headers.get("X-API-Key", "")
        if key and hmac.compare_digest(key.encode(), self.api_key.encode()):
            return None
        return _Outcome(401, {"error": "Missing or invalid API key."})

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> _Outcome:
        lists = {"/employees": self._employees, "/jobs": self._jobs,
                 "/cost-codes": self._cost_codes}
        if path in lists:
            _allow(method, "GET")
            with self._lock:
                rows = [copy.deepcopy(row) for _key, row in sorted(lists[path].items())]
            return self._page(rows, query)
        if path == "/timecard-entries":
            _allow(method, "GET", "POST")
            if method == "GET":
                return self._page(self._find_entries(query), query)
            with self._lock:
                return _Outcome(201, self._create_entry(_object(body)))
        match = _ENTRY_PATH.fullmatch(path)
        if match:
            _allow(method, "PATCH", "DELETE")
            entry_id = unquote(match.group(1))
            with self._lock:
                if entry_id not in self._entries:
                    raise _Invalid(404, f"No timecard entry {entry_id}.")
                if method == "DELETE":
                    del self._entries[entry_id]
                    return _Outcome(204)
                return _Outcome(200, self._update_entry(entry_id, _object(body)))
        raise _Invalid(404, f"No such resource: {path}.")

    def _page(self, rows: list[dict[str, Any]], query: dict[str, str]) -> _Outcome:
        page = _positive_int(query, "page", 1)
        # Like most APIs, an oversized page_size is capped rather than refused.
        size = min(_positive_int(query, "page_size", self.default_page_size), self.max_page_size)
        start = (page - 1) * size
        more = len(rows) > start + size
        return _Outcome(200, {"results": rows[start:start + size],
                              "next_page": page + 1 if more else None})

    def _find_entries(self, query: dict[str, str]) -> list[dict[str, Any]]:
        job_number = query.get("job_number")
        if not job_number:
            raise _Invalid(422, "job_number is required.")
        work_date = _work_date(query.get("work_date"))
        # "Search by": a case-insensitive substring match, looser than equality on purpose,
        # so a client that wants one key must compare exactly.
        reference = query.get("external_reference", "").lower()
        with self._lock:
            return [
                dict(entry) for entry in self._entries.values()
                if entry["job_number"] == job_number and entry["work_date"] == work_date
                and reference in entry["external_reference"].lower()
            ]

    def _create_entry(self, data: dict[str, Any]) -> dict[str, Any]:
        fields = self._valid_entry({field_name: data.get(field_name)
                                    for field_name in ENTRY_FIELDS})
        now = _now()
        entry_id = f"TE-{self._next_entry_number:06d}"
        self._next_entry_number += 1
        entry = {"id": entry_id, **fields, "created_at": now, "updated_at": now}
        self._entries[entry_id] = entry
        return dict(entry)

    def _update_entry(self, entry_id: str, data: dict[str, Any]) -> dict[str, Any]:
        current = self._entries[entry_id]
        merged = {name: data[name] if name in data else current[name] for name in ENTRY_FIELDS}
        current.update(self._valid_entry(merged), updated_at=_now())
        return dict(current)

    def _valid_entry(self, data: dict[str, Any]) -> dict[str, Any]:
        employee_code = _text(data, "employee_code", required=True)
        if employee_code not in self._employees:
            raise _Invalid(422, f"Unknown employee code {employee_code}")
        job_number = _text(data, "job_number", required=True)
        job = self._jobs.get(job_number)
        if job is None:
            raise _Invalid(422, f"Unknown job number {job_number}")
        sub_jobs = {sub_job["code"] for sub_job in job["sub_jobs"]}
        sub_job_code = _text(data, "sub_job_code") or None
        if sub_job_code is not None and sub_job_code not in sub_jobs:
            raise _Invalid(422, f"Unknown sub job {sub_job_code} on job {job_number}")
        cost_code = _text(data, "cost_code") or None
        if cost_code is not None and not self._known_cost_code(cost_code, sub_jobs):
            raise _Invalid(422, f"Unknown cost code {cost_code}")
        hour_type = data.get("hour_type")
        if hour_type not in HOUR_TYPES:
            raise _Invalid(422, f"Unknown hour type {hour_type!r}; use {', '.join(HOUR_TYPES)}")
        reference = _text(data, "external_reference")
        if len(reference) > EXTERNAL_REFERENCE_MAX_LENGTH:
            raise _Invalid(422, f"external_reference is longer than "
                                f"{EXTERNAL_REFERENCE_MAX_LENGTH} characters")
        notes = _text(data, "notes")
        if len(notes) > NOTES_MAX_LENGTH:
            raise _Invalid(422, f"notes are longer than {NOTES_MAX_LENGTH} characters")
        return {
            "employee_code": employee_code, "job_number": job_number,
            "sub_job_code": sub_job_code, "cost_code": cost_code,
            "work_date": _work_date(data.get("work_date")), "hours": _hours(data.get("hours")),
            "hour_type": hour_type, "external_reference": reference, "notes": notes,
        }

    def _known_cost_code(self, cost_code: str, sub_jobs: set[str]) -> bool:
        if cost_code in self._cost_codes:
            return True
        # SubJob.Subsection.ActivityCode: a known cost code on one of the job's sub jobs.
        sub_job, _dot, rest = cost_code.partition(".")
        return sub_job in sub_jobs and rest in self._cost_codes

    # --- The control API --------------------------------------------------------------------

    def _serve_control(self, handler: EmulatorHandler, method: str, path: str) -> None:
        try:
            raw = handler.read_body()
            outcome = self._control(method, path, raw)
        except _Invalid as error:
            outcome = _Outcome(error.status, {"error": str(error)})
        except ValueError as error:
            outcome = _Outcome(422, {"error": str(error)})
        handler.send_json(outcome.status, outcome.body, outcome.headers)

    def _control(self, method: str, path: str, raw: bytes) -> _Outcome:
        action = path[len(CONTROL_PREFIX):]
        if action == "/faults":
            _allow(method, "GET", "POST", "DELETE")
            if method == "GET":
                return _Outcome(200, {"results": [fault.as_dict() for fault in self.faults()]})
            if method == "DELETE":
                self.clear_faults()
                return _Outcome(204)
            spec = _object(_json_body(raw))
            kind = spec.pop("kind", None)
            if not isinstance(kind, str):
                raise _Invalid(422, f"kind is required: one of {', '.join(FAULT_KINDS)}.")
            fault = self.inject(kind, count=spec.pop("count", 1), method=spec.pop("method", None),
                                path_contains=spec.pop("path_contains", None), **spec)
            return _Outcome(201, fault.as_dict())
        if action == "/seed":
            _allow(method, "POST")
            data = _object(_json_body(raw))
            self.seed(**_seed_arguments(data))
            with self._lock:
                return _Outcome(200, {"employees": len(self._employees), "jobs": len(self._jobs),
                                      "cost_codes": len(self._cost_codes),
                                      "entries": len(self._entries)})
        if action == "/entries":
            _allow(method, "GET")
            return _Outcome(200, {"results": self.entries()})
        if action == "/requests":
            _allow(method, "GET")
            return _Outcome(200, {"results": [asdict(logged) for logged in self.request_log()]})
        if action == "/reset":
            _allow(method, "POST")
            self.reset()
            return _Outcome(204)
        raise _Invalid(404, f"No emulator control {path}.")


# --- Validation helpers ---------------------------------------------------------------------


def _allow(method: str, *methods: str) -> None:
    if method not in methods:
        raise _Invalid(405, f"{method} is not allowed here; use {', '.join(methods)}.")


def _json_body(raw: bytes) -> Any:
    if not raw:
        raise _Invalid(400, "The request needs a JSON body.")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _Invalid(400, f"Malformed JSON: {error}") from error


def _loggable(raw: bytes) -> Any:
    """The body a faulted request carried, for the log; the fault answered before parsing."""
    try:
        return json.loads(raw) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _Invalid(400, "The body must be a JSON object.")
    return body


def _text(data: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise _Invalid(422, f"{name} is required")
        return ""
    if not isinstance(value, str):
        raise _Invalid(422, f"{name} must be a string")
    return value


def _work_date(value: Any) -> str:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise _Invalid(422, f"Invalid work_date {value!r}; use YYYY-MM-DD")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as error:
        raise _Invalid(422, f"Invalid work_date {value!r}; use YYYY-MM-DD") from error


def _hours(value: Any) -> str:
    if not isinstance(value, str) or not _HOURS.fullmatch(value):
        raise _Invalid(422, f"Invalid hours {value!r}; send a string such as \"8.00\"")
    try:
        hours = Decimal(value)
    except InvalidOperation as error:
        raise _Invalid(422, f"Invalid hours {value!r}") from error
    if not Decimal("0") < hours <= MAX_HOURS:
        raise _Invalid(422, f"Invalid hours {value}; they must be more than 0 and at most 24")
    return f"{hours:.2f}"


def _positive_int(query: Mapping[str, str], name: str, default: int) -> int:
    value = query.get(name)
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise _Invalid(422, f"{name} must be a positive integer")
    return int(value)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _seed_employee(data: Mapping[str, Any]) -> dict[str, Any]:
    code = _seed_key(data, "code", "employee")
    return {"code": code, "first_name": str(data.get("first_name") or ""),
            "last_name": str(data.get("last_name") or ""), "email": str(data.get("email") or ""),
            "phone": str(data.get("phone") or ""), "active": bool(data.get("active", True))}


def _seed_job(data: Mapping[str, Any]) -> dict[str, Any]:
    job_number = _seed_key(data, "job_number", "job")
    sub_jobs = [{"code": _seed_key(sub_job, "code", "sub job"), "name": str(sub_job.get("name")
                                                                            or "")}
                for sub_job in data.get("sub_jobs") or ()]
    return {"job_number": job_number, "name": str(data.get("name") or ""),
            "active": bool(data.get("active", True)), "sub_jobs": sub_jobs}


def _seed_cost_code(data: Mapping[str, Any]) -> dict[str, Any]:
    code = _seed_key(data, "code", "cost code")
    subsection, _dot, activity = code.rpartition(".")
    return {"code": code, "subsection": str(data.get("subsection") or subsection),
            "activity_code": str(data.get("activity_code") or activity),
            "description": str(data.get("description") or "")}


def _seed_key(data: Any, name: str, what: str) -> str:
    if not isinstance(data, Mapping) or not isinstance(data.get(name), str) or not data[name]:
        raise ValueError(f"A seeded {what} needs {name} as a non-empty string: {data!r}")
    return data[name]


def _seed_arguments(data: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(data) - {"employees", "jobs", "cost_codes", "entries"}
    if unknown:
        raise ValueError(f"Unknown seed keys: {', '.join(sorted(unknown))}")
    arguments = {}
    for name in ("employees", "jobs", "cost_codes", "entries"):
        rows = data.get(name) or []
        if not isinstance(rows, list):
            raise ValueError(f"{name} must be a list")
        arguments[name] = rows
    return arguments


# --- Command line ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m connectors.plexxis.emulator",
        description="Serve a local Plexxis emulator (test and demo only) until interrupted.",
    )
    add_serving_arguments(parser, default_port=DEFAULT_PORT, rate_limit=600, rate_window=10.0)
    parser.add_argument("--seed-file", type=Path, help="JSON with employees, jobs, cost_codes")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    args = parser.parse_args(argv)

    emulator = PlexxisEmulator(api_key=args.api_key, rate_limit=args.rate_limit,
                               rate_window=args.rate_window)
    emulator.verbose = args.verbose
    if args.seed_file:
        emulator.seed(**_seed_arguments(json.loads(args.seed_file.read_text())))
    if args.state_file:
        emulator.keep_state_in(args.state_file)
    base_url = emulator.start(args.host, args.port)
    serve_until_interrupted(
        emulator, f"Plexxis emulator: API at {base_url} (X-API-Key: {args.api_key}), control "
                  f"at {emulator.url}{CONTROL_PREFIX}/. Ctrl+C stops.")


if __name__ == "__main__":
    main()
