"""The Sync Dashboard's cells: per (integration, project, day), what a payroll admin reads
before clicking (dash, ready, synced, changed, failed, in progress), for a page of projects in
one statement; and the organization's week that the page and the API show."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Q

from timesync import time_rules
from timesync.models import (
    ACTIVE_SYNC_STATES,
    ApprovalState,
    CostCodeLink,
    ExternalRecord,
    Integration,
    Membership,
    Organization,
    ProjectLink,
    RecordState,
    Shift,
    SyncRun,
    SyncState,
    WorkerLink,
)


class CellStatus(StrEnum):
    NONE = "none"  # nothing to send: a dash
    READY = "ready"  # blue: shifts to send, never synced
    SYNCED = "synced"  # green: everything eligible is in the remote as it is now
    CHANGED = "changed"  # amber: synced, but shifts changed since
    FAILED = "failed"  # red: the last run failed
    IN_PROGRESS = "in_progress"  # a run is queued or running


@dataclass(slots=True)  # a grid makes thousands
class Cell:
    project_id: int
    work_date: date
    status: CellStatus = CellStatus.NONE
    workers: int = 0
    shifts: int = 0
    hours: Decimal = Decimal("0.00")
    changes: int = 0  # shifts to create, update or delete
    unsendable: int = 0  # shifts whose worker is unknown remotely (skipped with a warning)
    run_id: int | None = None
    run_state: str = ""
    error: str = ""


class GridProject(NamedTuple):  # a page makes hundreds: a frozen dataclass costs 4x to build
    id: int
    name: str
    code: str
    linked: bool  # to an enabled job of the integration: else its sync fails


@dataclass(frozen=True)
class SyncGrid:
    page: Page  # of GridProject, by name
    cells: dict[tuple[int, date], Cell]  # the page's cells holding anything; others are dashes


def sync_grid(
    *, membership: Membership, integration: Integration, dates: Iterable[date],
    search: str = "", page_number: int | str | None = None, page_size: int,
) -> SyncGrid:
    """The Sync Dashboard's rows: the active projects the caller sees (matching `search` by
    name or number), a page of them, and their cells; three queries whatever the page's
    size."""
    from timesync.selectors import project_list  # the one definition of who sees a project

    projects = project_list(membership=membership, active=True)
    if search:
        projects = projects.filter(Q(name__icontains=search) | Q(code__icontains=search))
    # A list, not a query, to page: Paginator would COUNT first.
    page = Paginator(list(projects.order_by("name", "pk").values_list("pk", "name", "code")),
                     page_size).get_page(page_number)
    rows = page.object_list  # a list: iterating the Page itself goes item by item
    project_ids = [pk for pk, _name, _code in rows]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_LINKED_SQL, {"integration": integration.pk,
                                         "projects": _id_array(project_ids)})
            linked = {project_id for (project_id,) in cursor.fetchall()}
    else:  # the embedded default (SQLite): no arrays, and no statistics to fear
        linked = set(ProjectLink.objects.filter(
            integration=integration, enabled=True, project_id__in=project_ids,
        ).values_list("project_id", flat=True))
    page.object_list = [GridProject(pk, name, code, pk in linked) for pk, name, code in rows]
    return SyncGrid(page=page, cells=sync_cells_with_data(
        integration=integration, project_ids=project_ids, dates=dates))


def _id_array(ids: list[int]) -> str:
    """Ids as a PostgreSQL array literal ('{1,2,3}', cast to bigint[] by the statement): the
    driver adapts a Python list element by element, 0.12 ms for a page of 300 projects."""
    return "{" + ",".join(str(int(pk)) for pk in ids) + "}"


def sync_cells(
    *, integration: Integration, project_ids: Iterable[int], dates: Iterable[date]
) -> dict[tuple[int, date], Cell]:
    """The status of every (project, day) cell, in one query whatever the grid's size."""
    project_ids, dates = list(project_ids), sorted(dates)
    found = sync_cells_with_data(integration=integration, project_ids=project_ids, dates=dates)
    return {
        (project_id, day): found.get((project_id, day)) or Cell(project_id=project_id,
                                                                work_date=day)
        for project_id in project_ids for day in dates
    }


# The page's projects linked to an enabled job (their sync can work). Not a join with the
# project list: on tables not yet ANALYZEd PostgreSQL joined each project to every link of the
# integration (5 ms for 300 projects).
_LINKED_SQL = """
SELECT project_id FROM timesync_projectlink
WHERE integration_id = %(integration)s AND enabled AND project_id = ANY(%(projects)s::bigint[])
"""
# Which shifts a sync sends or skips: not deleted, not rejected, and approved where the
# project's link sends only approved ones (`{s}` is the shift table's alias).
_ELIGIBLE_SQL = """
    {s}.deleted_at IS NULL AND {s}.approval_state <> %(rejected)s
    AND ({s}.approval_state = %(approved)s OR {s}.project_id NOT IN (
        SELECT project_id FROM timesync_projectlink
        WHERE integration_id = %(integration)s AND sync_only_approved))
"""
# Per (project, day) cell, in one statement: the eligible closed shifts and what the plan
# skips of them (a worker or cost code the remote does not know), what the ledger holds
# (current: the shift as it is now; stale: a record whose shift was deleted, rejected, moved to
# another cell or is no longer eligible), and the latest run.
# Its plan must not hang on statistics (tables are not ANALYZEd until autovacuum gets to them,
# nor after a restore): the shifts are read per project by index, the ledger's and the runs'
# rows by index within the week, the ledger reaches its shifts by primary key, the link tables
# are read once (hashed), and nothing runs once per shift. (A per-shift EXISTS on the ledger
# took 127 ms for 1,500 shifts before ANALYZE, 4 ms after; `make bench` prints both now.)
_CELLS_SQL = """
WITH page AS (SELECT %(projects)s::bigint[] AS ids), tally AS (
    SELECT s.project_id, s.work_date, COUNT(*) AS shifts,
           COUNT(DISTINCT s.worker_id) AS workers, COALESCE(SUM(s.paid_seconds), 0) AS seconds,
           COUNT(*) FILTER (WHERE s.worker_id NOT IN (
                   SELECT worker_id FROM timesync_workerlink
                   WHERE integration_id = %(integration)s)
               -- NULL NOT IN (no rows) is true: a shift without a cost code is sendable.
               OR (s.cost_code_id IS NOT NULL AND s.cost_code_id NOT IN (
                   SELECT cost_code_id FROM timesync_costcodelink
                   WHERE integration_id = %(integration)s))) AS unsendable
    FROM unnest((SELECT ids FROM page)) AS project (id) CROSS JOIN LATERAL (
        -- One range of the (organization, project, work_date) index per project, whatever
        -- the table's statistics and its history; OFFSET 0 keeps PostgreSQL from flattening
        -- this into a scan of every shift of the organization, or of the week.
        SELECT id, project_id, work_date, worker_id, cost_code_id, paid_seconds, "end",
               deleted_at, approval_state
        FROM timesync_shift
        WHERE organization_id = %(organization)s AND project_id = project.id
          AND work_date BETWEEN %(first)s AND %(last)s OFFSET 0
    ) AS s
    WHERE s."end" IS NOT NULL AND {eligible_s}
    GROUP BY s.project_id, s.work_date
), ledger AS (
    SELECT r.project_id, r.work_date,
           COUNT(*) FILTER (WHERE NOT in_cell) AS stale,
           COUNT(*) FILTER (WHERE in_cell AND closed AND r.state = %(synced)s
                            AND r.shift_version = version) AS current
    FROM timesync_externalrecord r
    CROSS JOIN LATERAL (
        SELECT COALESCE(e.project_id = r.project_id AND e.work_date = r.work_date
                        AND {eligible_e}, FALSE) AS in_cell,
               e."end" IS NOT NULL AS closed, e.version
        FROM timesync_shift e WHERE e.id = r.shift_id OFFSET 0  -- by primary key, per record
    ) AS shift
    WHERE r.integration_id = %(integration)s
      AND r.project_id = ANY((SELECT ids FROM page)::bigint[])
      AND r.work_date BETWEEN %(first)s AND %(last)s AND r.state <> %(deleted)s
    GROUP BY r.project_id, r.work_date
), last_run AS (
    SELECT DISTINCT ON (project_id, work_date) project_id, work_date, id, state, error
    FROM timesync_syncrun
    WHERE integration_id = %(integration)s AND project_id = ANY((SELECT ids FROM page)::bigint[])
      AND work_date BETWEEN %(first)s AND %(last)s
    ORDER BY project_id, work_date, id DESC
)
SELECT project_id, work_date, COALESCE(t.shifts, 0), COALESCE(t.workers, 0),
       COALESCE(t.seconds, 0), COALESCE(t.unsendable, 0), l.project_id IS NOT NULL,
       COALESCE(l.stale, 0), COALESCE(l.current, 0), r.id, r.state, r.error
FROM tally t FULL JOIN ledger l USING (project_id, work_date)
     FULL JOIN last_run r USING (project_id, work_date)
""".format(  # noqa: S608 (constants only; every value is a bound parameter)
    eligible_s=_ELIGIBLE_SQL.format(s="s"), eligible_e=_ELIGIBLE_SQL.format(s="e"))
_ACTIVE = frozenset(ACTIVE_SYNC_STATES)
_SUCCEEDED = frozenset((SyncState.SUCCEEDED, SyncState.SUCCEEDED_WITH_WARNINGS))
_FAILED_RUN = str(SyncState.FAILED)
_STATUSES = (CellStatus.NONE, CellStatus.READY, CellStatus.SYNCED, CellStatus.CHANGED,
             CellStatus.FAILED, CellStatus.IN_PROGRESS)
_HOUR = Decimal(3600)
_CENT = Decimal("0.01")


def sync_cells_with_data(
    *, integration: Integration, project_ids: Iterable[int], dates: Iterable[date]
) -> dict[tuple[int, date], Cell]:
    """The cells that hold anything (shifts, ledger records or a run); every other cell of the
    grid is a dash. One query whatever the grid's size (see _CELLS_SQL)."""
    project_ids, dates = list(project_ids), sorted(dates)
    if not project_ids or not dates:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_CELLS_SQL, {
                "organization": integration.organization_id, "integration": integration.pk,
                "projects": _id_array(project_ids), "first": dates[0], "last": dates[-1],
                "approved": ApprovalState.APPROVED, "rejected": ApprovalState.REJECTED,
                "synced": RecordState.SYNCED, "deleted": RecordState.DELETED,
            })
            rows = cursor.fetchall()
    else:
        rows = cell_rows_portable(integration=integration, project_ids=project_ids,
                                  first=dates[0], last=dates[-1])
    cells = {}
    # Module constants bound to locals, and hours computed once per distinct total of seconds
    # (crews repeat their days): reading an Enum member or a global, or dividing a Decimal,
    # costs as much as the rest of a cell, and a grid has thousands.
    none, ready, synced, changed, failed, in_progress = _STATUSES
    if not integration.sends:
        ready = none  # it only receives: nothing here is to be sent to it
    active, succeeded, failed_run, hour, cent = _ACTIVE, _SUCCEEDED, _FAILED_RUN, _HOUR, _CENT
    hours_of: dict[int, Decimal] = {}
    for (project_id, day, shifts, workers, seconds, unsendable, synced_before, stale, current,
         run_id, run_state, error) in rows:
        changes = shifts - unsendable - current
        changes = (changes if changes > 0 else 0) + stale
        if run_state in active:
            status = in_progress
        elif run_state == failed_run:
            status = failed
        # A day whose every shift was skipped (unknown remotely) holds nothing in the ledger,
        # yet a successful run means there is nothing more to send: green.
        elif changes == 0 and (synced_before or current or run_state in succeeded):
            status = synced
        elif synced_before:
            status = changed
        elif shifts:
            status = ready
        else:
            status = none
        hours = hours_of.get(seconds)
        if hours is None:
            hours = hours_of[seconds] = (Decimal(seconds) / hour).quantize(cent)
        # Positional (Cell's field order): keywords cost a third of this loop.
        cells[(project_id, day)] = Cell(
            project_id, day, status, workers, shifts, hours, changes, unsendable, run_id,
            run_state or "", error if status is failed else "",
        )
    return cells


def cell_rows_portable(
    *, integration: Integration, project_ids: list[int], first: date, last: date
) -> list[tuple]:
    """_CELLS_SQL's rows computed with the ORM and Python, for databases without its
    PostgreSQL constructs (the embedded default's SQLite). The same rules, row for row: a
    test holds both to the same answers on PostgreSQL."""
    approved_only = set(ProjectLink.objects.filter(
        integration=integration, sync_only_approved=True).values_list("project_id", flat=True))
    known_workers = set(WorkerLink.objects.filter(integration=integration)
                        .values_list("worker_id", flat=True))
    known_codes = set(CostCodeLink.objects.filter(integration=integration)
                      .values_list("cost_code_id", flat=True))

    def eligible(deleted_at: object, approval: str, project_id: int) -> bool:
        return deleted_at is None and approval != ApprovalState.REJECTED and (
            approval == ApprovalState.APPROVED or project_id not in approved_only)

    tallies: dict[tuple[int, date], list] = {}
    for project_id, day, worker_id, cost_code_id, seconds, end, deleted_at, approval in (
        Shift.objects.filter(organization_id=integration.organization_id,
                             project_id__in=project_ids, work_date__range=(first, last))
        .values_list("project_id", "work_date", "worker_id", "cost_code_id", "paid_seconds",
                     "end", "deleted_at", "approval_state")
    ):
        if end is None or not eligible(deleted_at, approval, project_id):
            continue
        tally = tallies.setdefault((project_id, day), [0, set(), 0, 0])
        tally[0] += 1
        tally[1].add(worker_id)
        tally[2] += seconds or 0
        if worker_id not in known_workers or (cost_code_id is not None
                                              and cost_code_id not in known_codes):
            tally[3] += 1
    ledger: dict[tuple[int, date], list[int]] = {}
    for (project_id, day, state, version, shift_project, shift_day, deleted_at, approval, end,
         shift_version) in (
        ExternalRecord.objects.filter(integration=integration, project_id__in=project_ids,
                                      work_date__range=(first, last))
        .exclude(state=RecordState.DELETED)
        .values_list("project_id", "work_date", "state", "shift_version", "shift__project_id",
                     "shift__work_date", "shift__deleted_at", "shift__approval_state",
                     "shift__end", "shift__version")
    ):
        held = ledger.setdefault((project_id, day), [0, 0])
        in_cell = ((shift_project, shift_day) == (project_id, day)
                   and eligible(deleted_at, approval, shift_project))
        if not in_cell:
            held[0] += 1
        elif end is not None and state == RecordState.SYNCED and version == shift_version:
            held[1] += 1
    last_runs: dict[tuple[int, date], tuple] = {}
    for project_id, day, run_id, state, error in (
        SyncRun.objects.filter(integration=integration, project_id__in=project_ids,
                               work_date__range=(first, last))
        .order_by("project_id", "work_date", "-id")
        .values_list("project_id", "work_date", "id", "state", "error")
    ):
        last_runs.setdefault((project_id, day), (run_id, state, error))
    rows = []
    for key in tallies.keys() | ledger.keys() | last_runs.keys():
        shifts, workers, seconds, unsendable = tallies.get(key, (0, (), 0, 0))
        stale, current = ledger.get(key, (0, 0))
        run_id, state, error = last_runs.get(key, (None, None, None))
        rows.append((*key, shifts, len(workers), seconds, unsendable, key in ledger, stale,
                     current, run_id, state, error))
    return rows


def week_of(day: date) -> list[date]:
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=n) for n in range(7)]


def organization_today(organization: Organization) -> date:
    """Today where the organization works: the one "today" of the Sync Dashboard and of the
    API's cells (at 23:30 on a Sunday in Toronto it is still Sunday, though Monday in UTC)."""
    return time_rules.today(organization.time_zone)


def sync_week(*, organization: Organization, day: date | None = None) -> list[date]:
    """The week (Monday to Sunday) holding `day`, else this week where the organization
    works."""
    return week_of(day or organization_today(organization))
