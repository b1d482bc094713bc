"""Links between our workers, projects and cost codes and the remote's, found by matching.

Workers are matched by the integration's rule order (employee number, then email, then exact
name, by default); a link set by hand is never overwritten. Projects match by number, then
exact name; cost codes by code.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from connectors.base import Connector, RemoteCostCode, RemoteProject, RemoteWorker
from timesync.models import (
    CostCodeLink,
    Integration,
    MatchField,
    ProjectLink,
    Worker,
    WorkerLink,
)


@dataclass
class MatchReport:
    workers_linked: int = 0
    projects_linked: int = 0
    cost_codes_linked: int = 0
    workers_unmatched: list[str] = field(default_factory=list)
    projects_unmatched: list[str] = field(default_factory=list)
    cost_codes_unmatched: list[str] = field(default_factory=list)


def _normal(value: str) -> str:
    return " ".join(value.split()).casefold()


def _index(items: list, key: Callable[[object], str]) -> dict[str, object]:
    index: dict[str, object] = {}
    for item in items:
        value = _normal(key(item))
        if value:
            # An ambiguous value (two remote records share it) must not pick one at random.
            index[value] = None if value in index else item
    return index


def match_worker(
    worker: Worker, order: list[str], indexes: dict[str, dict[str, RemoteWorker | None]]
) -> tuple[RemoteWorker | None, str]:
    for rule in order:
        value = _normal(getattr(worker, rule, "") or "")
        found = indexes.get(rule, {}).get(value) if value else None
        if found is not None:
            return found, rule
    return None, ""


def refresh_links(*, integration: Integration, connector: Connector) -> MatchReport:
    """Fetch the remote's lists and link whatever matches. Call inside a transaction."""
    report = MatchReport()
    remote_workers: list[RemoteWorker] = [w for w in connector.list_workers() if w.active]
    indexes = {
        MatchField.EMPLOYEE_NUMBER: _index(remote_workers, lambda w: w.employee_number),
        MatchField.EMAIL: _index(remote_workers, lambda w: w.email),
        MatchField.NAME: _index(remote_workers, lambda w: w.name),
    }
    manual = set(
        WorkerLink.objects.filter(integration=integration, matched_by=MatchField.MANUAL)
        .values_list("worker_id", flat=True)
    )
    matches: dict[int, tuple[Worker, RemoteWorker | None, str]] = {}
    for worker in Worker.objects.filter(organization_id=integration.organization_id,
                                        is_active=True):
        if worker.pk not in manual:
            found, rule = match_worker(worker, integration.worker_matching, indexes)
            matches[worker.pk] = (worker, found, rule)
    # Two of our workers matching one remote employee (a shared name or email) would send
    # two people's hours to one paycheque: neither is linked.
    claimed = Counter(found.remote_id for _, found, _ in matches.values() if found)
    for worker, found, rule in matches.values():
        if found is None or claimed[found.remote_id] > 1:
            WorkerLink.objects.filter(integration=integration, worker=worker).delete()
            report.workers_unmatched.append(worker.name)
            continue
        WorkerLink.objects.update_or_create(
            integration=integration, worker=worker,
            defaults={"organization_id": integration.organization_id,
                      "remote_worker_id": found.remote_id, "matched_by": rule},
        )
        report.workers_linked += 1

    remote_projects: list[RemoteProject] = connector.list_projects()
    by_number = _index(remote_projects, lambda p: p.number)
    by_name = _index(remote_projects, lambda p: p.name)
    linked = set(ProjectLink.objects.filter(integration=integration)
                 .values_list("project_id", flat=True))
    for project in integration.organization.projects.filter(is_active=True):
        if project.pk in linked:
            report.projects_linked += 1  # a link, once made, is changed by hand only
            continue
        found = by_number.get(_normal(project.code)) or by_name.get(_normal(project.name))
        if found is None:
            report.projects_unmatched.append(str(project))
            continue
        ProjectLink.objects.create(
            organization_id=integration.organization_id, integration=integration,
            project=project, remote_project_id=found.remote_id,
        )
        report.projects_linked += 1

    remote_codes: list[RemoteCostCode] = connector.list_cost_codes()
    by_code = _index(remote_codes, lambda c: c.code)
    manual = set(
        CostCodeLink.objects.filter(integration=integration, matched_by=MatchField.MANUAL)
        .values_list("cost_code_id", flat=True)
    )
    for cost_code in integration.organization.cost_codes.filter(is_active=True):
        if cost_code.pk in manual:
            continue
        found = by_code.get(_normal(cost_code.code))
        if found is None:
            CostCodeLink.objects.filter(integration=integration, cost_code=cost_code).delete()
            report.cost_codes_unmatched.append(str(cost_code))
            continue
        CostCodeLink.objects.update_or_create(
            integration=integration, cost_code=cost_code,
            defaults={"organization_id": integration.organization_id,
                      "remote_cost_code_id": found.remote_id, "matched_by": MatchField.CODE},
        )
        report.cost_codes_linked += 1
    return report
