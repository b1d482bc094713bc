"""Import from the remote (Procore's people, projects and cost codes; ExakTime's SyncLinx):
create our workers, projects and cost codes from the remote's records that nothing of ours
matches, and link them, as an explicit admin action.

Matching runs first (`catalog_fetch`, the one rule of `matching.py`): a record of ours that
matches is linked, never duplicated. Only what is left is created. A remote record whose
number or code one of ours already holds without being linked to it (an ambiguous match, a
link set by hand elsewhere) is not created either: a second record of the same number would
be a guess, so it is reported as left unmatched for someone to link by hand. Running the
import twice changes nothing: everything is linked after the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from connectors.base import Connector
from timesync import roles
from timesync.models import (
    AuditEvent,
    CostCode,
    CostCodeLink,
    Integration,
    MatchField,
    Membership,
    Project,
    ProjectLink,
    Worker,
    WorkerLink,
)
from timesync.sync import audit, catalog
from timesync.sync.selectors import access_integration

# Kinds of integration whose records we may create ours from (a remote we send hours to that
# is also where the office keeps its people and projects).
IMPORTABLE_KINDS = ("procore",)


@dataclass
class ImportReport:
    """What an import did, each list holding names a person recognises."""

    created: list[str] = field(default_factory=list)  # "worker Aaron Abbott"
    linked: int = 0  # records of ours that matching linked to the remote's on this import
    # The remote's records not created (and why), then ours that the remote does not hold.
    left_unmatched: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return (f"Created {len(self.created)}, linked {self.linked}, left unmatched "
                f"{len(self.left_unmatched)}.")


def references_import(
    *, actor: Membership, integration: Integration, sub_jobs_as_projects: bool = False,
    connector: Connector | None = None,
) -> ImportReport:
    """Read the remote's lists now (outside any transaction; links matched), then create and
    link ours for the remote's records nothing matched, in one transaction with its audit
    entry. `sub_jobs_as_projects`: a project of ours per sub job too, with its job's time
    zone (as Timesite does); otherwise sub jobs are only offered for linking by hand."""
    integration = access_integration(actor, integration.pk, connected=True)
    roles.require_integration_manager(actor)
    if integration.kind not in IMPORTABLE_KINDS:
        raise ValidationError(f"{integration.name} cannot create our records from its own: "
                              "link them on the Mappings page.")
    matched = catalog.catalog_fetch(integration_id=integration.pk, connector=connector,
                                    requested_by=actor.user)
    report = ImportReport()
    if matched is not None:
        report.linked = (matched.workers_linked + matched.projects_linked
                         + matched.cost_codes_linked)
    with transaction.atomic():
        integration = access_integration(actor, integration.pk, for_update=True,
                                         connected=True)
        lists = catalog.catalog_lists(integration=integration)
        _import_workers(integration, lists.workers, report)
        _import_projects(integration, lists.projects, report, sub_jobs=sub_jobs_as_projects)
        _import_cost_codes(integration, lists.cost_codes, report)
        if report.created:
            audit.record(integration=integration, actor=actor.user,
                         event=AuditEvent.CATALOG_REFRESHED,
                         note=f"Import: {report.summary}"[:500])
    return report


def _import_workers(integration: Integration, remote_workers: list, report: ImportReport
                    ) -> None:
    organization_id = integration.organization_id
    linked = set(WorkerLink.objects.filter(integration=integration)
                 .values_list("remote_worker_id", flat=True))
    numbers = set(Worker.objects.filter(organization_id=organization_id)
                  .exclude(employee_number="").values_list("employee_number", flat=True))
    for remote in remote_workers:
        if remote.remote_id in linked or not remote.active:
            continue
        if remote.employee_number and remote.employee_number in numbers:
            report.left_unmatched.append(
                f"employee {remote.name}: a worker of ours has employee number "
                f"{remote.employee_number} but is not linked to them; link them by hand")
            continue
        worker = Worker.objects.create(organization_id=organization_id, name=remote.name[:200],
                                       employee_number=remote.employee_number[:50],
                                       email=remote.email if "@" in remote.email else "")
        WorkerLink.objects.create(
            organization_id=organization_id, integration=integration, worker=worker,
            remote_worker_id=remote.remote_id,
            matched_by=MatchField.EMPLOYEE_NUMBER if remote.employee_number else MatchField.NAME)
        numbers.add(remote.employee_number)
        report.created.append(f"worker {worker.name}")
    unlinked = Worker.objects.filter(organization_id=organization_id, is_active=True) \
        .exclude(links__integration=integration).order_by("name")
    report.left_unmatched.extend(f"worker {w.name}: not in the remote" for w in unlinked)


def _import_projects(integration: Integration, remote_projects: list, report: ImportReport,
                     *, sub_jobs: bool) -> None:
    organization_id = integration.organization_id
    linked = dict(ProjectLink.objects.filter(integration=integration)
                  .values_list("remote_project_id", "project_id"))
    numbers = set(Project.objects.filter(organization_id=organization_id).exclude(code="")
                  .values_list("code", flat=True))
    # Jobs before their sub jobs: a sub job copies its job's settings.
    for remote in sorted(remote_projects, key=lambda p: bool(p.parent_remote_id)):
        if remote.remote_id in linked:
            continue
        if remote.parent_remote_id:
            parent = Project.objects.filter(pk=linked.get(remote.parent_remote_id)).first()
            if not sub_jobs or parent is None:
                continue  # offered for linking by hand on the Mappings page
            number, time_zone = "", parent.time_zone  # a sub job's code is only its job's
        else:
            number, time_zone = remote.number[:50], ""
        if number and number in numbers:
            report.left_unmatched.append(
                f"project {remote.name}: a project of ours has number {number} but is not "
                "linked to it; link it by hand")
            continue
        project = Project.objects.create(organization_id=organization_id,
                                         name=remote.name[:200], code=number,
                                         time_zone=time_zone)
        ProjectLink.objects.create(organization_id=organization_id, integration=integration,
                                   project=project, remote_project_id=remote.remote_id)
        linked[remote.remote_id] = project.pk
        numbers.add(number)
        report.created.append(f"project {project.name}")
    unlinked = Project.objects.filter(organization_id=organization_id, is_active=True) \
        .exclude(links__integration=integration).order_by("name")
    report.left_unmatched.extend(f"project {p.name}: not in the remote" for p in unlinked)


def _import_cost_codes(integration: Integration, remote_codes: list, report: ImportReport
                       ) -> None:
    organization_id = integration.organization_id
    linked = set(CostCodeLink.objects.filter(integration=integration)
                 .values_list("remote_cost_code_id", flat=True))
    codes = set(CostCode.objects.filter(organization_id=organization_id)
                .values_list("code", flat=True))
    for remote in remote_codes:
        if remote.remote_id in linked:
            continue
        if remote.code[:50] in codes:
            report.left_unmatched.append(
                f"cost code {remote.code}: a cost code of ours has this code but is not "
                "linked to it; link it by hand")
            continue
        cost_code = CostCode.objects.create(organization_id=organization_id,
                                            code=remote.code[:50],
                                            name=(remote.name or remote.code)[:200])
        CostCodeLink.objects.create(organization_id=organization_id, integration=integration,
                                    cost_code=cost_code, remote_cost_code_id=remote.remote_id,
                                    matched_by=MatchField.CODE)
        codes.add(cost_code.code)
        report.created.append(f"cost code {cost_code.code} {cost_code.name}")
    unlinked = CostCode.objects.filter(organization_id=organization_id, is_active=True) \
        .exclude(links__integration=integration).order_by("code")
    report.left_unmatched.extend(f"cost code {c.code}: not in the remote" for c in unlinked)
