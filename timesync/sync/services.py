"""Write paths of integrations and their links: create, configure, test, disconnect, match
and link by hand. Run lifecycle lives in runs.py."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from connectors.base import (
    Connector,
    check_remote_url,
)
from connectors.registry import connector_for
from timesync import crypto, roles
from timesync.models import (
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
from timesync.sync.matching import MatchReport, refresh_links

# --- Integrations and their links -----------------------------------------------------------


def _check_settings(settings_: dict) -> None:
    base_url = settings_.get("base_url")
    if base_url:
        try:
            check_remote_url(base_url,
                             allowed_private_hosts=settings.CONNECTOR_PRIVATE_HOSTS_ALLOWED)
        except ValueError as error:
            raise ValidationError({"base_url": str(error)}) from error


def _require_admin(actor: Membership, integration: Integration | None = None) -> None:
    roles.require(roles.can_manage_organization(actor), "Only admins manage integrations.")
    if integration is not None and integration.organization_id != actor.organization_id:
        raise roles.PermissionDenied("That integration belongs to another organization.")


@transaction.atomic
def integration_create(
    *, actor: Membership, kind: str, name: str, settings: dict | None = None,
    credentials: dict | None = None,
) -> Integration:
    _require_admin(actor)
    if Integration.objects.filter(organization_id=actor.organization_id, name=name).exists():
        raise ValidationError({"name": f"An integration named {name} exists already."})
    _check_settings(settings or {})
    integration = Integration(
        organization_id=actor.organization_id, kind=kind, name=name, settings=settings or {},
        credentials_encrypted=crypto.encrypt_json(credentials) if credentials else "",
    )
    integration.full_clean(exclude=["organization"], validate_constraints=False)
    integration.save()
    return integration


@transaction.atomic
def integration_update(
    *, actor: Membership, integration: Integration, credentials: dict | None = None, **fields
) -> Integration:
    """Change settings; `credentials` given are merged into the stored (encrypted) ones and
    connect the integration again if it was disconnected."""
    _require_admin(actor, integration)
    name = fields.get("name")
    if name and Integration.objects.filter(organization_id=integration.organization_id,
                                           name=name).exclude(pk=integration.pk).exists():
        raise ValidationError({"name": f"An integration named {name} exists already."})
    if "settings" in fields:
        _check_settings(fields["settings"] or {})
    for name, value in fields.items():
        setattr(integration, name, value)
    if credentials:
        # New credentials are how a disconnected integration is connected again.
        integration.is_connected = True
        stored = (crypto.decrypt_json(integration.credentials_encrypted)
                  if integration.credentials_encrypted else {})
        integration.credentials_encrypted = crypto.encrypt_json({**stored, **credentials})
    integration.full_clean(exclude=["organization"], validate_constraints=False)
    integration.save()
    return integration


@transaction.atomic
def integration_disconnect(*, actor: Membership, integration: Integration) -> Integration:
    """Remove every link and the credentials. The logs and the ledger stay: they are the
    record of what was sent."""
    _require_admin(actor, integration)
    integration.project_links.all().delete()
    integration.worker_links.all().delete()
    integration.cost_code_links.all().delete()
    integration.credentials_encrypted = ""
    integration.is_connected = False
    integration.schedule_enabled = False
    integration.save()
    return integration


def integration_refresh_links(
    *, actor: Membership, integration: Integration, connector: Connector | None = None
) -> MatchReport:
    """Read the remote's employees, jobs and cost codes and link what matches."""
    _require_admin(actor, integration)
    connector = connector or connector_for(integration)
    try:
        with transaction.atomic():
            return refresh_links(integration=integration, connector=connector)
    finally:
        connector.close()


@transaction.atomic
def project_link_set(
    *, actor: Membership, integration: Integration, project: Project,
    remote_project_id: str | None = None, enabled: bool | None = None,
    sync_only_approved: bool | None = None,
) -> ProjectLink:
    roles.require(roles.can_edit_reference_data(actor),
                  "Only admins and payroll admins change how a project syncs.")
    if integration.organization_id != actor.organization_id \
            or project.organization_id != actor.organization_id:
        raise roles.PermissionDenied("That belongs to another organization.")
    link = ProjectLink.objects.filter(integration=integration, project=project).first()
    if link is None:
        if not remote_project_id:
            raise ValidationError({"remote_project_id": "Give the remote job to link to."})
        link = ProjectLink(organization_id=actor.organization_id, integration=integration,
                           project=project, remote_project_id=remote_project_id)
    if remote_project_id:
        link.remote_project_id = remote_project_id
    if enabled is not None:
        link.enabled = enabled
    if sync_only_approved is not None:
        link.sync_only_approved = sync_only_approved
    link.save()
    return link


@transaction.atomic
def worker_link_set(
    *, actor: Membership, integration: Integration, worker: Worker, remote_worker_id: str
) -> WorkerLink | None:
    """Link a worker by hand (matching will not overwrite it); an empty id removes the link."""
    return _manual_link(actor=actor, integration=integration, model=WorkerLink,
                        ours=worker, field="worker", remote_id=remote_worker_id)


def _manual_link(
    *, actor: Membership, integration: Integration, model: type[WorkerLink | CostCodeLink],
    ours: Worker | CostCode, field: str, remote_id: str,
) -> WorkerLink | CostCodeLink | None:
    """The one write path of links set by hand (workers, cost codes)."""
    roles.require(roles.can_edit_reference_data(actor),
                  "Only admins and payroll admins change mappings.")
    if integration.organization_id != actor.organization_id \
            or ours.organization_id != actor.organization_id:
        raise roles.PermissionDenied("That belongs to another organization.")
    if not remote_id:
        model.objects.filter(integration=integration, **{field: ours}).delete()
        return None
    link, _ = model.objects.update_or_create(
        integration=integration, **{field: ours},
        defaults={"organization_id": actor.organization_id,
                  f"remote_{field}_id": remote_id, "matched_by": MatchField.MANUAL},
    )
    return link


# --- Connecting from the pages, testing, cost codes linked by hand --------------------------


def integration_test_connection(
    *, actor: Membership, integration: Integration, connector: Connector | None = None
) -> None:
    """Ask the remote whether the integration's address and credentials work. Raises the
    connector's PermanentError (refused, wrong address) or TransientError (unreachable) with a
    reason an admin can act on; returns nothing when they work."""
    _require_admin(actor, integration)
    connector = connector or connector_for(integration)
    try:
        connector.test_connection()
    finally:
        connector.close()


def integration_connect(
    *, actor: Membership, kind: str, name: str, settings: dict, credentials: dict,
    connector: Connector | None = None,
) -> Integration:
    """Create an integration and prove its credentials in the same transaction: when the remote
    refuses them (or cannot be reached) the creation is rolled back and the connector's error
    raised, so no integration is ever left connected with credentials that do not work. The
    transaction holds only the new row while the connector's bounded timeouts run."""
    with transaction.atomic():
        integration = integration_create(actor=actor, kind=kind, name=name, settings=settings,
                                         credentials=credentials)
        integration_test_connection(actor=actor, integration=integration, connector=connector)
    return integration


def integration_reconfigure(
    *, actor: Membership, integration: Integration, credentials: dict | None = None,
    connector: Connector | None = None, **fields
) -> Integration:
    """`integration_update`, and when the address or the credentials change on a connected
    integration, a connection test in the same transaction: a refusal rolls every change back
    (the instance is reloaded) and raises the connector's error."""
    previous_base_url = (integration.settings or {}).get("base_url")
    try:
        with transaction.atomic():
            integration = integration_update(actor=actor, integration=integration,
                                             credentials=credentials, **fields)
            moved = (integration.settings or {}).get("base_url") != previous_base_url
            if integration.is_connected and (credentials or moved):
                integration_test_connection(actor=actor, integration=integration,
                                            connector=connector)
    except Exception:
        integration.refresh_from_db()
        raise
    return integration


@transaction.atomic
def cost_code_link_set(
    *, actor: Membership, integration: Integration, cost_code: CostCode, remote_cost_code_id: str
) -> CostCodeLink | None:
    """Link a cost code by hand (matching will not overwrite it); an empty id removes the link."""
    return _manual_link(actor=actor, integration=integration, model=CostCodeLink,
                        ours=cost_code, field="cost_code", remote_id=remote_cost_code_id)
