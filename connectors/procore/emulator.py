"""A local emulator of the Procore endpoints Timesync uses, for tests, chaos runs and the demo.

A real HTTP server (threaded, in-process or standalone) holding companies, people, projects,
sub jobs, project and standard cost codes, timecard time types, timecard entries, webhook
hooks and triggers, and the OAuth authorization server (authorize, token with single-use
refresh tokens, revoke). It answers as Procore does where the public documentation says how
(CONTRACT.md lists what is faked), injects faults (latency, 429, 5xx, timeouts, lost and late
responses) and delivers real webhook POSTs, optionally repeated, out of order or dropped.

Both hosts of an integration (api_base_url and login_base_url) point at the one server. A
control API under /_emulator/ (no token) lets another process seed it, inject faults, expire
tokens and read what it holds. Test and demo code only: never expose it beyond localhost.

    python -m connectors.procore.emulator --port 8767 --seed-file seed.json \
        --client-id ID --client-secret SECRET

A seed file is JSON: {"companies": [...], "people": [...], "projects": [...], "sub_jobs": [...],
"cost_codes": [...], "standard_cost_codes": [...], "time_types": [...], "entries": [...]}.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import hmac
import itertools
import json
import math
import queue
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from connectors.emulation import (
    CONTROL_PREFIX,
    Emulator,
    EmulatorHandler,
    Fault,
    add_serving_arguments,
    serve_until_interrupted,
)
from connectors.emulation import (
    FAULT_KINDS as FAULT_KINDS,  # re-exported: this module's public name before the move
)

API_PREFIX = "/rest/v1.0"
DEFAULT_PORT = 8767
DEFAULT_CLIENT_ID = "procore-emulator-client"
DEFAULT_CLIENT_SECRET = "procore-emulator-secret"  # noqa: S105 - the emulator's own
DEFAULT_COMPANY_ID = 8_000_000_001
ACCESS_TOKEN_LIFETIME = 5400
MAX_HOURS = Decimal("24")
# Ids above 2**32, as Procore's are: a client storing them in a 32-bit field breaks here.
_FIRST_ENTRY_ID = 5_000_000_000
_FIRST_OBJECT_ID = 7_000_000_000

DELIVERY_FAULT_KINDS = ("repeat", "reorder", "drop")

# Procore's global time types, present in every company.
DEFAULT_TIME_TYPES = (
    {"time_type": "Regular Time", "abbreviated_time_type": "REG"},
    {"time_type": "Overtime", "abbreviated_time_type": "OT"},
    {"time_type": "Double Time", "abbreviated_time_type": "DT"},
)
# Approval statuses of a timecard entry; the last two lock it (see `_check_lock`).
APPROVAL_STATUSES = ("pending", "reviewed", "approved", "completed")
ENTRY_MODES = ("hours", "start_stop")

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_HOURS = re.compile(r"\d{1,2}(\.\d{1,4})?")
_ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class _Invalid(Exception):
    """A request answered with an error status; `body` is Procore's error shape."""

    def __init__(self, status: int, message: str, body: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else {"errors": message}
        self.headers = headers or {}


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the emulator saw it (control calls are not logged). `path` is the full
    path without the query, e.g. "/rest/v1.0/projects/7000000001/timecard_entries"."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int | None  # None: the response was deliberately lost
    body: Any = None
    content_type: str = ""
    fault: str | None = None
    at: float = 0.0


@dataclass(frozen=True)
class Delivery:
    """One webhook POST made (or dropped, status None and `dropped`)."""

    event: dict[str, Any]
    destination_url: str
    status: int | None
    error: str = ""
    dropped: bool = False


@dataclass
class _Outcome:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw_location: str = ""  # a redirect


@dataclass
class _Client:
    client_id: str
    client_secret: str
    application_id: str
    # client_credentials is allowed only for a Developer Managed Service Account.
    service_account: bool = False


class ProcoreEmulator(Emulator):
    """Thread-safe in-memory Procore. `start()` serves it; the methods drive it in-process."""

    thread_name = "procore-emulator"
    server_version = "ProcoreEmulator/1.0"
    json_content_type = "application/json; charset=utf-8"
    max_body_bytes = 2_000_000

    def __init__(
        self, *, client_id: str = DEFAULT_CLIENT_ID, client_secret: str = DEFAULT_CLIENT_SECRET,
        application_id: str = "timesync-app", service_account: bool = True,
        rate_limit: int = 3600, rate_window: float = 60.0, default_per_page: int = 100,
        max_per_page: int = 100, delivery_retries: int = 2,
    ) -> None:
        super().__init__(rate_limit=rate_limit, rate_window=rate_window)
        self.default_per_page = default_per_page
        self.max_per_page = max_per_page
        self.delivery_retries = delivery_retries
        self._clients: dict[str, _Client] = {}
        self.register_client(client_id, client_secret, application_id=application_id,
                             service_account=service_account)
        # Ids are never reused, not even after reset(): a stale id must not find a new row.
        self._entry_ids = itertools.count(_FIRST_ENTRY_ID)
        self._object_ids = itertools.count(_FIRST_OBJECT_ID)
        self._event_ids = itertools.count(1)
        self._deliveries_queue: queue.Queue[tuple[dict[str, Any], dict[str, Any]] | None] = \
            queue.Queue()
        self._pending = 0  # queued or being delivered
        self._delivered = threading.Condition(self._lock)
        self._delivery_thread: threading.Thread | None = None
        self._clear_state()

    def _clear_state(self) -> None:
        with self._lock:
            self._clock_offset = 0.0
            self._companies: dict[int, dict[str, Any]] = {}
            self._people: dict[int, dict[str, Any]] = {}
            self._projects: dict[int, dict[str, Any]] = {}
            self._sub_jobs: dict[int, dict[str, Any]] = {}
            self._cost_codes: dict[int, dict[str, Any]] = {}
            self._standard_lists: dict[int, dict[str, Any]] = {}
            self._standard_cost_codes: dict[int, dict[str, Any]] = {}
            self._time_types: dict[int, dict[str, Any]] = {}
            self._work_classifications: dict[int, dict[str, Any]] = {}
            self._entries: dict[int, dict[str, Any]] = {}
            self._hooks: dict[int, dict[str, Any]] = {}
            self._triggers: dict[int, dict[str, Any]] = {}
            self._codes: dict[str, dict[str, Any]] = {}
            self._access_tokens: dict[str, dict[str, Any]] = {}
            self._refresh_tokens: dict[str, dict[str, Any]] = {}
            self._grants: dict[str, dict[str, Any]] = {}
            self._clear_plumbing()
            self._delivery_faults: list[Fault] = []
            self._held_events: list[tuple[dict[str, Any], dict[str, Any]]] = []
            self._deliveries: list[Delivery] = []
            self.deny_authorization = False  # /oauth/authorize answers access_denied

    # --- Serving ----------------------------------------------------------------------------

    @property
    def api_base_url(self) -> str:
        """What an integration's api_base_url holds (the login host is the same server)."""
        if not self.url:
            raise RuntimeError("The emulator is not serving: call start() first.")
        return self.url

    @property
    def login_base_url(self) -> str:
        return self.api_base_url

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in daemon threads (port 0: any free port) and return the base URL."""
        url = super().start(host, port)
        self._delivery_thread = threading.Thread(target=self._deliver_forever,
                                                 name="procore-emulator-webhooks", daemon=True)
        self._delivery_thread.start()
        return url

    def stop(self) -> None:
        super().stop()
        if self._delivery_thread is not None:
            self._deliveries_queue.put(None)
            self._delivery_thread.join(timeout=10)
            self._delivery_thread = None

    # --- Clock and tokens ---------------------------------------------------------------------

    def now(self) -> float:
        """The emulator's clock (unix seconds): real time plus what `advance_clock` added."""
        return time.time() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the token clock forward: access tokens older than 5400 s stop working."""
        with self._lock:
            self._clock_offset += seconds

    def expire_access_tokens(self) -> int:
        """Every access token issued so far stops working (refresh tokens still do)."""
        with self._lock:
            for token in self._access_tokens.values():
                token["expires_at"] = min(token["expires_at"], self.now() - 1)
            return len(self._access_tokens)

    def register_client(self, client_id: str, client_secret: str, *, application_id: str = "",
                        service_account: bool = False) -> None:
        """An app registered in the Developer Portal (and installed in every company held)."""
        with self._lock:
            self._clients[client_id] = _Client(client_id, client_secret,
                                               application_id or client_id, service_account)

    def issue_tokens(self, client_id: str = DEFAULT_CLIENT_ID) -> dict[str, Any]:
        """Tokens as if the admin had approved the app (for tests not about the OAuth flow)."""
        with self._lock:
            return self._issue(client_id, with_refresh=True)

    def revoke_grant_of(self, refresh_token: str) -> None:
        """The admin uninstalled the app or revoked its access: the grant and its tokens die."""
        with self._lock:
            row = self._refresh_tokens.get(refresh_token)
            if row is not None:
                self._grants[row["grant_id"]]["revoked"] = True

    def token_counts(self) -> dict[str, int]:
        """How many tokens were issued by grant type, and how many refreshes failed."""
        with self._lock:
            counts = {"authorization_code": 0, "refresh_token": 0, "client_credentials": 0,
                      "refused_refresh": 0}
            for grant in self._grants.values():
                for name, value in grant["counts"].items():
                    counts[name] += value
            return counts

    # --- State --------------------------------------------------------------------------------

    def seed(self, **data: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """Add or replace reference data by id (a row without an id gets one), then add
        entries, validated as a POST would be. Returns the rows as stored, by kind."""
        unknown = set(data) - set(_SEED_KINDS)
        if unknown:
            raise ValueError(f"Unknown seed keys: {', '.join(sorted(unknown))}")
        stored: dict[str, list[dict[str, Any]]] = {}
        with self._lock:
            for kind in _SEED_KINDS:
                for row in data.get(kind) or ():
                    if not isinstance(row, Mapping):
                        raise ValueError(f"A seeded {kind} row must be an object: {row!r}")
                    stored.setdefault(kind, []).append(self._seed_row(kind, dict(row)))
        return stored

    def _seed_row(self, kind: str, row: dict[str, Any]) -> dict[str, Any]:
        if kind == "entries":
            project_id = _int_field(row.pop("project_id", None), "project_id")
            lock = row.pop("approval_status", "pending")
            try:
                entry = self._create_entry(project_id, row, source=None)
            except _Invalid as error:
                raise ValueError(f"Cannot seed entry {row}: {error}") from error
            self.set_approval_status(entry["id"], lock)
            return self._render_entry(self._entries[entry["id"]])
        row_id = int(row["id"]) if row.get("id") is not None else next(self._object_ids)
        row["id"] = row_id
        if kind == "companies":
            row.setdefault("name", f"Company {row_id}")
            row.setdefault("is_active", True)
            row["app_installed"] = bool(row.get("app_installed", True))
            self._companies[row_id] = row
            if not any(t["company_id"] == row_id for t in self._time_types.values()):
                for time_type in DEFAULT_TIME_TYPES:
                    type_id = next(self._object_ids)
                    self._time_types[type_id] = {"id": type_id, "company_id": row_id,
                                                 "global": True, **time_type}
        elif kind == "people":
            row["company_id"] = self._seeded_company(row)
            row.setdefault("first_name", "")
            row.setdefault("last_name", f"Person {row_id}")
            row.setdefault("is_employee", True)
            row.setdefault("employee_id", None)
            row.setdefault("active", True)
            row.setdefault("email_address", None)
            row.setdefault("origin_id", None)
            self._people[row_id] = row
        elif kind == "projects":
            row["company_id"] = self._seeded_company(row)
            row.setdefault("name", f"Project {row_id}")
            row.setdefault("project_number", "")
            row.setdefault("active", True)
            mode = row.setdefault("timecard_entry_mode", "hours")
            if mode not in ENTRY_MODES:
                raise ValueError(f"timecard_entry_mode is one of {ENTRY_MODES}, not {mode!r}")
            self._projects[row_id] = row
        elif kind == "sub_jobs":
            self._seeded_project(row)
            row.setdefault("code", "")
            row.setdefault("name", row["code"])
            self._sub_jobs[row_id] = row
        elif kind == "cost_codes":
            self._seeded_project(row)
            row.setdefault("code", row.get("full_code", ""))
            row.setdefault("full_code", row["code"])
            row.setdefault("name", "")
            row.setdefault("sub_job_id", None)
            row.setdefault("origin_id", None)
            self._cost_codes[row_id] = row
        elif kind == "standard_cost_codes":
            company_id = self._seeded_company(row)
            list_id = row.get("standard_cost_code_list_id")
            if list_id is None:
                list_id = next((lid for lid, scl in self._standard_lists.items()
                                if scl["company_id"] == company_id), None)
            if list_id is None:
                list_id = next(self._object_ids)
                self._standard_lists[list_id] = {"id": list_id, "company_id": company_id,
                                                 "name": "Standard Cost Codes"}
            row["standard_cost_code_list_id"] = int(list_id)
            row["company_id"] = company_id
            row.setdefault("code", row.get("full_code", ""))
            row.setdefault("full_code", row["code"])
            row.setdefault("name", "")
            self._standard_cost_codes[row_id] = row
        elif kind == "work_classifications":
            row["company_id"] = self._seeded_company(row)
            row.setdefault("name", f"Classification {row_id}")
            self._work_classifications[row_id] = row
        elif kind == "time_types":
            row["company_id"] = self._seeded_company(row)
            row.setdefault("global", False)
            row.setdefault("abbreviated_time_type", "")
            row.setdefault("time_type", row["abbreviated_time_type"])
            self._time_types[row_id] = row
        return copy.deepcopy(row)

    def _seeded_company(self, row: Mapping[str, Any]) -> int:
        company_id = int(row.get("company_id") or DEFAULT_COMPANY_ID)
        if company_id not in self._companies:
            self._seed_row("companies", {"id": company_id})
        return company_id

    def _seeded_project(self, row: dict[str, Any]) -> None:
        project_id = _int_field(row.get("project_id"), "project_id")
        if project_id not in self._projects:
            raise ValueError(f"Seed project {project_id} before what belongs to it.")
        row["project_id"] = project_id

    def entries(self, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every timecard entry held, oldest first, as the API renders it."""
        with self._lock:
            return [self._render_entry(entry) for entry in self._entries.values()
                    if include_deleted or entry["deleted_at"] is None]

    def entry(self, entry_id: int) -> dict[str, Any]:
        with self._lock:
            return self._render_entry(self._entries[int(entry_id)])

    def hooks(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(self._render_hook(hook), triggers=[
                copy.deepcopy(t) for t in self._triggers.values() if t["hook_id"] == hook["id"]
            ]) for hook in self._hooks.values()]

    def set_approval_status(self, entry_id: int, status: str) -> None:
        """Approve or complete an entry as payroll would in Procore (locking it)."""
        if status not in APPROVAL_STATUSES:
            raise ValueError(f"approval_status is one of {APPROVAL_STATUSES}")
        with self._lock:
            self._entries[int(entry_id)]["approval_status"] = status

    def set_app_installed(self, company_id: int, installed: bool) -> None:
        with self._lock:
            self._companies[int(company_id)]["app_installed"] = installed

    def edit_in_procore(self, entry_id: int, **changes: Any) -> dict[str, Any]:
        """Someone changes an entry in Procore's own screens: webhooks fire, with no
        application id (it was not an app)."""
        with self._lock:
            entry = self._entries[int(entry_id)]
            return self._update_entry(entry, changes, source=None)

    def move_in_procore(self, entry_id: int, project_id: int) -> dict[str, Any]:
        """Someone moves an entry to another project of the company in Procore (its sub job
        and cost code stay behind: they belong to the old project)."""
        with self._lock:
            entry = self._entries[int(entry_id)]
            if int(project_id) not in self._projects:
                raise ValueError(f"No project {project_id}")
            entry.update(project_id=int(project_id), sub_job_id=None, cost_code_id=None)
            return self._update_entry(entry, {}, source=None)

    def create_in_procore(self, project_id: int, **fields: Any) -> dict[str, Any]:
        with self._lock:
            return self._create_entry(int(project_id), fields, source=None)

    def delete_in_procore(self, entry_id: int) -> None:
        with self._lock:
            self._delete_entry(self._entries[int(entry_id)], source=None)

    def reset(self) -> None:
        """Forget data, tokens, faults, logs and the rate window; keep serving."""
        self.wait_for_deliveries()
        self._clear_state()

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def wait_for_deliveries(self, timeout: float = 10.0) -> list[Delivery]:
        """Block until every queued webhook was delivered (held out-of-order events stay held
        until the next event releases them, or `release_held_events`)."""
        deadline = time.monotonic() + timeout
        with self._delivered:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("Webhook deliveries still pending.")
                self._delivered.wait(left)
            return list(self._deliveries)

    # --- Faults -------------------------------------------------------------------------------

    def inject_delivery(self, kind: str, *, count: int = 1, times: int = 2) -> Fault:
        """Misbehave on the next `count` webhook events: repeat (deliver `times` times),
        reorder (hold them, then deliver them newest first after the next event), drop."""
        if kind not in DELIVERY_FAULT_KINDS:
            raise ValueError(f"Unknown delivery fault {kind!r}; use one of "
                             f"{', '.join(DELIVERY_FAULT_KINDS)}.")
        fault = Fault(kind=kind, count=count, params={"times": times})
        with self._lock:
            self._delivery_faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            super().clear_faults()
            self._delivery_faults.clear()

    # --- Serving one request --------------------------------------------------------------------

    def _invalid(self, status: int, message: str) -> Exception:
        return _Invalid(status, message)

    def _error_body(self, message: str) -> Any:
        return {"errors": message}

    def _serve_request(self, handler: EmulatorHandler, method: str, path: str,
                       query_string: str) -> None:
        query = parse_qs(query_string, keep_blank_values=True)
        target = f"{path}?{query_string}" if query_string else path
        headers = {name.lower(): value for name, value in handler.headers.items()}
        content_type = headers.get("content-type", "")
        try:
            raw = handler.read_body()
        except _Invalid as error:
            self._answer(handler, method, path, query, headers, None, content_type,
                         _Outcome(error.status, error.body), None)
            return
        is_api = path.startswith("/rest/")
        delay, fault = self._take_fault(method, target) if is_api else (0.0, None)
        stopped, fault = self._hold(delay, fault)
        if stopped:
            return
        if fault is not None and fault.kind != "lose_response":
            outcome = self._fault_outcome(fault)
            attempted = _loggable(raw, content_type)
            if fault.kind == "timeout":
                self._record(method, path, query, headers, outcome.status, attempted,
                             content_type, fault.kind)
                if self._stopping.wait(fault.params["seconds"]):
                    return
                self._answer(handler, method, path, query, headers, attempted, content_type,
                             outcome, fault.kind, log=False)
                return
            self._answer(handler, method, path, query, headers, attempted, content_type,
                         outcome, fault.kind)
            return
        body: Any = _loggable(raw, content_type)
        try:
            if path.startswith("/oauth/"):
                outcome = self._oauth(method, path, query, raw, content_type, headers)
            elif is_api:
                outcome = (self._rate_limited() or self._unauthorized(headers)
                           or self._company_refused(path, headers))
                if outcome is None:
                    body = _json_body(raw) if method in ("POST", "PATCH", "PUT") and raw \
                        else None
                    outcome = self._route(method, path, query, body, headers)
            else:
                outcome = _Outcome(404, {"errors": f"No such resource: {path}."})
        except _Invalid as error:
            outcome = _Outcome(error.status, error.body, error.headers)
        if fault is not None:  # lose_response: the work is done, the answer never leaves
            self._record(method, path, query, headers, None, body, content_type, fault.kind)
            handler.drop_connection()
            return
        self._answer(handler, method, path, query, headers, body, content_type, outcome, None)

    def _answer(
        self, handler: EmulatorHandler, method: str, path: str, query: dict[str, list[str]],
        headers: dict[str, str], body: Any, content_type: str, outcome: _Outcome,
        fault: str | None, *, log: bool = True,
    ) -> None:
        if path.startswith("/rest/"):
            outcome.headers = {**self._rate_headers(), **outcome.headers}
        if log:
            self._record(method, path, query, headers, outcome.status, body, content_type, fault)
        if outcome.raw_location:
            handler.send_redirect(outcome.raw_location)
            return
        handler.send_json(outcome.status, outcome.body, outcome.headers)

    def _record(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
        status: int | None, body: Any, content_type: str, fault: str | None,
    ) -> None:
        kept = {name: value for name, value in headers.items()
                if name in ("procore-company-id", "user-agent", "content-type")}
        kept["authorization"] = "Bearer ..." if "authorization" in headers else ""
        with self._lock:
            self._log.append(LoggedRequest(
                method=method, path=path, query=query, headers=kept, status=status, body=body,
                content_type=content_type.split(";")[0].strip(), fault=fault, at=time.time(),
            ))

    def _fault_outcome(self, fault: Fault) -> _Outcome:
        status, headers = self._fault_status(fault)
        if fault.kind == "rate_limit":
            headers = {"X-Rate-Limit-Limit": str(self.rate_limit), **headers}
        message = {"rate_limit": "Rate limit exceeded",
                   "timeout": "Gateway timeout"}.get(fault.kind, "Service unavailable")
        return _Outcome(status, {"errors": message}, headers)

    def _rate_limited(self) -> _Outcome | None:
        if self._count_in_window() is None:
            return None
        return _Outcome(429, {"errors": "Rate limit exceeded"})

    def _unauthorized(self, headers: Mapping[str, str]) -> _Outcome | None:
        scheme, _space, token = headers.get("authorization", "").partition(" ")
        with self._lock:
            row = self._access_tokens.get(token) if scheme.lower() == "bearer" else None
            if row is not None and not self._grants[row["grant_id"]]["revoked"] \
                    and self.now() < row["expires_at"]:
                return None
        return _Outcome(401, {"error": "invalid_token",
                              "error_description": "The access token is invalid or expired."},
                        {"WWW-Authenticate": 'Bearer realm="Procore", error="invalid_token"'})

    def _company_refused(self, path: str, headers: Mapping[str, str]) -> _Outcome | None:
        if path in (f"{API_PREFIX}/me", f"{API_PREFIX}/companies"):
            return None
        value = headers.get("procore-company-id", "")
        if not value:
            return _Outcome(400, {"errors": "Procore-Company-Id header is required"})
        if not value.isdigit():
            return _Outcome(400, {"errors": "Procore-Company-Id must be an integer"})
        with self._lock:
            company = self._companies.get(int(value))
            if company is None:
                return _Outcome(404, {"errors": f"Company {value} not found"})
            if not company["app_installed"]:
                return _Outcome(403, {"errors": "This app is not installed in the company's "
                                                "App Management"})
        return None

    # --- OAuth ----------------------------------------------------------------------------------

    def _oauth(self, method: str, path: str, query: dict[str, list[str]], raw: bytes,
               content_type: str, headers: Mapping[str, str]) -> _Outcome:
        if path == "/oauth/authorize":
            _allow(method, "GET")
            return self._authorize({name: values[-1] for name, values in query.items()})
        if path == "/oauth/token":
            _allow(method, "POST")
            return self._token(_form_or_json(raw, content_type), headers)
        if path == "/oauth/revoke":
            _allow(method, "POST")
            return self._revoke(_form_or_json(raw, content_type), headers)
        raise _Invalid(404, f"No such resource: {path}.")

    def _authorize(self, params: dict[str, str]) -> _Outcome:
        client = self._clients.get(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        if client is None or not redirect_uri.startswith(("http://", "https://")):
            # Never redirect for an unknown app or address (an open redirect otherwise).
            raise _Invalid(400, "invalid_client", {"error": "invalid_client",
                                                   "error_description": "Unknown client or "
                                                   "redirect_uri."})
        state = params.get("state")
        if params.get("response_type") != "code":
            answer = {"error": "unsupported_response_type"}
        elif self.deny_authorization:
            answer = {"error": "access_denied"}
        else:
            code = secrets.token_urlsafe(24)
            with self._lock:
                self._codes[code] = {"client_id": client.client_id,
                                     "redirect_uri": redirect_uri, "used": False}
            answer = {"code": code}
        if state is not None:
            answer["state"] = state
        separator = "&" if "?" in redirect_uri else "?"
        return _Outcome(302, raw_location=f"{redirect_uri}{separator}{urlencode(answer)}")

    def _client_from(self, form: Mapping[str, str], headers: Mapping[str, str]) -> _Client:
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        scheme, _space, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                client_id, _colon, client_secret = \
                    base64.b64decode(value).decode().partition(":")
        client = self._clients.get(client_id)
        if client is None or not hmac.compare_digest(client.client_secret.encode(),
                                                     client_secret.encode()):
            raise _Invalid(401, "invalid_client", {
                "error": "invalid_client",
                "error_description": "Client authentication failed due to unknown client, no "
                                     "client authentication included, or unsupported "
                                     "authentication method."})
        return client

    def _token(self, form: dict[str, str], headers: Mapping[str, str]) -> _Outcome:
        grant_type = form.get("grant_type", "")
        with self._lock:
            if grant_type == "refresh_token":
                # Single use: the attempt itself spends the token, whatever happens next (a
                # wrong secret, a lost answer), as Procore does.
                row = self._refresh_tokens.get(form.get("refresh_token", ""))
                usable = row is not None and row["state"] == "active" \
                    and not self._grants[row["grant_id"]]["revoked"]
                if row is not None:
                    row["state"] = "used"
                client = self._client_from(form, headers)
                if not usable or row["client_id"] != client.client_id:
                    if row is not None:
                        self._grants[row["grant_id"]]["counts"]["refused_refresh"] += 1
                    raise _invalid_grant("The refresh token is invalid, expired, revoked or "
                                         "already used.")
                return _Outcome(200, self._issue(client.client_id, with_refresh=True,
                                                 grant_id=row["grant_id"],
                                                 grant_type="refresh_token"))
            client = self._client_from(form, headers)
            if grant_type == "authorization_code":
                code = self._codes.get(form.get("code", ""))
                if code is None or code["used"] or code["client_id"] != client.client_id or (
                        form.get("redirect_uri") and form["redirect_uri"] != code["redirect_uri"]):
                    raise _invalid_grant("The authorization code is invalid, expired, already "
                                         "used or was issued to another redirect URI.")
                code["used"] = True
                return _Outcome(200, self._issue(client.client_id, with_refresh=True))
            if grant_type == "client_credentials":
                if not client.service_account:
                    raise _Invalid(400, "unauthorized_client", {
                        "error": "unauthorized_client",
                        "error_description": "This client is not a Developer Managed Service "
                                             "Account."})
                return _Outcome(200, self._issue(client.client_id, with_refresh=False,
                                                 grant_type="client_credentials"))
        raise _Invalid(400, "unsupported_grant_type", {"error": "unsupported_grant_type"})

    def _issue(self, client_id: str, *, with_refresh: bool, grant_id: str | None = None,
               grant_type: str = "authorization_code") -> dict[str, Any]:
        if grant_id is None:
            grant_id = secrets.token_hex(8)
            self._grants[grant_id] = {"client_id": client_id, "revoked": False,
                                      "counts": {"authorization_code": 0, "refresh_token": 0,
                                                 "client_credentials": 0,
                                                 "refused_refresh": 0}}
        self._grants[grant_id]["counts"][grant_type] += 1
        now = self.now()
        access = secrets.token_urlsafe(32)
        self._access_tokens[access] = {"client_id": client_id, "grant_id": grant_id,
                                       "expires_at": now + ACCESS_TOKEN_LIFETIME}
        answer: dict[str, Any] = {"access_token": access, "token_type": "bearer",
                                  "expires_in": ACCESS_TOKEN_LIFETIME, "created_at": int(now)}
        if with_refresh:
            refresh = secrets.token_urlsafe(32)
            self._refresh_tokens[refresh] = {"client_id": client_id, "grant_id": grant_id,
                                             "state": "active"}
            answer["refresh_token"] = refresh
        return answer

    def _revoke(self, form: dict[str, str], headers: Mapping[str, str]) -> _Outcome:
        with self._lock:
            client = self._client_from(form, headers)
            token = form.get("token", "")
            row = self._refresh_tokens.get(token) or self._access_tokens.get(token)
            if row is not None and row["client_id"] == client.client_id:
                self._grants[row["grant_id"]]["revoked"] = True
        return _Outcome(200, {})  # RFC 7009: an unknown token is not an error

    # --- The REST API ---------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any,
               headers: Mapping[str, str]) -> _Outcome:
        rest = path[len(API_PREFIX):] if path.startswith(API_PREFIX + "/") else None
        if rest is None:
            raise _Invalid(404, f"No such resource: {path}.")
        parts = rest.strip("/").split("/")
        company_header = int(headers.get("procore-company-id") or 0)
        source = self._source(headers)
        with self._lock:
            if parts == ["me"]:
                _allow(method, "GET")
                return _Outcome(200, {"id": 1, "login": "app@emulator.example",
                                      "name": "Emulated app user"})
            if parts == ["companies"]:
                _allow(method, "GET")
                return self._page([copy.deepcopy(c) for c in self._companies.values()], query,
                                  path)
            if parts[0] == "companies" and len(parts) >= 3:
                company_id = _path_id(parts[1])
                if company_id not in self._companies:
                    raise _Invalid(404, f"Company {parts[1]} not found")
                return self._company_route(method, company_id, parts[2:], query, body, path,
                                           source)
            if parts[0] == "projects" and len(parts) >= 3 and parts[2] == "timecard_entries":
                project = self._project(_path_id(parts[1]), company_header)
                return self._project_entries(method, project, parts[3:], query, body, path,
                                             source)
            if parts == ["sub_jobs"]:
                _allow(method, "GET")
                project = self._project(_query_int(query, "project_id", required=True),
                                        company_header)
                return self._page([copy.deepcopy(s) for s in self._sub_jobs.values()
                                   if s["project_id"] == project["id"]], query, path)
            if parts == ["cost_codes"]:
                _allow(method, "GET")
                project = self._project(_query_int(query, "project_id", required=True),
                                        company_header)
                return self._page([copy.deepcopy(c) for c in self._cost_codes.values()
                                   if c["project_id"] == project["id"]], query, path)
            if parts == ["standard_cost_code_lists"]:
                _allow(method, "GET")
                company_id = _query_int(query, "company_id", required=True)
                return self._page([copy.deepcopy(s) for s in self._standard_lists.values()
                                   if s["company_id"] == company_id], query, path)
            if parts == ["standard_cost_codes"]:
                _allow(method, "GET")
                company_id = _query_int(query, "company_id", required=True)
                list_id = _query_int(query, "standard_cost_code_list_id", required=True)
                return self._page([copy.deepcopy(c) for c in self._standard_cost_codes.values()
                                   if c["company_id"] == company_id
                                   and c["standard_cost_code_list_id"] == list_id], query, path)
            if parts[0] == "webhooks" and len(parts) >= 2 and parts[1] == "hooks":
                return self._webhooks(method, parts[2:], query, body, path, company_header)
        raise _Invalid(404, f"No such resource: {path}.")

    def _source(self, headers: Mapping[str, str]) -> str | None:
        """The application id behind the request's token: webhooks name it as their source."""
        _scheme, _space, token = headers.get("authorization", "").partition(" ")
        row = self._access_tokens.get(token)
        if row is None:
            return None
        client = self._clients.get(row["client_id"])
        return client.application_id if client else None

    def _project(self, project_id: int, company_id: int) -> dict[str, Any]:
        project = self._projects.get(project_id)
        if project is None or project["company_id"] != company_id:
            raise _Invalid(404, f"Project {project_id} not found")
        return project

    def _company_route(self, method: str, company_id: int, parts: list[str],
                       query: dict[str, list[str]], body: Any, path: str,
                       source: str | None) -> _Outcome:
        if parts == ["people"]:
            _allow(method, "GET")
            rows = [copy.deepcopy(p) for p in self._people.values()
                    if p["company_id"] == company_id]
            wanted = _query_bool(query, "filters[is_employee]")
            if wanted is not None:
                rows = [row for row in rows if bool(row["is_employee"]) == wanted]
            return self._page(rows, query, path)
        if parts == ["projects"]:
            _allow(method, "GET")
            return self._page([_render_project(p) for p in self._projects.values()
                               if p["company_id"] == company_id], query, path)
        if parts == ["timecard_time_types"]:
            _allow(method, "GET")
            # Not paginated in Procore: the whole list at once.
            return _Outcome(200, [copy.deepcopy(t) for t in self._time_types.values()
                                  if t["company_id"] == company_id])
        if parts == ["timesheets"]:
            _allow(method, "POST")
            return self._bulk_create(company_id, _object(body), source)
        if parts and parts[0] == "timecard_entries":
            if len(parts) == 1:
                _allow(method, "GET")
                return self._page(self._company_entries(company_id, query), query, path)
            entry = self._entry_of(_path_id(parts[1]), company_id=company_id)
            _allow(method, "GET", "DELETE")
            if method == "DELETE":
                self._check_lock(entry, "delete")
                self._delete_entry(entry, source=source)
                return _Outcome(200, {})
            return _Outcome(200, self._render_entry(entry))
        raise _Invalid(404, f"No such resource: {path}.")

    def _company_entries(self, company_id: int,
                         query: dict[str, list[str]]) -> list[dict[str, Any]]:
        deleted_range = _query_range(query, "filters[deleted_at]")
        updated_range = _query_range(query, "filters[updated_at]")
        parties = {_path_id(value) for values in
                   (query.get("filters[party_id]", []) + query.get("filters[party_id][]", []))
                   for value in values.split(",") if value}
        start = _query_date(query, "start_date")
        end = _query_date(query, "end_date")
        rows = []
        for entry in self._entries.values():
            if self._projects[entry["project_id"]]["company_id"] != company_id:
                continue
            if deleted_range is not None:
                if entry["deleted_at"] is None or not _in_range(entry["deleted_at"],
                                                                deleted_range):
                    continue
            elif entry["deleted_at"] is not None:
                continue
            if updated_range is not None and not _in_range(entry["updated_at"], updated_range):
                continue
            if parties and entry["party_id"] not in parties:
                continue
            if (start and entry["date"] < start) or (end and entry["date"] > end):
                continue
            rows.append(self._render_entry(entry))
        return rows

    def _project_entries(self, method: str, project: dict[str, Any], parts: list[str],
                         query: dict[str, list[str]], body: Any, path: str,
                         source: str | None) -> _Outcome:
        if not parts:
            _allow(method, "GET", "POST")
            if method == "GET":
                day = _query_date(query, "log_date")
                start = _query_date(query, "start_date")
                end = _query_date(query, "end_date")
                rows = [self._render_entry(e) for e in self._entries.values()
                        if e["project_id"] == project["id"] and e["deleted_at"] is None
                        and (not day or e["date"] == day)
                        and (not start or e["date"] >= start) and (not end or e["date"] <= end)]
                return self._page(rows, query, path)
            data = _object(_object(body).get("timecard_entry"), "timecard_entry")
            return _Outcome(201, self._create_entry(project["id"], data, source=source))
        if len(parts) != 1:
            raise _Invalid(404, f"No such resource: {path}.")
        entry = self._entry_of(_path_id(parts[0]), project_id=project["id"])
        _allow(method, "GET", "PATCH", "DELETE")
        if method == "GET":
            return _Outcome(200, self._render_entry(entry))
        if method == "DELETE":
            self._check_lock(entry, "delete")
            self._delete_entry(entry, source=source)
            return _Outcome(200, {})
        self._check_lock(entry, "edit")
        data = _object(_object(body).get("timecard_entry"), "timecard_entry")
        return _Outcome(200, self._update_entry(entry, data, source=source))

    def _entry_of(self, entry_id: int, *, project_id: int | None = None,
                  company_id: int | None = None) -> dict[str, Any]:
        entry = self._entries.get(entry_id)
        if entry is None or entry["deleted_at"] is not None or (
                project_id is not None and entry["project_id"] != project_id) or (
                company_id is not None
                and self._projects[entry["project_id"]]["company_id"] != company_id):
            raise _Invalid(404, f"Timecard entry {entry_id} not found")
        return entry

    def _check_lock(self, entry: dict[str, Any], action: str) -> None:
        status = entry["approval_status"]
        if action == "delete" and status in ("approved", "completed"):
            raise _Invalid(403, "locked", {
                "errors": f"This timecard entry is {status} and cannot be deleted. Ask a "
                          "timesheet admin to move it back to pending first."})
        if action == "edit" and status == "completed":
            raise _Invalid(422, "locked", {
                "errors": {"base": ["This timecard entry is completed and can no longer be "
                                    "edited."]}})

    # --- Entries ------------------------------------------------------------------------------

    def _create_entry(self, project_id: int, data: dict[str, Any], *,
                      source: str | None) -> dict[str, Any]:
        project = self._projects.get(project_id)
        if project is None:
            raise _Invalid(404, f"Project {project_id} not found")
        fields = self._valid_entry(project, data, current=None)
        now = _iso(self.now())
        entry_id = next(self._entry_ids)
        entry = {"id": entry_id, "project_id": project_id, **fields,
                 "approval_status": "pending", "created_at": now, "updated_at": now,
                 "deleted_at": None}
        self._entries[entry_id] = entry
        self._emit(entry, "create", source)
        return self._render_entry(entry)

    def _update_entry(self, entry: dict[str, Any], data: dict[str, Any], *,
                      source: str | None) -> dict[str, Any]:
        fields = self._valid_entry(self._projects[entry["project_id"]], data, current=entry)
        entry.update(fields, updated_at=_iso(self.now()))
        self._emit(entry, "update", source)
        return self._render_entry(entry)

    def _delete_entry(self, entry: dict[str, Any], *, source: str | None) -> None:
        now = _iso(self.now())
        entry.update(deleted_at=now, updated_at=now)
        self._emit(entry, "delete", source)

    def _valid_entry(self, project: dict[str, Any], data: dict[str, Any],
                     current: dict[str, Any] | None) -> dict[str, Any]:
        """The stored fields of an entry from a create (current None) or a partial update."""
        unknown = set(data) - _ENTRY_WRITE_FIELDS
        if unknown:
            raise _Invalid(400, "unknown", {"errors": f"Unknown timecard entry attributes: "
                                                      f"{', '.join(sorted(unknown))}"})
        merged = dict(current or {})
        merged.update(data)
        errors: dict[str, list[str]] = {}

        def check(name: str, test: Callable[[], Any]) -> Any:
            try:
                return test()
            except _FieldError as error:
                errors.setdefault(name, []).append(str(error))
                return None

        company_id = project["company_id"]
        party_id = check("party_id", lambda: _ref(merged.get("party_id"), self._people,
                                                  "person", required=True,
                                                  company_id=company_id))
        day = check("date", lambda: _date_value(merged.get("date")))
        cost_code_id = check("cost_code_id", lambda: _ref(
            merged.get("cost_code_id"), self._cost_codes, "cost code",
            project_id=project["id"]))
        sub_job_id = check("sub_job_id", lambda: _ref(
            merged.get("sub_job_id"), self._sub_jobs, "sub job", project_id=project["id"]))
        time_type_id = check("timecard_time_type_id", lambda: _ref(
            merged.get("timecard_time_type_id"), self._time_types, "time type",
            company_id=company_id))
        if time_type_id is None and "timecard_time_type_id" not in errors:
            time_type_id = next((t["id"] for t in self._time_types.values()
                                 if t["company_id"] == company_id
                                 and t["abbreviated_time_type"] == "REG"), None)
        classification_id = check("work_classification_id", lambda: _ref(
            merged.get("work_classification_id"), self._work_classifications, "classification",
            company_id=company_id))
        origin_id = check("origin_id", lambda: _optional_int(merged.get("origin_id")))
        origin_data = check("origin_data", lambda: _optional_str(merged.get("origin_data")))
        description = check("description", lambda: _optional_str(merged.get("description")))
        billable = merged.get("billable", False)
        if not isinstance(billable, bool):
            errors.setdefault("billable", []).append("must be true or false")
        hours = time_in = time_out = None
        lunch = 0
        if project["timecard_entry_mode"] == "start_stop":
            time_in = check("time_in", lambda: _datetime_value(merged.get("time_in")))
            time_out = check("time_out", lambda: _datetime_value(merged.get("time_out")))
            lunch = check("lunch_time", lambda: _minutes(merged.get("lunch_time"))) or 0
            if time_in and time_out:
                worked = (datetime.fromisoformat(time_out) - datetime.fromisoformat(time_in))
                seconds = worked.total_seconds() - lunch * 60
                if seconds <= 0 or seconds > 24 * 3600:
                    errors.setdefault("time_out", []).append(
                        "must be after time_in plus the lunch time, within 24 hours")
                else:
                    hours = f"{Decimal(seconds) / 3600:.2f}"
        else:
            hours = check("hours", lambda: _hours_value(merged.get("hours")))
        if errors:
            raise _Invalid(422, "invalid", {"errors": errors})
        return {"party_id": party_id, "date": day, "hours": hours, "time_in": time_in,
                "time_out": time_out, "lunch_time": lunch, "cost_code_id": cost_code_id,
                "sub_job_id": sub_job_id, "timecard_time_type_id": time_type_id,
                "origin_id": origin_id, "origin_data": origin_data,
                "description": description or "", "billable": billable,
                "work_classification_id": classification_id}

    def _render_entry(self, entry: dict[str, Any]) -> dict[str, Any]:
        """An entry as Procore answers: related records nested, not flat *_id fields."""
        person = self._people.get(entry["party_id"]) or {}
        cost_code = self._cost_codes.get(entry["cost_code_id"] or 0)
        sub_job = self._sub_jobs.get(entry["sub_job_id"] or 0)
        time_type = self._time_types.get(entry["timecard_time_type_id"] or 0)
        classification = self._work_classifications.get(
            entry.get("work_classification_id") or 0)
        project = self._projects[entry["project_id"]]
        return {
            "id": entry["id"], "date": entry["date"], "hours": entry["hours"],
            "time_in": entry["time_in"], "time_out": entry["time_out"],
            "lunch_time": entry["lunch_time"], "description": entry["description"],
            "billable": entry["billable"], "origin_id": entry["origin_id"],
            "origin_data": entry["origin_data"], "approval_status": entry["approval_status"],
            "status": entry["approval_status"],
            "created_at": entry["created_at"], "updated_at": entry["updated_at"],
            "deleted_at": entry["deleted_at"],
            "project": {"id": project["id"], "name": project["name"]},
            "party": {"id": entry["party_id"], "name": _person_name(person)},
            "cost_code": None if cost_code is None else {
                "id": cost_code["id"], "name": cost_code["name"],
                "full_code": cost_code["full_code"]},
            "sub_job": None if sub_job is None else {"id": sub_job["id"],
                                                     "name": sub_job["name"]},
            "timecard_time_type": None if time_type is None else {
                "id": time_type["id"], "time_type": time_type["time_type"],
                "abbreviated_time_type": time_type["abbreviated_time_type"]},
            "work_classification": None if classification is None else {
                "id": classification["id"], "name": classification["name"]},
        }

    def _bulk_create(self, company_id: int, body: dict[str, Any],
                     source: str | None) -> _Outcome:
        """All or nothing: one invalid entry refuses the batch (422, errors by index)."""
        rows = body.get("timecard_entries")
        if not isinstance(rows, list) or not rows:
            raise _Invalid(400, "timecard_entries", {"errors": "timecard_entries must be a "
                                                               "non-empty array"})
        planned = []
        errors: dict[str, Any] = {}
        for index, row in enumerate(rows):
            try:
                data = dict(_object(row, "timecard_entries[]"))
                project_id = _int_field(data.pop("project_id", None), "project_id")
                project = self._projects.get(project_id)
                if project is None or project["company_id"] != company_id:
                    raise _Invalid(422, "project", {"errors": {"project_id": ["not found"]}})
                if isinstance(data.get("hours"), int | float) \
                        and not isinstance(data["hours"], bool):
                    data["hours"] = str(data["hours"])  # bulk takes hours as a number
                data.pop("set_timecard_time_type_automatically", None)
                data.pop("approval_status", None)
                self._valid_entry(project, data, current=None)
                planned.append((project_id, data))
            except (_Invalid, ValueError) as error:
                errors[str(index)] = error.body["errors"] if isinstance(error, _Invalid) \
                    else str(error)
        if errors:
            raise _Invalid(422, "invalid", {"errors": errors})
        return _Outcome(200, [self._create_entry(project_id, data, source=source)
                              for project_id, data in planned])

    # --- Webhooks -----------------------------------------------------------------------------

    def _webhooks(self, method: str, parts: list[str], query: dict[str, list[str]], body: Any,
                  path: str, company_header: int) -> _Outcome:
        if not parts:
            _allow(method, "GET", "POST")
            if method == "GET":
                owner = _hook_owner(query)
                namespace = (query.get("namespace") or [None])[-1]
                return self._page([self._render_hook(h) for h in self._hooks.values()
                                   if (h["company_id"], h["project_id"]) == owner
                                   and (namespace is None or h["namespace"] == namespace)],
                                  query, path)
            data = _object(body)
            owner = _hook_owner({k: [str(v)] for k, v in data.items()
                                 if k in ("company_id", "project_id") and v is not None})
            hook = _object(data.get("hook"), "hook")
            destination = hook.get("destination_url")
            if not isinstance(destination, str) or not destination.startswith(("http://",
                                                                                "https://")):
                raise _Invalid(422, "destination", {"errors": {"destination_url": ["is invalid"]}})
            headers = hook.get("destination_headers") or {}
            if not isinstance(headers, dict) or not all(
                    isinstance(v, str) for v in headers.values()):
                raise _Invalid(422, "headers", {"errors": {"destination_headers": [
                    "must be an object of strings"]}})
            hook_id = next(self._object_ids)
            self._hooks[hook_id] = {
                "id": hook_id, "company_id": owner[0], "project_id": owner[1],
                "namespace": str(hook.get("namespace") or ""),
                "api_version": str(hook.get("api_version") or "v2"),
                "destination_url": destination, "destination_headers": dict(headers),
            }
            return _Outcome(201, self._render_hook(self._hooks[hook_id]))
        hook = self._hooks.get(_path_id(parts[0]))
        if hook is None:
            raise _Invalid(404, f"Hook {parts[0]} not found")
        if len(parts) == 1:
            _allow(method, "DELETE")
            _hook_owner(query)
            for trigger_id in [t for t, row in self._triggers.items()
                               if row["hook_id"] == hook["id"]]:
                del self._triggers[trigger_id]
            del self._hooks[hook["id"]]
            return _Outcome(204)
        if parts[1] != "triggers" or len(parts) > 3:
            raise _Invalid(404, f"No such resource: {path}.")
        if len(parts) == 3:
            _allow(method, "DELETE")
            _hook_owner(query)
            trigger = self._triggers.get(_path_id(parts[2]))
            if trigger is None or trigger["hook_id"] != hook["id"]:
                raise _Invalid(404, f"Trigger {parts[2]} not found")
            del self._triggers[trigger["id"]]
            return _Outcome(204)
        _allow(method, "GET", "POST")
        if method == "GET":
            _hook_owner(query)
            return self._page([copy.deepcopy(t) for t in self._triggers.values()
                               if t["hook_id"] == hook["id"]], query, path)
        trigger = _object(_object(body).get("trigger"), "trigger")
        resource_name, event_type = trigger.get("resource_name"), trigger.get("event_type")
        if not isinstance(resource_name, str) or event_type not in ("create", "update",
                                                                    "delete"):
            raise _Invalid(422, "trigger", {"errors": "trigger needs resource_name and "
                                                      "event_type create, update or delete"})
        trigger_id = next(self._object_ids)
        self._triggers[trigger_id] = {"id": trigger_id, "hook_id": hook["id"],
                                      "resource_name": resource_name, "event_type": event_type}
        return _Outcome(201, copy.deepcopy(self._triggers[trigger_id]))

    @staticmethod
    def _render_hook(hook: dict[str, Any]) -> dict[str, Any]:
        return {"id": hook["id"], "owned_by_company_id": hook["company_id"],
                "owned_by_project_id": hook["project_id"], "namespace": hook["namespace"],
                "api_version": hook["api_version"], "destination_url": hook["destination_url"],
                "destination_headers": dict(hook["destination_headers"])}

    def _emit(self, entry: dict[str, Any], event_type: str, source: str | None) -> None:
        """Queue a webhook event for every hook whose triggers want it (after the change)."""
        project = self._projects[entry["project_id"]]
        for hook in self._hooks.values():
            if hook["project_id"] not in (None, project["id"]) or \
                    hook["company_id"] not in (None, project["company_id"]):
                continue
            if not any(t["hook_id"] == hook["id"] and t["resource_name"] == "Timecard Entries"
                       and t["event_type"] == event_type for t in self._triggers.values()):
                continue
            event_id = next(self._event_ids)
            event = {
                "id": event_id, "ulid": _ulid(self.now()), "timestamp": _iso(self.now()),
                "metadata": {"source_user_id": 1, "source_project_id": project["id"],
                             "source_operation_id": None,
                             "source_company_id": project["company_id"],
                             "source_application_id": source},
                "user_id": 1, "company_id": project["company_id"],
                "project_id": project["id"], "api_version": "v2.0",
                "event_type": event_type, "resource_name": "Timecard Entries",
                "resource_id": entry["id"],
            }
            self._queue_event(event, hook)

    def _queue_event(self, event: dict[str, Any], hook: dict[str, Any]) -> None:
        fault = None
        for candidate in list(self._delivery_faults):
            fault = candidate
            candidate.count = (candidate.count or 1) - 1
            if candidate.count <= 0:
                self._delivery_faults.remove(candidate)
            break
        target = {"destination_url": hook["destination_url"],
                  "destination_headers": dict(hook["destination_headers"])}
        if fault is not None and fault.kind == "drop":
            self._deliveries.append(Delivery(event=event,
                                             destination_url=hook["destination_url"],
                                             status=None, dropped=True))
            return
        if fault is not None and fault.kind == "reorder":
            self._held_events.append((event, target))
            return
        times = int(fault.params["times"]) if fault is not None and fault.kind == "repeat" else 1
        for _ in range(times):
            self._put_delivery(event, target)
        self.release_held_events()

    def _put_delivery(self, event: dict[str, Any], target: dict[str, Any]) -> None:
        with self._lock:
            self._pending += 1
        self._deliveries_queue.put((event, target))

    def release_held_events(self) -> None:
        """Deliver the events a reorder fault held, newest first."""
        with self._lock:
            held, self._held_events = self._held_events, []
        for event, target in reversed(held):
            self._put_delivery(event, target)

    def _deliver_forever(self) -> None:
        while True:
            item = self._deliveries_queue.get()
            if item is None:
                return
            try:
                self._deliver(*item)
            finally:
                with self._delivered:
                    self._pending -= 1
                    self._delivered.notify_all()

    def _deliver(self, event: dict[str, Any], target: dict[str, Any]) -> None:
        data = json.dumps(event).encode()
        status, error = None, ""
        for attempt in range(self.delivery_retries + 1):
            if attempt and self._stopping.wait(0.2 * attempt):
                break
            request = urllib.request.Request(  # noqa: S310 - http(s) checked at hook creation
                target["destination_url"], data=data, method="POST",
                headers={**target["destination_headers"], "Content-Type": "application/json",
                         "User-Agent": "Procore-Webhooks-Emulator"})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                    status, error = response.status, ""
            except urllib.error.HTTPError as failure:
                status, error = failure.code, str(failure)
            except (OSError, ValueError) as failure:
                status, error = None, str(failure)
            if status is not None and 200 <= status < 300:
                break
        with self._lock:
            self._deliveries.append(Delivery(event=event,
                                             destination_url=target["destination_url"],
                                             status=status, error=error))

    # --- Pagination -----------------------------------------------------------------------------

    def _page(self, rows: list[dict[str, Any]], query: dict[str, list[str]],
              path: str) -> _Outcome:
        page = _query_int(query, "page") or 1
        per_page = min(_query_int(query, "per_page") or self.default_per_page, self.max_per_page)
        if page < 1 or per_page < 1:
            raise _Invalid(400, "page", {"errors": "page and per_page must be positive"})
        last = max(1, math.ceil(len(rows) / per_page))
        start = (page - 1) * per_page
        links = []
        base = {name: values for name, values in query.items() if name != "page"}

        def link(number: int, rel: str) -> str:
            target = urlencode({**base, "page": [str(number)]}, doseq=True)
            return f'<{self.url}{path}?{target}>; rel="{rel}"'

        if page < last:
            links.append(link(page + 1, "next"))
        if page > 1:
            links.append(link(page - 1, "prev"))
            links.append(link(1, "first"))
        links.append(link(last, "last"))
        return _Outcome(200, rows[start:start + per_page], {
            "Total": str(len(rows)), "Per-Page": str(per_page), "Link": ", ".join(links)})

    # --- The control API ------------------------------------------------------------------------

    def _serve_control(self, handler: EmulatorHandler, method: str, path: str) -> None:
        try:
            raw = handler.read_body()
            outcome = self._control(method, path, raw)
        except _Invalid as error:
            outcome = _Outcome(error.status, error.body)
        except (ValueError, KeyError) as error:
            outcome = _Outcome(422, {"errors": str(error)})
        handler.send_json(outcome.status, outcome.body, outcome.headers)

    def _control(self, method: str, path: str, raw: bytes) -> _Outcome:
        action = path[len(CONTROL_PREFIX):]
        if action == "/faults":
            _allow(method, "GET", "POST", "DELETE")
            if method == "GET":
                return _Outcome(200, [fault.as_dict() for fault in self.faults()])
            if method == "DELETE":
                self.clear_faults()
                return _Outcome(204)
            spec = _object(_json_body(raw))
            kind = spec.pop("kind", None)
            if kind in DELIVERY_FAULT_KINDS:
                return _Outcome(201, self.inject_delivery(kind, **spec).as_dict())
            fault = self.inject(str(kind), count=spec.pop("count", 1),
                                method=spec.pop("method", None),
                                path_contains=spec.pop("path_contains", None), **spec)
            return _Outcome(201, fault.as_dict())
        if action == "/seed":
            _allow(method, "POST")
            return _Outcome(200, self.seed(**_object(_json_body(raw))))
        if action == "/tokens":
            _allow(method, "POST")
            return _Outcome(200, self.issue_tokens(
                str(_object(_json_body(raw)).get("client_id", DEFAULT_CLIENT_ID))))
        if action == "/expire-tokens":
            _allow(method, "POST")
            return _Outcome(200, {"expired": self.expire_access_tokens()})
        if action == "/clock":
            _allow(method, "POST")
            self.advance_clock(float(_object(_json_body(raw))["advance_seconds"]))
            return _Outcome(200, {"now": self.now()})
        if action == "/entries":
            _allow(method, "GET")
            return _Outcome(200, self.entries(include_deleted=True))
        if action == "/hooks":
            _allow(method, "GET")
            return _Outcome(200, self.hooks())
        if action == "/deliveries":
            _allow(method, "GET")
            return _Outcome(200, [asdict(d) for d in self.deliveries()])
        if action == "/requests":
            _allow(method, "GET")
            return _Outcome(200, [asdict(r) for r in self.request_log()])
        if action == "/reset":
            _allow(method, "POST")
            self.reset()
            return _Outcome(204)
        raise _Invalid(404, f"No emulator control {path}.")


_SEED_KINDS = ("companies", "people", "projects", "sub_jobs", "cost_codes",
               "standard_cost_codes", "time_types", "work_classifications", "entries")
_ENTRY_WRITE_FIELDS = frozenset({
    "party_id", "date", "hours", "time_in", "time_out", "lunch_time", "cost_code_id",
    "sub_job_id", "timecard_time_type_id", "origin_id", "origin_data", "description",
    "billable", "timesheet_id", "location_id", "line_item_type_id", "datetime",
    "daily_log_segment_id", "login_information_id", "work_classification_id",
})


# --- Validation helpers -----------------------------------------------------------------------


class _FieldError(Exception):
    pass


def _invalid_grant(description: str) -> _Invalid:
    return _Invalid(400, "invalid_grant", {"error": "invalid_grant",
                                           "error_description": description})


def _allow(method: str, *methods: str) -> None:
    if method not in methods:
        raise _Invalid(405, f"{method} is not allowed here", {
            "errors": f"{method} is not allowed here; use {', '.join(methods)}."})


def _json_body(raw: bytes) -> Any:
    if not raw:
        raise _Invalid(400, "body", {"errors": "The request needs a JSON body."})
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _Invalid(400, "json", {"errors": f"Malformed JSON: {error}"}) from error


def _form_or_json(raw: bytes, content_type: str) -> dict[str, str]:
    """OAuth endpoints take form fields (RFC 6749) and, as Procore does, JSON."""
    if content_type.startswith("application/json"):
        body = _json_body(raw)
        if not isinstance(body, dict):
            raise _Invalid(400, "invalid_request", {"error": "invalid_request"})
        return {str(k): str(v) for k, v in body.items() if v is not None}
    try:
        fields = parse_qs(raw.decode(), keep_blank_values=True)
    except UnicodeDecodeError as error:
        raise _Invalid(400, "invalid_request", {"error": "invalid_request"}) from error
    return {name: values[-1] for name, values in fields.items()}


def _loggable(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    if content_type.startswith("application/x-www-form-urlencoded"):
        with contextlib.suppress(UnicodeDecodeError):
            return {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _object(body: Any, name: str = "body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _Invalid(400, "object", {"errors": f"{name} must be a JSON object"})
    return body


def _path_id(value: str) -> int:
    if not value.isdigit() or int(value) >= 2**63:
        raise _Invalid(404, f"{value} not found", {"errors": f"{value[:40]} not found"})
    return int(value)


def _int_field(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, not {value!r}")
    return value


def _query_int(query: dict[str, list[str]], name: str, *, required: bool = False) -> int | None:
    values = query.get(name)
    if not values:
        if required:
            raise _Invalid(400, name, {"errors": f"{name} is required"})
        return None
    if not values[-1].isdigit():
        raise _Invalid(400, name, {"errors": f"{name} must be an integer"})
    return int(values[-1])


def _query_bool(query: dict[str, list[str]], name: str) -> bool | None:
    values = query.get(name)
    if not values:
        return None
    return values[-1].lower() in ("true", "1")


def _query_date(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if not values or not values[-1]:
        return None
    try:
        return _date_value(values[-1])
    except _FieldError as error:
        raise _Invalid(400, name, {"errors": f"{name} {error}"}) from error


def _query_range(query: dict[str, list[str]], name: str) -> tuple[str, str] | None:
    """`filters[x]=2025-01-01T00:00:00Z...2025-01-02T00:00:00Z`, compared as instants."""
    values = query.get(name)
    if not values or not values[-1]:
        return None
    start, separator, end = values[-1].partition("...")
    try:
        if not separator:
            raise ValueError
        return (_parse_instant(start).isoformat(), _parse_instant(end).isoformat())
    except ValueError as error:
        raise _Invalid(400, name, {"errors": f"{name} must be a range START...END of ISO 8601 "
                                             "times"}) from error


def _in_range(stamp: str, bounds: tuple[str, str]) -> bool:
    instant = _parse_instant(stamp).isoformat()
    return bounds[0] <= instant <= bounds[1]


def _parse_instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _hook_owner(query: Mapping[str, list[str]]) -> tuple[int | None, int | None]:
    company = _query_int(dict(query), "company_id")
    project = _query_int(dict(query), "project_id")
    if (company is None) == (project is None):
        raise _Invalid(400, "owner", {"errors": "Give exactly one of company_id or project_id"})
    return company, project


def _ref(value: Any, table: Mapping[int, dict[str, Any]], what: str, *, required: bool = False,
         company_id: int | None = None, project_id: int | None = None) -> int | None:
    if value is None:
        if required:
            raise _FieldError("is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _FieldError(f"must be an integer {what} id")
    row = table.get(value)
    if row is None or (company_id is not None and row.get("company_id") != company_id) or (
            project_id is not None and row.get("project_id") != project_id):
        raise _FieldError(f"{what} {value} not found")
    return value


def _optional_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -2**63 <= value < 2**63:
        raise _FieldError("must be an integer")
    return value


def _optional_str(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _FieldError("must be a string")
    return value


def _date_value(value: Any) -> str:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise _FieldError("must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as error:
        raise _FieldError("must be a date YYYY-MM-DD") from error


def _datetime_value(value: Any) -> str:
    if not isinstance(value, str):
        raise _FieldError("is required as an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise _FieldError("must be an ISO 8601 time") from error
    if parsed.tzinfo is None:
        raise _FieldError("must carry its UTC offset")
    return parsed.isoformat()


def _minutes(value: Any) -> int:
    if value is None or value == "":
        return 0
    text = str(value) if not isinstance(value, bool) else ""
    if not text.isdigit() or int(text) > 24 * 60:
        raise _FieldError("must be a number of minutes")
    return int(text)


def _hours_value(value: Any) -> str:
    if not isinstance(value, str) or not _HOURS.fullmatch(value):
        raise _FieldError('is required as a string such as "8.00"')
    try:
        hours = Decimal(value)
    except InvalidOperation as error:
        raise _FieldError("is not a number") from error
    if not Decimal("0") < hours <= MAX_HOURS:
        raise _FieldError("must be more than 0 and at most 24")
    return f"{hours:.2f}"


def _person_name(person: Mapping[str, Any]) -> str:
    return " ".join(part for part in (person.get("first_name"), person.get("last_name"))
                    if part) or str(person.get("id", ""))


def _render_project(project: Mapping[str, Any]) -> dict[str, Any]:
    return {key: copy.deepcopy(value) for key, value in project.items()}


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def _ulid(seconds: float) -> str:
    value = (int(seconds * 1000) << 80) | int.from_bytes(secrets.token_bytes(10), "big")
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(_ULID_ALPHABET[index])
    return "".join(reversed(chars))


# --- Command line -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m connectors.procore.emulator",
        description="Serve a local Procore emulator (test and demo only) until interrupted.",
    )
    add_serving_arguments(parser, default_port=DEFAULT_PORT, rate_limit=3600, rate_window=60.0)
    parser.add_argument("--seed-file", type=Path, help="JSON with companies, people, ...")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    args = parser.parse_args(argv)

    emulator = ProcoreEmulator(client_id=args.client_id, client_secret=args.client_secret,
                               rate_limit=args.rate_limit, rate_window=args.rate_window)
    emulator.verbose = args.verbose
    if args.seed_file:
        emulator.seed(**json.loads(args.seed_file.read_text()))
    base_url = emulator.start(args.host, args.port)
    serve_until_interrupted(
        emulator, f"Procore emulator: API and OAuth at {base_url} (client id "
                  f"{args.client_id}), control at {base_url}{CONTROL_PREFIX}/. Ctrl+C stops.")


if __name__ == "__main__":
    main()
