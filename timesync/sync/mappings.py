"""Read paths of an integration's links: how many are linked, what a disconnect removes, and
the Mappings page (what is not linked, with the match the catalog suggests). Our database
only: the remote's lists come from the reference catalog, never from the remote."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q

from connectors.base import RemoteCostCode, RemoteProject, RemoteWorker
from timesync.models import (
    ACTIVE_SYNC_STATES,
    CostCode,
    CostCodeLink,
    Integration,
    MatchField,
    Project,
    ProjectLink,
    Worker,
    WorkerLink,
)
from timesync.sync.catalog import CatalogStatus, catalog_lists, catalog_status
from timesync.sync.matching import (
    CostCodeRule,
    Match,
    ProjectRule,
    WorkerRule,
    suggestion_order,
)


@dataclass(frozen=True)
class LinkCounts:
    """Active workers, projects and cost codes, and how many of them are linked."""

    workers: int
    workers_linked: int
    workers_manual: int
    projects: int
    projects_linked: int
    cost_codes: int
    cost_codes_linked: int
    cost_codes_manual: int


def link_counts(*, integration: Integration) -> LinkCounts:
    """Three queries whatever the organization's size."""
    organization_id = integration.organization_id
    worker_link = WorkerLink.objects.filter(integration=integration, worker=OuterRef("pk"))
    workers = Worker.objects.filter(organization_id=organization_id, is_active=True).aggregate(
        total=Count("id"), linked=Count("id", filter=Q(Exists(worker_link))),
        manual=Count("id", filter=Q(Exists(worker_link.filter(matched_by=MatchField.MANUAL)))),
    )
    project_link = ProjectLink.objects.filter(integration=integration, project=OuterRef("pk"))
    projects = Project.objects.filter(organization_id=organization_id, is_active=True).aggregate(
        total=Count("id"), linked=Count("id", filter=Q(Exists(project_link))),
    )
    code_link = CostCodeLink.objects.filter(integration=integration, cost_code=OuterRef("pk"))
    codes = CostCode.objects.filter(organization_id=organization_id, is_active=True).aggregate(
        total=Count("id"), linked=Count("id", filter=Q(Exists(code_link))),
        manual=Count("id", filter=Q(Exists(code_link.filter(matched_by=MatchField.MANUAL)))),
    )
    return LinkCounts(
        workers=workers["total"], workers_linked=workers["linked"],
        workers_manual=workers["manual"], projects=projects["total"],
        projects_linked=projects["linked"], cost_codes=codes["total"],
        cost_codes_linked=codes["linked"], cost_codes_manual=codes["manual"],
    )


@dataclass(frozen=True)
class DisconnectSummary:
    """What `integration_disconnect` removes, and what it keeps."""

    project_links: int
    worker_links: int
    cost_code_links: int
    has_credentials: bool
    schedule_enabled: bool
    runs: int
    ledger_records: int
    active_runs: int


def disconnect_summary(*, integration: Integration) -> DisconnectSummary:
    runs = integration.runs.aggregate(
        total=Count("id"), active=Count("id", filter=Q(state__in=ACTIVE_SYNC_STATES))
    )
    return DisconnectSummary(
        project_links=integration.project_links.count(),
        worker_links=integration.worker_links.count(),
        cost_code_links=integration.cost_code_links.count(),
        has_credentials=bool(integration.credentials_encrypted),
        schedule_enabled=integration.schedule_enabled,
        runs=runs["total"],
        ledger_records=integration.records.count(),
        active_runs=runs["active"],
    )


# --- The Mappings page ----------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteChoice:
    """A remote employee, job or cost code to link to; `linked_to` names ours that holds it."""

    remote_id: str
    label: str
    linked_to: str = ""


@dataclass(frozen=True)
class Suggestion:
    remote_id: str
    label: str
    reason: str  # which of our values equals the remote's, e.g. "same email"
    linked_to: str = ""  # one of ours is linked to it already: not a safe pick


@dataclass(frozen=True)
class Unmatched:
    item: Worker | Project | CostCode
    suggestion: Suggestion | None


@dataclass(frozen=True)
class ManualLink:
    """A link set by hand, and whether the catalog still holds what it points to."""

    item: Worker | CostCode
    remote_id: str
    remote_label: str  # "" when the catalog has no such id
    missing: bool  # the catalog was fetched and has no such id


@dataclass
class MappingOverview:
    counts: LinkCounts
    catalog: CatalogStatus
    workers: list[Unmatched]
    projects: list[Unmatched]
    cost_codes: list[Unmatched]
    remote_workers: list[RemoteChoice]
    remote_projects: list[RemoteChoice]
    remote_cost_codes: list[RemoteChoice]
    manual_workers: list[ManualLink]
    manual_cost_codes: list[ManualLink]

    @property
    def has_catalog(self) -> bool:
        """The remote's lists were fetched at least once: there is something to pick from."""
        return not self.catalog.never_fetched


def mapping_overview(*, integration: Integration) -> MappingOverview:
    """What is not linked, each with the catalog's record it would match (by the rules of
    `matching`, trying for workers every rule, not only the integration's), the catalog's
    lists to pick from, and the links set by hand. A constant number of queries."""
    organization_id = integration.organization_id
    status = catalog_status(integration=integration)
    lists = catalog_lists(integration=integration)
    remote_workers = [w for w in lists.workers if w.active]

    # Which of ours holds each remote id already.
    worker_holders = dict(WorkerLink.objects.filter(integration=integration)
                          .values_list("remote_worker_id", "worker__name"))
    project_holders = {
        link.remote_project_id: str(link.project)
        for link in ProjectLink.objects.filter(integration=integration).select_related("project")
    }
    code_holders = {
        link.remote_cost_code_id: str(link.cost_code)
        for link in CostCodeLink.objects.filter(integration=integration)
        .select_related("cost_code")
    }
    worker_labels = {w.remote_id: _worker_label(w) for w in remote_workers}
    project_labels = {p.remote_id: _project_label(p) for p in lists.projects}
    code_labels = {c.remote_id: _code_label(c) for c in lists.cost_codes}

    def unmatched(items: Iterable, match: Callable[[object], Match | None],
                  labels: dict[str, str], holders: dict[str, str]) -> list[Unmatched]:
        rows = []
        for item in items:
            found = match(item)
            suggestion = None if found is None else Suggestion(
                remote_id=found.remote.remote_id, label=labels[found.remote.remote_id],
                reason=found.reason, linked_to=holders.get(found.remote.remote_id, ""))
            rows.append(Unmatched(item, suggestion))
        return rows

    worker_rule, order = WorkerRule(remote_workers), suggestion_order(integration)
    not_linked = {"organization_id": organization_id, "is_active": True}
    workers = unmatched(
        Worker.objects.filter(**not_linked).exclude(links__integration=integration)
        .order_by("name", "id"),
        lambda worker: worker_rule.match(worker, order), worker_labels, worker_holders)
    projects = unmatched(
        Project.objects.filter(**not_linked).exclude(links__integration=integration)
        .order_by("name", "id"),
        ProjectRule(lists.projects).match, project_labels, project_holders)
    cost_codes = unmatched(
        CostCode.objects.filter(**not_linked).exclude(links__integration=integration)
        .order_by("code", "id"),
        CostCodeRule(lists.cost_codes).match, code_labels, code_holders)

    def manual(links, item_of, remote_id_of, labels) -> list[ManualLink]:
        return [
            ManualLink(item=item_of(link), remote_id=remote_id_of(link),
                       remote_label=labels.get(remote_id_of(link), ""),
                       missing=not status.never_fetched and remote_id_of(link) not in labels)
            for link in links
        ]

    return MappingOverview(
        counts=link_counts(integration=integration),
        catalog=status,
        workers=workers, projects=projects, cost_codes=cost_codes,
        remote_workers=_choices(worker_labels, worker_holders),
        remote_projects=_choices(project_labels, project_holders),
        remote_cost_codes=_choices(code_labels, code_holders),
        manual_workers=manual(
            WorkerLink.objects.filter(integration=integration, matched_by=MatchField.MANUAL)
            .select_related("worker").order_by("worker__name"),
            lambda link: link.worker, lambda link: link.remote_worker_id, worker_labels,
        ),
        manual_cost_codes=manual(
            CostCodeLink.objects.filter(integration=integration, matched_by=MatchField.MANUAL)
            .select_related("cost_code").order_by("cost_code__code"),
            lambda link: link.cost_code, lambda link: link.remote_cost_code_id, code_labels,
        ),
    )


def _worker_label(worker: RemoteWorker) -> str:
    parts = [worker.name]
    if worker.employee_number and worker.employee_number != worker.name:
        parts.append(f"#{worker.employee_number}")
    if worker.email:
        parts.append(worker.email)
    return " · ".join(parts)


def _project_label(project: RemoteProject) -> str:
    if project.number and project.number != project.name:
        return f"{project.number} {project.name}"
    return project.name


def _code_label(cost_code: RemoteCostCode) -> str:
    return f"{cost_code.code} {cost_code.name}".strip()


def _choices(labels: dict[str, str], holders: dict[str, str]) -> list[RemoteChoice]:
    return sorted(
        (RemoteChoice(remote_id=remote_id, label=label, linked_to=holders.get(remote_id, ""))
         for remote_id, label in labels.items()),
        key=lambda choice: (choice.label.casefold(), choice.remote_id),
    )
