"""The Plexxis connector: our wire contract (CONTRACT.md) over the shared HttpClient."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

import requests

from connectors.addresses import PUBLIC_HTTPS_ONLY, RemoteAddressPolicy
from connectors.base import (
    Connector,
    HttpClient,
    PermanentError,
    RejectedEntry,
    RemoteCostCode,
    RemoteEntry,
    RemoteNotFound,
    RemoteProject,
    RemoteWorker,
    RequestBudget,
    TimecardEntry,
    remote_message,
)
from connectors.plexxis import mapping

SYSTEM = "Plexxis"
PAGE_SIZE = 100
# A guard against a server whose next_page never ends: 100,000 rows is far past any company.
MAX_PAGES = 1000


class PlexxisRejected(RejectedEntry):
    """Plexxis refused a request as invalid (422); `remote_message` is its own words. A
    RejectedEntry: one refused timecard entry does not stop the others."""

    def __init__(self, message: str, *, remote_message: str) -> None:
        super().__init__(message)
        self.remote_message = remote_message


class _PlexxisHttp(HttpClient):
    """The shared client, with Plexxis's own words for a refused key and a refused entry."""

    def _outcome(self, response: requests.Response, method: str, path: str) -> Any:
        if response.status_code == 401:
            raise PermanentError(
                "Plexxis refused the API key (401). Check the API key in the integration's "
                "settings."
            )
        if response.status_code == 422:
            said = remote_message(response)
            raise PlexxisRejected(
                f"Plexxis refused the request: {said}", remote_message=said
            )
        return super()._outcome(response, method, path)


class PlexxisConnector(Connector):
    kind = "plexxis"
    label = "Plexxis"

    def __init__(
        self, base_url: str, api_key: str, *, connect_timeout: float = 5.0,
        read_timeout: float = 30.0, budget: RequestBudget | None = None,
        policy: RemoteAddressPolicy = PUBLIC_HTTPS_ONLY,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = _PlexxisHttp(
            base_url=self.base_url, system=SYSTEM, headers={"X-API-Key": api_key},
            connect_timeout=connect_timeout, read_timeout=read_timeout, budget=budget,
            policy=policy,
        )

    # --- Settings -------------------------------------------------------------------------

    def test_connection(self) -> None:
        try:
            body = self.http.request("GET", "/employees", params={"page_size": 1})
        except RemoteNotFound as error:
            raise PermanentError(
                f"There is no Plexxis API at {self.base_url} (404). Check the address in the "
                "integration's settings; it usually ends in /api/v1."
            ) from error
        if not _is_page(body):
            raise PermanentError(
                f"{self.base_url} answered, but not as the Plexxis API does. Check the address "
                "in the integration's settings."
            )

    # --- Reference data -------------------------------------------------------------------

    def list_workers(self) -> list[RemoteWorker]:
        return [mapping.plexxis_to_remote_worker(row) for row in self._list_all("/employees")]

    def list_projects(self) -> list[RemoteProject]:
        return [
            project
            for row in self._list_all("/jobs")
            for project in mapping.plexxis_job_to_remote_projects(row)
        ]

    def list_cost_codes(self) -> list[RemoteCostCode]:
        return [mapping.plexxis_to_remote_cost_code(row) for row in self._list_all("/cost-codes")]

    # --- Timecard entries -----------------------------------------------------------------

    def list_entries(self, *, project_remote_id: str, work_date: date) -> list[RemoteEntry]:
        """The day's entries on exactly this job, or exactly this sub job."""
        job_number, sub_job_code = mapping.split_project_id(project_remote_id)
        rows = self._list_all(
            "/timecard-entries",
            {"job_number": job_number, "work_date": work_date.isoformat()},
        )
        return [
            mapping.plexxis_to_remote_entry(row) for row in rows
            if (row.get("sub_job_code") or None) == sub_job_code
        ]

    def find_entry(
        self, *, idempotency_key: str, project_remote_id: str, work_date: date
    ) -> RemoteEntry | None:
        """The entry whose external reference is the key, on the project's job and day.

        Plexxis does not keep external references unique, so a duplicate written before the
        ledger existed may be there too: the first (oldest) one is returned and the others are
        left alone. The sub job is not compared: the key alone says the entry is ours, even if
        someone moved it to another sub job in Plexxis.
        """
        job_number, _sub_job_code = mapping.split_project_id(project_remote_id)
        rows = self._list_all(
            "/timecard-entries",
            {
                "job_number": job_number, "work_date": work_date.isoformat(),
                "external_reference": idempotency_key,
            },
        )
        # "Search by" may be looser than equality on the real API (prefix, case); we are not.
        for row in rows:
            if row.get("external_reference") == idempotency_key:
                return mapping.plexxis_to_remote_entry(row)
        return None

    def create_entry(self, entry: TimecardEntry) -> RemoteEntry:
        body = self._write("POST", "/timecard-entries", mapping.entry_to_plexxis(entry))
        return mapping.plexxis_to_remote_entry(body)

    def update_entry(self, remote_id: str, entry: TimecardEntry) -> RemoteEntry:
        body = self._write("PATCH", _entry_path(remote_id), mapping.entry_to_plexxis(entry),
                           remote_id=remote_id)
        return mapping.plexxis_to_remote_entry(body)

    def delete_entry(self, remote_id: str) -> None:
        self._write("DELETE", _entry_path(remote_id), None, remote_id=remote_id)

    def close(self) -> None:
        self.http.close()

    # --- Plumbing -------------------------------------------------------------------------

    def _write(
        self, method: str, path: str, body: dict[str, Any] | None, *, remote_id: str = ""
    ) -> Any:
        try:
            return self.http.request(method, path, json_body=body)
        except PlexxisRejected as error:
            raise PlexxisRejected(
                f"Plexxis refused the timecard entry: {error.remote_message}",
                remote_message=error.remote_message,
            ) from error
        except RemoteNotFound as error:
            raise RemoteNotFound(f"Plexxis has no timecard entry {remote_id}.") from error

    def _list_all(self, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        page = 1
        for _ in range(MAX_PAGES):
            body = self.http.request(
                "GET", path, params={**(params or {}), "page": page, "page_size": PAGE_SIZE}
            )
            if not _is_page(body):
                raise PermanentError(
                    f"Plexxis answered GET {path} with something that is not a page of results."
                )
            rows.extend(body["results"])
            next_page = body.get("next_page")
            if next_page is None:
                return rows
            if not isinstance(next_page, int) or next_page <= page:
                raise PermanentError(
                    f"Plexxis sent next_page {next_page!r} after page {page} of GET {path}."
                )
            page = next_page
        raise PermanentError(f"Plexxis sent more than {MAX_PAGES} pages for GET {path}.")


def _entry_path(remote_id: str) -> str:
    return f"/timecard-entries/{quote(remote_id, safe='')}"


def _is_page(body: Any) -> bool:
    return (
        isinstance(body, dict) and isinstance(body.get("results"), list)
        and all(isinstance(row, dict) for row in body["results"])
    )
