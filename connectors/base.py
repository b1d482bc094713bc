"""The connector contract and the HTTP plumbing every connector shares.

A connector speaks one remote system's wire format. The sync engine (timesync.sync) knows only
this contract: it hands over connector-neutral `TimecardEntry` values and gets `RemoteEntry`
values back, and it relies on three error kinds to decide what to do next:

- `TransientError`: try again later (timeouts, connection drops, 429, 5xx); `retry_after` says
  when the remote asked us to come back, if it did.
- `PermanentError`: retrying will not help; `str(error)` is a message a payroll admin can act on.
- `RemoteNotFound`: the thing is not there (a deleted entry, an unknown id).
- `RejectedEntry`: the remote refused one record (validation); the run reports it and goes on.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError
from urllib3.util.retry import Retry

from connectors.addresses import (
    PUBLIC_HTTPS_ONLY,
    PinnedAddressAdapter,
    RemoteAddressPolicy,
    RemoteAddressRefused,
)

# --- What crosses the contract --------------------------------------------------------------


@dataclass(frozen=True)
class RemoteWorker:
    remote_id: str
    name: str
    employee_number: str = ""
    email: str = ""
    active: bool = True


@dataclass(frozen=True)
class RemoteProject:
    remote_id: str
    name: str
    number: str = ""
    parent_remote_id: str = ""  # a sub job's job; "" for a job
    # Its timesheets take start and stop times (and the lunch break), not total hours: a
    # Procore project's setting, kept in the catalog so a run need not ask for it.
    start_stop: bool = False


@dataclass(frozen=True)
class RemoteTimeType:
    """A kind of hours the remote knows (Procore's REG, OT, DT time types)."""

    remote_id: str
    name: str


@dataclass(frozen=True)
class RemoteCostCode:
    remote_id: str
    code: str
    name: str = ""


@dataclass(frozen=True)
class TimecardEntry:
    """One shift as the remote should hold it, in our words. Its hash decides whether a
    synced record needs an update."""

    idempotency_key: str
    worker_remote_id: str
    project_remote_id: str
    cost_code_remote_id: str | None
    work_date: date
    hours: Decimal
    time_type: str  # regular | overtime | double_time
    start: datetime | None = None
    end: datetime | None = None
    break_minutes: int = 0
    notes: str = ""

    def payload_hash(self) -> str:
        return hashlib.sha256(
            json.dumps(asdict(self), sort_keys=True, default=str).encode()
        ).hexdigest()


@dataclass(frozen=True)
class RemoteEntry:
    """A timecard entry as the remote holds it."""

    remote_id: str
    idempotency_key: str | None
    worker_remote_id: str
    project_remote_id: str
    work_date: date
    hours: Decimal
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    # The remote's version of the entry, where editing it needs one (QuickBooks' EditSequence).
    version: str = field(default="", compare=False)


# --- Errors ---------------------------------------------------------------------------------


class ConnectorError(Exception):
    """Base of everything a connector raises on purpose."""


class TransientError(ConnectorError):
    """`maybe_applied` is False only when the remote certainly did not act on the request (a
    429, a connection that was never made): a write may then be sent again at once. Otherwise
    its outcome is unknown, and only the ledger's reconciliation, after the remote's longest
    request lifetime, can tell."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, maybe_applied: bool = True
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.maybe_applied = maybe_applied


class PermanentError(ConnectorError):
    pass


class RemoteNotFound(PermanentError):
    pass


class RejectedEntry(PermanentError):
    """The remote refused this one record (a validation error): the run goes on with the
    others and reports it, unlike a refused credential, which stops the run."""


# --- The contract ---------------------------------------------------------------------------


class Connector(ABC):
    """One remote system. Instances are cheap and hold one HTTP session; make one per run.

    `pushed`: the engine calls the remote (a Celery worker drives the run). A pulled connector
    (the QuickBooks Web Connector) is called by the remote instead: its runs wait for it.
    """

    kind: str
    label: str
    pushed: bool = True
    # How many creates the push driver hands to `create_entries` at once: above 1 for a remote
    # that creates many entries in one request (Procore's bulk endpoint). 1: one by one.
    create_batch_size: int = 1

    def set_request_hook(self, hook: Callable[[], None] | None) -> None:
        """Called before every HTTP request (each page of a list too): the engine beats its
        heartbeat there and stops a run it no longer owns. Connectors on HttpClient get it."""
        http = getattr(self, "http", None)
        if isinstance(http, HttpClient):
            http.before_request = hook

    @abstractmethod
    def test_connection(self) -> None:
        """Raise PermanentError with a readable reason when the settings or credentials fail."""

    @abstractmethod
    def list_workers(self) -> list[RemoteWorker]: ...

    @abstractmethod
    def list_projects(self) -> list[RemoteProject]: ...

    @abstractmethod
    def list_cost_codes(self) -> list[RemoteCostCode]: ...

    def list_time_types(self) -> list[RemoteTimeType]:
        """The remote's kinds of hours, where it has a list of them (Plexxis's are fixed by
        our wire contract: none to read)."""
        return []

    @abstractmethod
    def list_entries(self, *, project_remote_id: str, work_date: date) -> list[RemoteEntry]:
        """Every entry the remote holds for the project and day (ours and others')."""

    @abstractmethod
    def find_entry(
        self, *, idempotency_key: str, project_remote_id: str, work_date: date
    ) -> RemoteEntry | None:
        """The entry written with this key, if the remote has it (reconciliation)."""

    @abstractmethod
    def create_entry(self, entry: TimecardEntry) -> RemoteEntry: ...

    def create_entries(self, entries: list[TimecardEntry]
                       ) -> list[RemoteEntry | ConnectorError]:
        """Create several entries, one outcome per entry in order: the entry created, or the
        error that entry met (a TransientError for every entry of a request whose answer was
        lost). Never raises a ConnectorError. Called with at most `create_batch_size` entries;
        this default sends them one by one."""
        outcomes: list[RemoteEntry | ConnectorError] = []
        for entry in entries:
            try:
                outcomes.append(self.create_entry(entry))
            except ConnectorError as error:
                outcomes.append(error)
        return outcomes

    @abstractmethod
    def update_entry(self, remote_id: str, entry: TimecardEntry) -> RemoteEntry: ...

    @abstractmethod
    def delete_entry(self, remote_id: str) -> None:
        """Remove an entry; one that is already gone raises RemoteNotFound."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


# --- HTTP plumbing --------------------------------------------------------------------------

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# Reads retry in place on these, but not on 429: a long Retry-After would hold a Celery worker
# asleep inside one call; the engine reschedules the run instead.
_READ_RETRY_STATUSES = TRANSIENT_STATUSES - {429}


class RequestBudget(Protocol):
    """A remote account's rate limit, shared by every worker that calls it (the remote counts
    all our requests together). Fed by the remote's own rate-limit headers."""

    def take(self) -> float:
        """Spend one request: 0 to go now, else the seconds until the budget refills."""

    def observe(self, *, remaining: int, reset_at: float) -> None:
        """What the remote said is left, and when (unix seconds) its window starts again."""


# Waiting for the budget inside a call is fine for a moment; longer, the run is rescheduled
# (a worker asleep in a call misses its heartbeat and holds a slot others could use).
MAX_BUDGET_WAIT_IN_CALL = 2.0


class _NoWaitRetry(Retry):
    """urllib3's retry, except that an answer saying when to come back (Retry-After) is not
    slept on inside the call: it surfaces as a TransientError with `retry_after`, and the
    engine reschedules the run. A worker asleep in a socket for minutes would miss its
    heartbeat and have its run taken over while still alive."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if has_retry_after:
            return False
        return super().is_retry(method, status_code, has_retry_after)


def retry_after_seconds(response: requests.Response, *, now: float | None = None) -> float | None:
    """When the remote asked us to come back: Retry-After (seconds or HTTP date), else the
    rate-limit reset time (unix seconds, as Procore and our Plexxis contract send it)."""
    now = time.time() if now is None else now
    value = response.headers.get("Retry-After")
    if value:
        if value.strip().isdigit():
            return float(value)
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError):
            pass
    reset = response.headers.get("X-Rate-Limit-Reset")
    if reset:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None


class HttpClient:
    """One requests.Session with timeouts, mapping HTTP outcomes to the connector errors.

    Reads (GET) are retried a few times by urllib3 (honouring Retry-After); writes never are:
    a write whose answer was lost may have been applied, and only the sync ledger's
    reconciliation can tell, so it surfaces as a TransientError.

    The address is a tenant's: every request is checked by `policy` when it is made, on the
    address it connects to (connectors.addresses), and a redirect is never followed (see
    `_outcome`). Without a policy, only public https addresses on port 443 are called.
    """

    def __init__(
        self,
        *,
        base_url: str,
        system: str,
        headers: dict[str, str] | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        read_retries: int = 2,
        budget: RequestBudget | None = None,
        policy: RemoteAddressPolicy = PUBLIC_HTTPS_ONLY,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.budget = budget
        self.system = system
        self.policy = policy
        self.timeout = (connect_timeout, read_timeout)
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", **(headers or {})})
        self.before_request: Callable[[], None] | None = None
        retry = _NoWaitRetry(
            total=read_retries, connect=read_retries, read=read_retries, status=read_retries,
            backoff_factor=0.2, backoff_jitter=0.2, status_forcelist=_READ_RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD"}), respect_retry_after_header=True,
            raise_on_status=False,
        )
        for scheme in ("http", "https"):
            self.session.mount(f"{scheme}://", PinnedAddressAdapter(
                https=scheme == "https", policy=policy, max_retries=retry, pool_maxsize=4))

    def request(
        self, method: str, path: str, *, json_body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        response = self.send(method, path, json_body=json_body, params=params)
        return self._outcome(response, method, path)

    def send(
        self, method: str, path: str, *, json_body: Any = None, form: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> requests.Response:
        """The request with every check and the network's faults mapped to connector errors,
        but its answer not judged: for a caller that reads the remote's own error codes (an
        OAuth token endpoint's `invalid_grant`); `outcome` judges it as `request` does."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        self._check_address(url)  # before the budget: a refused address spends nothing
        if self.before_request is not None:
            self.before_request()
        self._spend_budget(method, path)
        try:
            # Redirects are not followed: requests would send our headers, the API key among
            # them, to wherever the remote points (see `_outcome`).
            response = self.session.request(
                method, url, json=json_body, data=form, params=params, timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.exceptions.InvalidURL as error:
            # requests wraps what the adapter refused, on the address resolved, in InvalidURL.
            reason = error.args[0] if error.args else error
            raise PermanentError(f"{self.system} was not called: {reason}") from error
        except requests.ConnectTimeout as error:
            raise TransientError(f"Could not reach {self.system} ({method} {path}).",
                                 maybe_applied=False) from error
        except requests.Timeout as error:
            raise TransientError(f"{self.system} did not answer in time ({method} {path}).") \
                from error
        except requests.ConnectionError as error:
            if _never_connected(error):
                raise TransientError(f"Could not reach {self.system} ({method} {path}).",
                                     maybe_applied=False) from error
            raise TransientError(
                f"Could not reach {self.system}, or the connection dropped before it answered "
                f"({method} {path}); the next attempt checks what arrived."
            ) from error
        self._observe_budget(response)
        return response

    def outcome(self, response: requests.Response, method: str, path: str) -> Any:
        return self._outcome(response, method, path)

    def _check_address(self, url: str) -> None:
        try:
            self.policy.read(url)
        except RemoteAddressRefused as error:
            raise PermanentError(f"{self.system} was not called: {error}") from error

    def _spend_budget(self, method: str, path: str) -> None:
        if self.budget is None:
            return
        wait = self.budget.take()
        if wait > MAX_BUDGET_WAIT_IN_CALL:
            raise TransientError(
                f"{self.system}'s rate limit is used up for {wait:.0f} s ({method} {path}); the "
                "sync goes on after that.", retry_after=wait, maybe_applied=False,
            )
        if wait > 0:
            time.sleep(wait)

    def _observe_budget(self, response: requests.Response) -> None:
        if self.budget is None:
            return
        remaining = response.headers.get("X-Rate-Limit-Remaining")
        if response.status_code == 429:
            remaining = "0"
        wait = retry_after_seconds(response)
        if remaining is None or wait is None:
            return
        try:
            self.budget.observe(remaining=int(remaining), reset_at=time.time() + wait)
        except ValueError:
            return

    def _outcome(self, response: requests.Response, method: str, path: str) -> Any:
        status = response.status_code
        if status in TRANSIENT_STATUSES:
            raise TransientError(
                f"{self.system} answered {status} to {method} {path}.",
                retry_after=retry_after_seconds(response),
                # A rate limit is refused before any work; a 5xx may come after the work.
                maybe_applied=status != 429,
            )
        if status in (401, 403):
            raise PermanentError(
                f"{self.system} refused our credentials ({status}). Check the integration's "
                "API key or connection in its settings."
            )
        if status == 404:
            raise RemoteNotFound(f"{self.system} has no {path} (404).")
        if status in (400, 409, 422) and method in ("POST", "PUT", "PATCH"):
            raise RejectedEntry(
                f"{self.system} refused {method} {path} ({status}): {remote_message(response)}"
            )
        if status >= 400:
            raise PermanentError(
                f"{self.system} refused {method} {path} ({status}): {remote_message(response)}"
            )
        if 300 <= status < 400:
            raise PermanentError(
                f"{self.system} answered {status} to {method} {path}, a redirect to "
                f"{_redirect_target(response)}; redirects are not followed, so that the "
                "credentials never travel to another address. If that is the right address, "
                "put it in the integration's settings."
            )
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise TransientError(
                f"{self.system} sent a reply that is not JSON to {method} {path}."
            ) from error

    def close(self) -> None:
        self.session.close()


def _never_connected(error: requests.ConnectionError) -> bool:
    """The request never reached the remote (refused or unresolvable), so nothing was applied.
    requests wraps urllib3's MaxRetryError, whose `reason` says what happened; the pinning
    adapter resolves the host before urllib3 and raises from the resolver's own error."""
    if isinstance(error.__cause__, socket.gaierror):
        return True
    reason = error.args[0] if error.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | NameResolutionError)


def _redirect_target(response: requests.Response) -> str:
    """Where a redirect points, without its query (it may carry a token)."""
    try:
        target = urlsplit(urljoin(response.url, response.headers.get("Location", "")))
        port = f":{target.port}" if target.port else ""
        return f"{target.scheme}://{target.hostname}{port}{target.path}"[:200]
    except ValueError:
        return "another address"


def remote_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason
    if isinstance(body, dict):
        for key in ("message", "error", "errors", "detail"):
            if key in body:
                return words(body[key])[:300]
    return str(body)[:300]


def words(value: Any) -> str:
    """A remote's error as a person reads it: Procore's {"errors": {"base": ["This timecard
    entry is completed..."], "hours": ["must be ..."]}} as "This timecard entry is
    completed... hours: must be ...", not as a Python dict."""
    if isinstance(value, dict):
        return " ".join(words(said) if field == "base" else f"{field}: {words(said)}"
                        for field, said in value.items())
    if isinstance(value, list):
        return " ".join(words(item) for item in value)
    return str(value)


def as_decimal_hours(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))
