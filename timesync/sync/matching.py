"""The one matching rule per kind between our workers, projects and cost codes and the remote's
(as the reference catalog holds them). Refreshing links and the Mappings page's suggestions
both use these rules, so what the page suggests is what a refresh links.

- Workers: the integration's order of rules (employee number, then email, then exact name, by
  default). The page also tries the rules the order leaves out, as suggestions only.
- Projects: number, then exact name.
- Cost codes: code, then exact description. A remote that numbers its cost codes differently
  (3100 here, 03.100 there) still describes the work the same way; projects fall back to their
  name for the same reason. The description must be unique on both sides, as every value is.

Values are compared ignoring case and runs of spaces. A value two remote records share matches
neither, and a remote record two of ours match is linked to neither: a guess would send hours
to the wrong paycheque or job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from django.db import models

from connectors.base import RemoteCostCode, RemoteProject, RemoteWorker
from timesync.models import (
    CostCode,
    CostCodeLink,
    Integration,
    MatchField,
    Project,
    ProjectLink,
    Worker,
    WorkerLink,
)

Remote = TypeVar("Remote", RemoteWorker, RemoteProject, RemoteCostCode)

WORKER_RULES = (MatchField.EMPLOYEE_NUMBER, MatchField.EMAIL, MatchField.NAME)
PROJECT_BY_NUMBER, PROJECT_BY_NAME = "number", "name"
_REASONS = {
    MatchField.EMPLOYEE_NUMBER: "same employee number",
    MatchField.EMAIL: "same email",
    MatchField.NAME: "same name",
    PROJECT_BY_NUMBER: "same project number",
    PROJECT_BY_NAME: "same name",
}
_COST_CODE_REASONS = {MatchField.CODE: "same code", MatchField.NAME: "same description"}


@dataclass
class MatchReport:
    workers_linked: int = 0
    projects_linked: int = 0
    cost_codes_linked: int = 0
    workers_unmatched: list[str] = field(default_factory=list)
    projects_unmatched: list[str] = field(default_factory=list)
    cost_codes_unmatched: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Match(Generic[Remote]):
    remote: Remote
    rule: str  # a MatchField value for workers and cost codes; "number" or "name" for projects
    reason: str  # for people: "same email"


def normal(value: str) -> str:
    return " ".join((value or "").split()).casefold()


def _index(items: Iterable[Remote], key: Callable[[Remote], str]) -> dict[str, Remote | None]:
    index: dict[str, Remote | None] = {}
    for item in items:
        value = normal(key(item))
        if value:
            # An ambiguous value (two remote records share it) must not pick one at random.
            index[value] = None if value in index else item
    return index


class _Rule(Generic[Remote]):
    """Indexes of the remote's records by each value a rule compares."""

    def __init__(self, keys: dict[str, Callable[[Remote], str]], remotes: Iterable[Remote]):
        remotes = list(remotes)
        self._indexes = {rule: _index(remotes, key) for rule, key in keys.items()}

    def _first(self, tries: Iterable[tuple[str, str]], reasons: dict[str, str]
               ) -> Match[Remote] | None:
        for rule, value in tries:
            found = self._indexes[rule].get(normal(value)) if normal(value) else None
            if found is not None:
                return Match(remote=found, rule=rule, reason=reasons[rule])
        return None


class WorkerRule(_Rule[RemoteWorker]):
    def __init__(self, remote_workers: Iterable[RemoteWorker]) -> None:
        # An employee the remote marks inactive takes no hours: never a match.
        super().__init__({
            MatchField.EMPLOYEE_NUMBER: lambda w: w.employee_number,
            MatchField.EMAIL: lambda w: w.email,
            MatchField.NAME: lambda w: w.name,
        }, (w for w in remote_workers if w.active))

    def match(self, worker: Worker, order: Sequence[str]) -> Match[RemoteWorker] | None:
        return self._first(((rule, getattr(worker, rule, "") or "") for rule in order
                            if rule in WORKER_RULES), _REASONS)


class ProjectRule(_Rule[RemoteProject]):
    def __init__(self, remote_projects: Iterable[RemoteProject]) -> None:
        super().__init__({PROJECT_BY_NUMBER: lambda p: p.number,
                          PROJECT_BY_NAME: lambda p: p.name}, remote_projects)

    def match(self, project: Project) -> Match[RemoteProject] | None:
        return self._first(((PROJECT_BY_NUMBER, project.code),
                            (PROJECT_BY_NAME, project.name)), _REASONS)


class CostCodeRule(_Rule[RemoteCostCode]):
    def __init__(self, remote_cost_codes: Iterable[RemoteCostCode]) -> None:
        super().__init__({MatchField.CODE: lambda c: c.code, MatchField.NAME: lambda c: c.name},
                         remote_cost_codes)

    def match(self, cost_code: CostCode) -> Match[RemoteCostCode] | None:
        return self._first(((MatchField.CODE, cost_code.code),
                            (MatchField.NAME, cost_code.name)), _COST_CODE_REASONS)


def suggestion_order(integration: Integration) -> list[str]:
    """The integration's worker rules, then those it leaves out: what the Mappings page
    suggests for a worker that refreshing links could not link."""
    order = list(integration.worker_matching)
    return [*order, *(rule for rule in WORKER_RULES if rule not in order)]


# --- Linking --------------------------------------------------------------------------------


def links_match(
    *, integration: Integration, workers: Iterable[RemoteWorker],
    projects: Iterable[RemoteProject], cost_codes: Iterable[RemoteCostCode],
) -> MatchReport:
    """Link whatever matches in the remote's lists given (the catalog). Call inside the
    transaction that replaced the catalog, so links never disagree with it. A link set by
    hand is never changed, even one set while this runs: every write here skips them."""
    report = MatchReport()
    worker_rule, order = WorkerRule(workers), integration.worker_matching
    report.workers_linked, unmatched = _relink(
        integration=integration, model=WorkerLink, field="worker",
        ours=Worker.objects.filter(organization_id=integration.organization_id,
                                   is_active=True).order_by("name", "id"),
        match=lambda worker: worker_rule.match(worker, order),
    )
    report.workers_unmatched = [worker.name for worker in unmatched]
    code_rule = CostCodeRule(cost_codes)
    report.cost_codes_linked, unmatched = _relink(
        integration=integration, model=CostCodeLink, field="cost_code",
        ours=CostCode.objects.filter(organization_id=integration.organization_id,
                                     is_active=True).order_by("code", "id"),
        match=code_rule.match,
    )
    report.cost_codes_unmatched = [str(cost_code) for cost_code in unmatched]
    _link_projects(integration, ProjectRule(projects), report)
    return report


def _relink(
    *, integration: Integration, model: type[WorkerLink | CostCodeLink], field: str,
    ours: Iterable[Worker | CostCode], match: Callable[[Worker | CostCode], Match | None],
) -> tuple[int, list[Worker | CostCode]]:
    """Workers and cost codes alike: link each of ours (not linked by hand) to its match, move
    a link whose match changed, remove one whose match is gone. Returns how many are linked
    and which are not."""
    remote_field = f"remote_{field}_id"
    links = {getattr(link, f"{field}_id"): link
             for link in model.objects.filter(integration=integration)}
    candidates = [(item, match(item)) for item in ours
                  if getattr(links.get(item.pk), "matched_by", None) != MatchField.MANUAL]
    # Two of ours matching one remote record (a shared name or email) would send two
    # people's hours to one paycheque: neither is linked.
    claimed = Counter(found.remote.remote_id for _, found in candidates if found)
    automatic = model.objects.filter(integration=integration).exclude(
        matched_by=MatchField.MANUAL)
    linked, unmatched, gone, new = 0, [], [], []
    for item, found in candidates:
        link = links.get(item.pk)
        if found is None or claimed[found.remote.remote_id] > 1:
            unmatched.append(item)
            if link is not None:
                gone.append(link.pk)
            continue
        linked += 1
        if link is None:
            new.append(model(organization_id=integration.organization_id,
                             integration=integration, matched_by=found.rule,
                             **{field: item, remote_field: found.remote.remote_id}))
        elif (getattr(link, remote_field), link.matched_by) != (found.remote.remote_id,
                                                                found.rule):
            automatic.filter(pk=link.pk).update(
                matched_by=found.rule, **{remote_field: found.remote.remote_id})
    automatic.filter(pk__in=gone).delete()
    # A link set by hand meanwhile is the one kept: the conflict skips ours.
    model.objects.bulk_create(new, ignore_conflicts=True)
    return linked, unmatched


def _link_projects(integration: Integration, rule: ProjectRule, report: MatchReport) -> None:
    """Link each active project without a link; a project's link, once made, is changed by
    hand only (it says where its hours go, and the ledger remembers where they went)."""
    linked = ProjectLink.objects.filter(integration=integration, project=models.OuterRef("pk"))
    projects = Project.objects.filter(organization_id=integration.organization_id,
                                      is_active=True).order_by("name", "id")
    report.projects_linked = projects.filter(models.Exists(linked)).count()
    new = []
    for project in projects.exclude(models.Exists(linked)):
        found = rule.match(project)
        if found is None:
            report.projects_unmatched.append(str(project))
            continue
        new.append(ProjectLink(organization_id=integration.organization_id,
                               integration=integration, project=project,
                               remote_project_id=found.remote.remote_id))
    ProjectLink.objects.bulk_create(new, ignore_conflicts=True)
    report.projects_linked += len(new)
