"""The reference catalog: an integration's copy of the remote's employees, jobs (and sub jobs),
cost codes and time types, with when it was read.

Matching and the Mappings page read this copy only, so a page load or a database transaction
never waits on another company's server. A push connector's copy is fetched by the Celery task
`fetch_reference_catalog` (`catalog_fetch`: the remote is read outside any transaction, then
the copy is replaced and links matched again in one short one); a pull connector (the
QuickBooks Web Connector) hands its lists to `catalog_replace` from its own session.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.celery import app
from connectors.base import (
    Connector,
    ConnectorError,
    RemoteCostCode,
    RemoteProject,
    RemoteWorker,
)
from timesync.models import (
    PULLED_KINDS,
    AuditEvent,
    CatalogFetchState,
    CatalogItem,
    CatalogKind,
    Integration,
    ReferenceCatalog,
    User,
)
from timesync.sync import audit
from timesync.sync.matching import MatchReport, links_match
from timesync.sync.remotes import connector_for
from timesync.sync.selectors import require_connected

# Sent by name: timesync.tasks imports this module (the task is routed to the reference queue).
FETCH_TASK = "timesync.tasks.fetch_reference_catalog"
# A fetch queued or running for longer than this lost its worker or its message: the page
# stops showing it as running and a new request queues another.
FETCH_LOST_AFTER = timedelta(minutes=15)
_ACTIVE = (CatalogFetchState.QUEUED, CatalogFetchState.RUNNING)


@dataclass(frozen=True)
class CatalogTimeType:
    """A kind of hours the remote knows (regular, overtime; a QuickBooks payroll item)."""

    remote_id: str
    name: str


@dataclass(frozen=True)
class CatalogStatus:
    fetched_at: datetime | None  # when the data held was read; None: never fetched
    fetching: bool  # a fetch is queued or running now
    error: str  # why the last fetch failed; "" when it did not
    error_at: datetime | None

    @property
    def never_fetched(self) -> bool:
        return self.fetched_at is None


@dataclass(frozen=True)
class CatalogLists:
    workers: list[RemoteWorker]
    projects: list[RemoteProject]
    cost_codes: list[RemoteCostCode]
    time_types: list[CatalogTimeType]


# --- Reading --------------------------------------------------------------------------------


def catalog_status(*, integration: Integration) -> CatalogStatus:
    catalog = ReferenceCatalog.objects.filter(integration=integration).first()
    if catalog is None:
        return CatalogStatus(fetched_at=None, fetching=False, error="", error_at=None)
    fetching = (catalog.fetch_state in _ACTIVE and catalog.fetch_requested_at is not None
                and catalog.fetch_requested_at > timezone.now() - FETCH_LOST_AFTER)
    return CatalogStatus(fetched_at=catalog.fetched_at, fetching=fetching,
                         error=catalog.last_error, error_at=catalog.last_error_at)


def catalog_lists(*, integration: Integration) -> CatalogLists:
    """Everything the catalog holds, in one query, as the connector contract's values."""
    lists = CatalogLists(workers=[], projects=[], cost_codes=[], time_types=[])
    for item in CatalogItem.objects.filter(integration=integration).order_by("id"):
        if item.kind == CatalogKind.WORKER:
            lists.workers.append(RemoteWorker(remote_id=item.remote_id, name=item.name,
                                              employee_number=item.code, email=item.email,
                                              active=item.active))
        elif item.kind == CatalogKind.PROJECT:
            lists.projects.append(RemoteProject(remote_id=item.remote_id, name=item.name,
                                                number=item.code,
                                                parent_remote_id=item.parent_remote_id,
                                                start_stop=item.start_stop))
        elif item.kind == CatalogKind.COST_CODE:
            lists.cost_codes.append(RemoteCostCode(remote_id=item.remote_id, code=item.code,
                                                   name=item.name))
        else:
            lists.time_types.append(CatalogTimeType(remote_id=item.remote_id, name=item.name))
    return lists


# --- Fetching (push connectors) -------------------------------------------------------------


def catalog_fetch_queue(*, integration: Integration, requested_by: User | None = None) -> bool:
    """Queue a fetch of the remote's lists (links are matched again when it lands). False
    when one is queued or running already: a second click does not queue a second fetch.
    Call it inside or outside a transaction: the task is sent once the transaction commits."""
    _catalog_row(integration)
    now = timezone.now()
    queued = ReferenceCatalog.objects.filter(integration=integration).filter(
        ~Q(fetch_state__in=_ACTIVE) | Q(fetch_requested_at__isnull=True)
        | Q(fetch_requested_at__lte=now - FETCH_LOST_AFTER)
    ).update(fetch_state=CatalogFetchState.QUEUED, fetch_requested_at=now,
             fetch_requested_by=requested_by, fetch_started_at=None)
    if queued and integration.kind not in PULLED_KINDS:
        # A pulled remote's lists come with its next session (it asks for them when it sees
        # the fetch queued); nothing is sent to a worker.
        integration_id = integration.pk
        transaction.on_commit(lambda: app.tasks[FETCH_TASK].apply_async(
            kwargs={"integration_id": integration_id}))
    return bool(queued)


def catalog_fetch(
    *, integration_id: int, connector: Connector | None = None,
    requested_by: User | None = None,
) -> MatchReport | None:
    """Read the remote's lists and replace the catalog with them. What the task runs; call it
    outside any transaction (it calls the remote). A failure is recorded on the catalog, for
    the Mappings page, and raised. `requested_by` (else whoever queued the fetch by hand) is
    named in the audit trail. None when the integration is gone or the data came too late."""
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None:
        return None  # deleted since the fetch was queued: nothing to fetch for
    started_at, queued_by = _fetch_begin(integration)
    try:
        require_connected(integration)
        lists = _read_remote(integration, connector)
    except ConnectorError as error:
        _fetch_failed(integration, str(error))
        raise
    except BaseException:
        # A bug, or the task's time limit: the page must not show the fetch running for good.
        _fetch_failed(integration, "The fetch stopped before it finished; try again.")
        raise
    return catalog_replace(integration=integration, **lists, fetched_at=started_at,
                           requested_by=requested_by or queued_by)


def _read_remote(integration: Integration, connector: Connector | None) -> dict[str, Any]:
    connector = connector or connector_for(integration)
    try:
        return {
            "workers": connector.list_workers(),
            "projects": connector.list_projects(),
            "cost_codes": connector.list_cost_codes(),
            # A pull connector hands its own to catalog_replace.
            "time_types": [CatalogTimeType(remote_id=t.remote_id, name=t.name)
                           for t in connector.list_time_types()],
        }
    finally:
        connector.close()


def _fetch_begin(integration: Integration) -> tuple[datetime, User | None]:
    """Mark the fetch running; returns when it began (the data's age) and who queued it."""
    catalog = _catalog_row(integration)
    started_at = timezone.now()
    ReferenceCatalog.objects.filter(pk=catalog.pk).update(
        fetch_state=CatalogFetchState.RUNNING, fetch_started_at=started_at)
    return started_at, catalog.fetch_requested_by


def _fetch_failed(integration: Integration, reason: str) -> None:
    ReferenceCatalog.objects.filter(integration=integration).update(
        fetch_state=CatalogFetchState.IDLE, fetch_requested_by=None, last_error=reason,
        last_error_at=timezone.now())


def _catalog_row(integration: Integration) -> ReferenceCatalog:
    catalog, _ = ReferenceCatalog.objects.get_or_create(
        integration=integration, defaults={"organization_id": integration.organization_id})
    return catalog


# --- Replacing ------------------------------------------------------------------------------


def catalog_replace(
    *, integration: Integration, workers: Iterable[RemoteWorker],
    projects: Iterable[RemoteProject], cost_codes: Iterable[RemoteCostCode],
    time_types: Iterable[CatalogTimeType], fetched_at: datetime,
    requested_by: User | None = None,
) -> MatchReport | None:
    """Replace the catalog with lists read from the remote at `fetched_at`, and match links
    again, in one short transaction. Data older than what is held is dropped (two fetches
    finishing out of order), and so is data for an integration disconnected meanwhile (it
    would bring its links back): both return None."""
    items = _items(integration, workers=workers, projects=projects, cost_codes=cost_codes,
                   time_types=time_types)
    with transaction.atomic():
        # Integration, then catalog: the lock order of every writer of both.
        integration = Integration.objects.select_for_update().get(pk=integration.pk)
        _catalog_row(integration)
        catalog = ReferenceCatalog.objects.select_for_update().get(integration=integration)
        catalog.fetch_state, catalog.fetch_requested_by = CatalogFetchState.IDLE, None
        if not integration.is_connected or (catalog.fetched_at is not None
                                            and fetched_at <= catalog.fetched_at):
            catalog.save(update_fields=["fetch_state", "fetch_requested_by"])
            return None
        CatalogItem.objects.filter(integration=integration).delete()
        CatalogItem.objects.bulk_create(items)
        catalog.fetched_at, catalog.last_error, catalog.last_error_at = fetched_at, "", None
        catalog.save()
        lists = catalog_lists(integration=integration)
        report = links_match(integration=integration, workers=lists.workers,
                             projects=lists.projects, cost_codes=lists.cost_codes)
        if requested_by is not None:
            audit.record(integration=integration, actor=requested_by,
                         event=AuditEvent.CATALOG_REFRESHED, note=_summary(lists, report))
    return report


def catalog_clear(*, integration: Integration) -> None:
    """Forget the remote's lists (a disconnect: the next connection may be another remote).
    Call inside the caller's transaction."""
    CatalogItem.objects.filter(integration=integration).delete()
    ReferenceCatalog.objects.filter(integration=integration).update(
        fetched_at=None, fetch_state=CatalogFetchState.IDLE, fetch_requested_by=None,
        last_error="", last_error_at=None)


def _items(
    integration: Integration, *, workers: Iterable[RemoteWorker],
    projects: Iterable[RemoteProject], cost_codes: Iterable[RemoteCostCode],
    time_types: Iterable[CatalogTimeType],
) -> list[CatalogItem]:
    rows = [
        *((CatalogKind.WORKER, w.remote_id, w.name, w.employee_number, w.email, w.active, "",
           False) for w in workers),
        *((CatalogKind.PROJECT, p.remote_id, p.name, p.number, "", True, p.parent_remote_id,
           p.start_stop) for p in projects),
        *((CatalogKind.COST_CODE, c.remote_id, c.name, c.code, "", True, "", False)
          for c in cost_codes),
        *((CatalogKind.TIME_TYPE, t.remote_id, t.name, "", "", True, "", False)
          for t in time_types),
    ]
    items: dict[tuple[str, str], CatalogItem] = {}
    for kind, remote_id, name, code, email, active, parent, start_stop in rows:
        # A link holds at most 100 characters of remote id: a longer one cannot be linked.
        if not remote_id or len(remote_id) > 100 or (kind, remote_id) in items:
            continue  # the remote listed it twice: the first one counts
        items[(kind, remote_id)] = CatalogItem(
            organization_id=integration.organization_id, integration=integration, kind=kind,
            remote_id=remote_id, name=(name or "")[:300], code=(code or "")[:100],
            email=(email or "")[:254], active=active, parent_remote_id=(parent or "")[:100],
            start_stop=start_stop,
        )
    return list(items.values())


def _summary(lists: CatalogLists, report: MatchReport) -> str:
    return (f"Read {_count(lists.workers, 'employee')}, {_count(lists.projects, 'job')} and "
            f"{_count(lists.cost_codes, 'cost code')}. Not matched: "
            f"{_count(report.workers_unmatched, 'worker')}, "
            f"{_count(report.projects_unmatched, 'project')}, "
            f"{_count(report.cost_codes_unmatched, 'cost code')}.")


def _count(items: list, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"
