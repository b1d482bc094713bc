"""The Procore client (every endpoint we call) and the Procore connector (the engine's contract)
over the shared HttpClient. CONTRACT.md says what goes on the wire and why.

Nothing here knows where tokens are kept: the caller passes `access_token()` (the current
token) and `refresh_access_token()` (refresh it, under the caller's own lock, and return the
new one). A 401 calls the latter once and retries once.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from connectors.addresses import PUBLIC_HTTPS_ONLY, RemoteAddressPolicy
from connectors.base import (
    MAX_BUDGET_WAIT_IN_CALL,
    Connector,
    ConnectorError,
    HttpClient,
    PermanentError,
    RejectedEntry,
    RemoteCostCode,
    RemoteEntry,
    RemoteNotFound,
    RemoteProject,
    RemoteTimeType,
    RemoteWorker,
    RequestBudget,
    TimecardEntry,
    TransientError,
    remote_message,
    words,
)
from connectors.procore import mapping

SYSTEM = "Procore"
API = "/rest/v1.0"
PER_PAGE = 100
MAX_PAGES = 1000  # 100,000 rows: far past any company; a guard against an endless Link
# How many times one call waits in place for a 429 or 503 that asked for a short wait.
MAX_WAITS_IN_CALL = 5
USER_AGENT = "Timesync-Procore/1.0"
# Entries per bulk create. The subset states no limit for the company endpoint; Procore's other
# bulk create of timecard entries (v1.1, per project) takes at most 25, and we keep to that.
BULK_CREATE_MAX = 25
WEBHOOK_RESOURCE = "Timecard Entries"
_NEXT_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')


class ProcoreAuthRefused(PermanentError):
    """Procore refused our token even after a refresh: the grant was revoked or expired, or
    the app was uninstalled. The integration needs reconnecting."""


class ProcoreRefused(PermanentError):
    """Procore refused a request (403 or 4xx with its own message), not our token."""

    def __init__(self, message: str, *, status: int, remote_message: str) -> None:
        super().__init__(message)
        self.status = status
        self.remote_message = remote_message


class ProcoreRejected(RejectedEntry):
    """Procore refused one timecard entry (validation): the run goes on with the others.
    `errors`: Procore's `errors` as it sent them (the bulk create keys them by entry index)."""

    def __init__(self, message: str, *, remote_message: str, errors: Any = None) -> None:
        super().__init__(message)
        self.remote_message = remote_message
        self.errors = errors


class ProcoreLocked(RejectedEntry):
    """Procore will not let us change this entry (approved entries cannot be deleted,
    completed ones cannot be edited). Retrying cannot help: payroll acts in Procore. A
    RejectedEntry, so the run reports it and goes on."""


class _Unauthorized(PermanentError):
    """A 401: the client refreshes the token once and retries."""


class _ProcoreHttp(HttpClient):
    """The shared client, keeping the last answer's headers (pagination reads Link and Total)
    and with Procore's own words for refusals."""

    last_headers: Mapping[str, str] = {}

    def _outcome(self, response: requests.Response, method: str, path: str) -> Any:
        self.last_headers = response.headers
        status = response.status_code
        if status == 401:
            raise _Unauthorized(f"Procore refused our access token (401) on {method} {path}.")
        if status in (400, 403, 422):
            said = remote_message(response)
            if status == 422 or (status == 400 and method in ("POST", "PATCH", "PUT")):
                raise ProcoreRejected(f"Procore refused {method} {path}: {said}",
                                      remote_message=said, errors=_errors_of(response))
            raise ProcoreRefused(f"Procore refused {method} {path} ({status}): {said}",
                                 status=status, remote_message=said)
        return super()._outcome(response, method, path)


class ProcoreClient:
    """Procore's REST API for one company, with OAuth tokens supplied by the caller."""

    def __init__(
        self, api_base_url: str, company_id: int, access_token: Callable[[], str],
        refresh_access_token: Callable[[], str] | None = None, *,
        budget: RequestBudget | None = None, policy: RemoteAddressPolicy = PUBLIC_HTTPS_ONLY,
        connect_timeout: float = 5.0, read_timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(company_id, bool) or not isinstance(company_id, int) or company_id < 1:
            raise PermanentError("The Procore company id is missing: connect the integration "
                                 "to a company first.")
        self.api_base_url = api_base_url.rstrip("/")
        self.company_id = company_id
        self._access_token = access_token
        self._refresh_access_token = refresh_access_token
        self._sleep = sleep
        self.http = _ProcoreHttp(
            base_url=self.api_base_url, system=SYSTEM, budget=budget, policy=policy,
            connect_timeout=connect_timeout, read_timeout=read_timeout,
            headers={"Procore-Company-Id": str(company_id), "User-Agent": USER_AGENT},
        )

    # --- Plumbing -------------------------------------------------------------------------

    def request(self, method: str, path: str, *, json_body: Any = None,
                params: Mapping[str, Any] | None = None) -> Any:
        """One call: a 401 refreshes the token once and retries once; a 429 or 503 asking
        for a short wait is waited out in place (reads always; writes only when Procore
        certainly did nothing); a longer one raises TransientError with retry_after."""
        token = self._access_token()
        refreshed = False
        waits = 0
        while True:
            self.http.session.headers["Authorization"] = f"Bearer {token}"
            try:
                return self.http.request(method, path, json_body=json_body,
                                         params=dict(params or {}))
            except _Unauthorized as error:
                if refreshed or self._refresh_access_token is None:
                    raise ProcoreAuthRefused(
                        "Procore refused our access (401) even with a fresh token: the app "
                        "was uninstalled or its access revoked. Reconnect the integration to "
                        "Procore."
                    ) from error
                token = self._refresh_access_token()
                refreshed = True
            except TransientError as error:
                if not self._may_wait(error, method, waits):
                    raise
                waits += 1
                self._sleep(_jittered(error.retry_after or 0.0))

    @staticmethod
    def _may_wait(error: TransientError, method: str, waits: int) -> bool:
        return (
            waits < MAX_WAITS_IN_CALL and error.retry_after is not None
            and error.retry_after <= MAX_BUDGET_WAIT_IN_CALL
            and (method == "GET" or not error.maybe_applied)
        )

    def list_all(self, path: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Every row of a paginated list: follows the `Link` rel="next" page number (never
        its address: it stays on the configured host), checking against `Total`."""
        rows: list[Any] = []
        page = 1
        for _ in range(MAX_PAGES):
            body = self.request("GET", path, params={**(params or {}), "page": page,
                                                     "per_page": PER_PAGE})
            if not isinstance(body, list):
                raise PermanentError(f"Procore answered GET {path} with something that is not "
                                     "a list.")
            rows.extend(body)
            next_page = _next_page(self.http.last_headers.get("Link", ""))
            if next_page is None:
                total = self.http.last_headers.get("Total", "")
                if total.isdigit() and len(rows) < int(total) and body:
                    next_page = page + 1  # a Link cut by a proxy: Total says there is more
                else:
                    return rows
            if next_page <= page:
                raise PermanentError(f"Procore sent page {next_page} after page {page} of "
                                     f"GET {path}.")
            page = next_page
        raise PermanentError(f"Procore sent more than {MAX_PAGES} pages for GET {path}.")

    def close(self) -> None:
        self.http.close()

    # --- Company and reference data ----------------------------------------------------------

    def me(self) -> dict[str, Any]:
        return self.request("GET", f"{API}/me")

    def list_companies(self) -> list[dict[str, Any]]:
        return self.list_all(f"{API}/companies")

    def list_people(self, *, employees_only: bool = False) -> list[dict[str, Any]]:
        params = {"filters[is_employee]": "true"} if employees_only else {}
        return self.list_all(f"{API}/companies/{self.company_id}/people", params)

    def list_projects(self) -> list[dict[str, Any]]:
        return self.list_all(f"{API}/companies/{self.company_id}/projects")

    def list_sub_jobs(self, project_id: int) -> list[dict[str, Any]]:
        return self.list_all(f"{API}/sub_jobs", {"project_id": project_id})

    def list_cost_codes(self, project_id: int) -> list[dict[str, Any]]:
        return self.list_all(f"{API}/cost_codes", {"project_id": project_id})

    def list_standard_cost_code_lists(self) -> list[dict[str, Any]]:
        return self.list_all(f"{API}/standard_cost_code_lists", {"company_id": self.company_id})

    def list_standard_cost_codes(self, list_id: int) -> list[dict[str, Any]]:
        return self.list_all(f"{API}/standard_cost_codes", {
            "company_id": self.company_id, "standard_cost_code_list_id": list_id})

    def list_time_types(self) -> list[dict[str, Any]]:
        body = self.request("GET", f"{API}/companies/{self.company_id}/timecard_time_types")
        if not isinstance(body, list):
            raise PermanentError("Procore answered the time types with something that is not "
                                 "a list.")
        return body

    # --- Timecard entries --------------------------------------------------------------------

    def list_project_entries(self, project_id: int, *, day: date) -> list[dict[str, Any]]:
        return self.list_all(f"{API}/projects/{project_id}/timecard_entries",
                             {"log_date": day.isoformat()})

    def list_company_entries(
        self, *, start_date: date | None = None, end_date: date | None = None,
        party_ids: Collection[int] = (), updated_between: tuple[datetime, datetime] | None = None,
        deleted_between: tuple[datetime, datetime] | None = None,
    ) -> list[dict[str, Any]]:
        """The company's entries: the sweep's list (`updated_between`) and reconciliation's."""
        params: dict[str, Any] = {}
        if start_date:
            params["start_date"] = start_date.isoformat()
        if end_date:
            params["end_date"] = end_date.isoformat()
        if party_ids:
            params["filters[party_id]"] = ",".join(str(p) for p in party_ids)
        if updated_between:
            params["filters[updated_at]"] = _range(updated_between)
        if deleted_between:
            params["filters[deleted_at]"] = _range(deleted_between)
        return self.list_all(f"{API}/companies/{self.company_id}/timecard_entries", params)

    def show_entry(self, entry_id: int) -> dict[str, Any]:
        return self.request("GET", f"{API}/companies/{self.company_id}/timecard_entries/"
                                   f"{entry_id}")

    def create_entry(self, project_id: int, entry: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("POST", f"{API}/projects/{project_id}/timecard_entries",
                            json_body={"timecard_entry": dict(entry)})

    def update_entry(self, project_id: int, entry_id: int,
                     entry: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", f"{API}/projects/{project_id}/timecard_entries/{entry_id}",
                            json_body={"timecard_entry": dict(entry)})

    def delete_entry(self, entry_id: int) -> None:
        """Company level: the project is not needed (an entry moved in Procore is found)."""
        self.request("DELETE", f"{API}/companies/{self.company_id}/timecard_entries/"
                               f"{entry_id}")

    def bulk_create_entries(self, entries: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        body = self.request("POST", f"{API}/companies/{self.company_id}/timesheets",
                            json_body={"timecard_entries": [dict(e) for e in entries]})
        if not isinstance(body, list):
            raise PermanentError("Procore answered the bulk create with something that is not "
                                 "a list.")
        return body

    # --- Webhooks ---------------------------------------------------------------------------

    def create_hook(self, *, destination_url: str, destination_headers: Mapping[str, str],
                    namespace: str, api_version: str = "v2") -> dict[str, Any]:
        return self.request("POST", f"{API}/webhooks/hooks", json_body={
            "company_id": self.company_id,
            "hook": {"api_version": api_version, "namespace": namespace,
                     "destination_url": destination_url,
                     "destination_headers": dict(destination_headers)},
        })

    def list_hooks(self, *, namespace: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"company_id": self.company_id}
        if namespace:
            params["namespace"] = namespace
        return self.list_all(f"{API}/webhooks/hooks", params)

    def delete_hook(self, hook_id: int) -> None:
        self.request("DELETE", f"{API}/webhooks/hooks/{hook_id}",
                     params={"company_id": self.company_id})

    def create_trigger(self, hook_id: int, *, event_type: str,
                       resource_name: str = WEBHOOK_RESOURCE) -> dict[str, Any]:
        return self.request("POST", f"{API}/webhooks/hooks/{hook_id}/triggers", json_body={
            "company_id": self.company_id,
            "trigger": {"resource_name": resource_name, "event_type": event_type},
        })

    def list_triggers(self, hook_id: int) -> list[dict[str, Any]]:
        return self.list_all(f"{API}/webhooks/hooks/{hook_id}/triggers",
                             {"company_id": self.company_id})

    def delete_trigger(self, hook_id: int, trigger_id: int) -> None:
        self.request("DELETE", f"{API}/webhooks/hooks/{hook_id}/triggers/{trigger_id}",
                     params={"company_id": self.company_id})


class ProcoreConnector(Connector):
    """Procore timecard entries through the engine's contract, like PlexxisConnector.

    `start_stop_project_ids`: the projects (remote ids, without sub job) whose timesheets
    take start and stop times rather than total hours; Procore's API does not say, so the
    integration's settings do.
    """

    kind = "procore"
    label = "Procore"
    create_batch_size = BULK_CREATE_MAX

    def __init__(self, client: ProcoreClient, *,
                 start_stop_project_ids: Collection[str] = ()) -> None:
        self.client = client
        self.http = client.http  # set_request_hook beats on every request, pages included
        self.start_stop_project_ids = frozenset(start_stop_project_ids)
        self._time_type_ids: dict[str, int] | None = None
        self._cost_code_ids: dict[int, dict[str, list[dict[str, Any]]]] = {}

    # --- Settings ---------------------------------------------------------------------------

    def test_connection(self) -> None:
        try:
            self.client.list_time_types()
        except RemoteNotFound as error:
            raise PermanentError(
                f"Procore has no company {self.client.company_id}, or this app cannot see it. "
                "Check the company in the integration's settings."
            ) from error
        except ProcoreRefused as error:
            raise PermanentError(
                f"Procore refused access to company {self.client.company_id}: "
                f"{error.remote_message} Install the app in the company's App Management and "
                "give it the Timesheets permission."
            ) from error

    # --- Reference data ---------------------------------------------------------------------

    def list_workers(self) -> list[RemoteWorker]:
        return [mapping.procore_to_remote_worker(row)
                for row in self.client.list_people(employees_only=True)]

    def list_projects(self) -> list[RemoteProject]:
        projects = []
        for row in self.client.list_projects():
            project = mapping.procore_to_remote_project(row)
            projects.append(project)
            projects.extend(mapping.procore_sub_job_to_remote_project(project, sub_job)
                            for sub_job in self.client.list_sub_jobs(int(project.remote_id)))
        return projects

    def list_cost_codes(self) -> list[RemoteCostCode]:
        """The company's standard cost codes, then the codes only a project has: a code is
        known by its full code, the same on every project (each project holds its own id for
        it, which the export looks up)."""
        codes: dict[str, RemoteCostCode] = {}
        for code_list in self.client.list_standard_cost_code_lists():
            for row in self.client.list_standard_cost_codes(int(code_list["id"])):
                code = mapping.procore_to_remote_cost_code(row)
                codes.setdefault(code.remote_id, code)
        for project in self.client.list_projects():
            for row in self.client.list_cost_codes(int(project["id"])):
                code = mapping.procore_to_remote_cost_code(row)
                codes.setdefault(code.remote_id, code)
        return list(codes.values())

    def list_time_types(self) -> list[RemoteTimeType]:
        """The company's timecard time types, by their abbreviation (REG, OT, DT), the key the
        export sends hours under."""
        return [RemoteTimeType(remote_id=str(row["abbreviated_time_type"]),
                               name=str(row.get("time_type") or row["abbreviated_time_type"]))
                for row in self.client.list_time_types() if row.get("abbreviated_time_type")]

    # --- Timecard entries -------------------------------------------------------------------

    def list_entries(self, *, project_remote_id: str, work_date: date) -> list[RemoteEntry]:
        """The day's entries on exactly this project, or exactly this sub job."""
        project_id, sub_job_id = mapping.split_project_id(project_remote_id)
        entries = [mapping.procore_to_remote_entry(row)
                   for row in self.client.list_project_entries(project_id, day=work_date)]
        return [entry for entry in entries if entry.extra["sub_job_id"] == sub_job_id
                and entry.work_date == work_date]

    def find_entry(
        self, *, idempotency_key: str, project_remote_id: str, work_date: date
    ) -> RemoteEntry | None:
        """The entry carrying the key, on the project and day, whatever its sub job. Procore
        keeps origin ids neither unique nor filterable: the day's list is read and matched,
        and the oldest match wins (a duplicate is the run's read-back to remove)."""
        project_id, _sub_job_id = mapping.split_project_id(project_remote_id)
        key_number = mapping.origin_id(idempotency_key)
        matches = [
            mapping.procore_to_remote_entry(row)
            for row in self.client.list_project_entries(project_id, day=work_date)
            if row.get("origin_data") == idempotency_key
            or (not row.get("origin_data") and row.get("origin_id") == key_number)
        ]
        return min(matches, key=lambda entry: int(entry.remote_id), default=None)

    def create_entry(self, entry: TimecardEntry) -> RemoteEntry:
        project_id, _sub_job_id = mapping.split_project_id(entry.project_remote_id)
        body = self._entry_body(entry)
        try:
            return mapping.procore_to_remote_entry(self.client.create_entry(project_id, body))
        except ProcoreRejected as error:
            raise ProcoreRejected(_rejected(entry, error.remote_message),
                                  remote_message=error.remote_message) from error

    def update_entry(self, remote_id: str, entry: TimecardEntry) -> RemoteEntry:
        project_id, _sub_job_id = mapping.split_project_id(entry.project_remote_id)
        body = self._entry_body(entry)
        try:
            return mapping.procore_to_remote_entry(
                self.client.update_entry(project_id, _entry_id(remote_id), body))
        except (ProcoreRejected, ProcoreRefused) as error:
            locked = self._locked(remote_id, "edit", error)
            if locked is not None:
                raise ProcoreLocked(locked) from error
            if isinstance(error, ProcoreRejected):
                raise ProcoreRejected(_rejected(entry, error.remote_message),
                                      remote_message=error.remote_message) from error
            raise
        except RemoteNotFound as error:
            raise RemoteNotFound(f"Procore has no timecard entry {remote_id}.") from error

    def delete_entry(self, remote_id: str) -> None:
        try:
            self.client.delete_entry(_entry_id(remote_id))
        except (ProcoreRejected, ProcoreRefused) as error:
            locked = self._locked(remote_id, "delete", error)
            if locked is not None:
                raise ProcoreLocked(locked) from error
            raise
        except RemoteNotFound as error:
            raise RemoteNotFound(f"Procore has no timecard entry {remote_id}.") from error

    def create_entries(self, entries: list[TimecardEntry]
                       ) -> list[RemoteEntry | ConnectorError]:
        """Many creates, through the company bulk endpoint where it fits (BULK_CREATE_MAX a
        request), with one outcome per entry in order: the created entry, or the error that
        entry met. Procore creates a batch all or nothing: the entries a refusal names are
        rejected with its words and the others sent again; a refusal naming none sends them
        one by one. A lost answer leaves every entry of the request unknown."""
        outcomes: list[RemoteEntry | ConnectorError | None] = [None] * len(entries)
        batch: list[tuple[int, dict[str, Any]]] = []
        for index, entry in enumerate(entries):
            try:
                item = self._bulk_item(entry)
            except ConnectorError as error:
                outcomes[index] = error
                continue
            if item is None:
                outcomes[index] = self._create_one(entry)
            else:
                batch.append((index, item))
        for start in range(0, len(batch), BULK_CREATE_MAX):
            self._bulk_create(entries, batch[start:start + BULK_CREATE_MAX], outcomes)
        return [outcome for outcome in outcomes if outcome is not None]

    def close(self) -> None:
        self.client.close()

    # --- Plumbing ---------------------------------------------------------------------------

    def _bulk_create(self, entries: list[TimecardEntry], batch: list[tuple[int, dict[str, Any]]],
                     outcomes: list[RemoteEntry | ConnectorError | None]) -> None:
        """One bulk request (and, when Procore names the entries it refused, one more for the
        others), each entry's outcome written at its index."""
        while batch:
            try:
                created = self.client.bulk_create_entries([item for _index, item in batch])
            except ProcoreRejected as error:
                named = _refused_by_index(error.errors, len(batch))
                if not named:  # no entry named: each gets its own answer
                    for index, _item in batch:
                        outcomes[index] = self._create_one(entries[index])
                    return
                for position, said in named.items():
                    index = batch[position][0]
                    outcomes[index] = ProcoreRejected(_rejected(entries[index], said),
                                                      remote_message=said)
                batch = [pair for position, pair in enumerate(batch) if position not in named]
                continue
            except ConnectorError as error:
                for index, _item in batch:
                    outcomes[index] = error
                return
            by_key = {row.get("origin_data"): row for row in created if isinstance(row, dict)}
            for index, _item in batch:
                row = by_key.get(entries[index].idempotency_key)
                outcomes[index] = mapping.procore_to_remote_entry(row) if row else \
                    TransientError("Procore's bulk answer did not list this entry; the "
                                   "next attempt checks whether it arrived.")
            return

    def _create_one(self, entry: TimecardEntry) -> RemoteEntry | ConnectorError:
        try:
            return self.create_entry(entry)
        except ConnectorError as error:
            return error

    def _entry_body(self, entry: TimecardEntry) -> dict[str, Any]:
        project_id, sub_job_id = mapping.split_project_id(entry.project_remote_id)
        return mapping.entry_to_procore(
            entry, start_stop=str(project_id) in self.start_stop_project_ids,
            time_type_ids=self._time_types(),
            cost_code_id=self._cost_code_id(project_id, sub_job_id, entry))

    def _bulk_item(self, entry: TimecardEntry) -> dict[str, Any] | None:
        project_id, sub_job_id = mapping.split_project_id(entry.project_remote_id)
        return mapping.entry_to_bulk(
            entry, start_stop=str(project_id) in self.start_stop_project_ids,
            time_type_ids=self._time_types(),
            cost_code_id=self._cost_code_id(project_id, sub_job_id, entry))

    def _time_types(self) -> dict[str, int]:
        if self._time_type_ids is None:
            self._time_type_ids = {
                str(row.get("abbreviated_time_type") or ""): int(row["id"])
                for row in self.client.list_time_types() if row.get("abbreviated_time_type")
            }
        return self._time_type_ids

    def _cost_code_id(self, project_id: int, sub_job_id: int | None,
                      entry: TimecardEntry) -> int | None:
        """The project's own id for the entry's cost code (one list per project per run)."""
        code = entry.cost_code_remote_id
        if not code:
            return None
        if project_id not in self._cost_code_ids:
            by_code: dict[str, list[dict[str, Any]]] = {}
            for row in self.client.list_cost_codes(project_id):
                by_code.setdefault(str(row.get("full_code") or row.get("code") or ""),
                                   []).append(row)
            self._cost_code_ids[project_id] = by_code
        rows = self._cost_code_ids[project_id].get(code, [])
        # A sub job may have its own copy of a code; else the project's.
        for row in sorted(rows, key=lambda r: r.get("sub_job_id") != sub_job_id):
            if row.get("sub_job_id") in (None, sub_job_id):
                return int(row["id"])
        raise ProcoreRejected(
            f"Procore project {project_id} has no cost code {code}: add it to the project's "
            "budget in Procore, or choose another cost code.", remote_message="")

    def _locked(self, remote_id: str, action: str,
                error: ProcoreRejected | ProcoreRefused) -> str | None:
        """When Procore refused a change because it has locked the entry: what payroll reads,
        naming the worker and day (they act in Procore, and must know which entry); else None.

        Facts first: the entry read back (one GET, which the message needs anyway) says its
        approval status, and an approved or completed entry is locked whatever Procore's words
        were (they are not documented and may change or be translated). Procore's words are
        the fallback, for a lock the status does not show (a locked pay period) or an entry
        that cannot be read back (`_is_lock`)."""
        try:
            found: RemoteEntry | None = mapping.procore_to_remote_entry(
                self.client.show_entry(_entry_id(remote_id)))
        except ConnectorError:
            found = None
        status = str((found.extra.get("approval_status") or "") if found else "").lower()
        if status in LOCKED_STATUSES or _is_lock(error, action, known_status=bool(status)):
            return mapping.locked_message(found, remote_id, action, error.remote_message)
        return None


# What Procore's approval statuses lock: an approved entry cannot be deleted, a completed one
# can be neither edited nor deleted.
LOCKED_STATUSES = frozenset({"approved", "completed"})


def _is_lock(error: ProcoreRejected | ProcoreRefused, action: str, *,
             known_status: bool = False) -> bool:
    """The fallback guess, from Procore's words: a refusal naming an approved, completed,
    locked or signed entry is a lock. A 403 to a delete without such words is a lock too
    unless it speaks of a permission, but only when the entry's status could not be read
    back (`known_status`): a status read back that locks nothing means the app lacks a
    permission, which stops the run instead of hiding as one entry's warning."""
    said = error.remote_message.lower()
    return any(word in said for word in ("approved", "completed", "locked", "signed")) or (
        not known_status and isinstance(error, ProcoreRefused) and error.status == 403
        and action == "delete" and "permission" not in said)


def _refused_by_index(errors: Any, size: int) -> dict[int, str]:
    """The entries a refused bulk create names ({"0": {"party_id": [...]}}), by position, in
    Procore's words; empty when it names none (then nothing tells which entry was wrong)."""
    if not isinstance(errors, Mapping) or not errors:
        return {}
    named: dict[int, str] = {}
    for key, said in errors.items():
        if not (isinstance(key, str) and key.isdigit() and int(key) < size):
            return {}
        named[int(key)] = words(said)
    return named


def _errors_of(response: requests.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("errors") if isinstance(body, dict) else None


def _rejected(entry: TimecardEntry, said: str) -> str:
    return (f"Procore refused the entry of person {entry.worker_remote_id} on "
            f"{entry.work_date.isoformat()}: {said}")


def _entry_id(remote_id: str) -> int:
    if not remote_id.isdigit():
        raise RemoteNotFound(f"{remote_id!r} is not a Procore timecard entry id.")
    return int(remote_id)


def _jittered(seconds: float) -> float:
    """A little later than asked, by up to a quarter second: workers told the same reset time
    do not all come back in the same instant (Procore's advice for 429s)."""
    return seconds + random.uniform(0, min(0.25, seconds / 10))  # noqa: S311 - not a secret


def _next_page(link: str) -> int | None:
    match = _NEXT_LINK.search(link)
    if match is None:
        return None
    pages = parse_qs(urlsplit(match.group(1)).query).get("page")
    if not pages or not pages[-1].isdigit():
        return None
    return int(pages[-1])


def _range(bounds: tuple[datetime, datetime]) -> str:
    return f"{bounds[0].isoformat()}...{bounds[1].isoformat()}"
