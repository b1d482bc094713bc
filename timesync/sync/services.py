"""Write paths of integrations and their links: connect, configure, test, refresh from the remote,
disconnect, and link by hand. Run lifecycle lives in runs.py, the remote's lists in catalog.py.

Two rules hold throughout. No remote call inside a database transaction: a remote that takes
30 seconds to answer must not hold row locks (or a connection) for 30 seconds, so a connection
test runs first, outside, and the write follows in its own short transaction. And every change
writes its audit entry (audit.py) in the transaction of the change.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import time

import pydantic
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from connectors.addresses import check_remote_url
from connectors.base import Connector, ConnectorError
from connectors.procore import oauth
from timesync import crypto, roles
from timesync import selectors as domain
from timesync.models import (
    AuditEvent,
    CostCode,
    CostCodeLink,
    HoursRounding,
    Integration,
    IntegrationKind,
    MatchField,
    Membership,
    Project,
    ProjectLink,
    Worker,
    WorkerLink,
)
from timesync.sync import audit, catalog, procore, procore_receive, tokens
from timesync.sync.matching import MatchReport
from timesync.sync.remotes import connector_for, remote_address_policy, settings_spec
from timesync.sync.selectors import access_integration, require_connected

logger = logging.getLogger(__name__)

# What can be connected today; the other kinds are shown as coming soon.
CONNECTABLE_KINDS = frozenset({IntegrationKind.PLEXXIS, IntegrationKind.PROCORE})
# The settings that are addresses our servers call: each is checked before it is kept.
_ADDRESS_SETTINGS = ("base_url", "api_base_url", "login_base_url")


@dataclass(frozen=True)
class IntegrationChanges:
    """What an admin changes in an integration's settings; None leaves a value as it is.
    `credentials` given are merged into the stored (encrypted) ones and connect the integration
    again if it was disconnected. `settings` replaces the settings object as a whole."""

    name: str | None = None
    settings: dict | None = None
    credentials: dict | None = None
    worker_matching: list[str] | None = None
    hours_rounding: str | None = None
    schedule_enabled: bool | None = None
    schedule_time: time | None = None
    schedule_days_back: int | None = None


# --- Connecting -----------------------------------------------------------------------------


def integration_connect(
    *, actor: Membership, kind: str, name: str, settings: dict, credentials: dict,
    connector: Connector | None = None,
) -> Integration:
    """Connect a remote system: its address and credentials are tested first, outside any
    transaction (a refusal, or a remote that cannot be reached, raises the connector's error
    and creates nothing); then the integration is created, and a first fetch of the remote's
    workers, projects and cost codes is queued, in one transaction."""
    roles.require_integration_manager(actor)
    candidate = _new_integration(actor, kind=kind, name=name, settings=settings,
                                 credentials=credentials)
    if kind == IntegrationKind.PROCORE:
        return _procore_connect(actor, candidate)
    if not _base_url(candidate):
        raise ValidationError({"base_url": "Give the address of the remote's API."})
    _test_connection(candidate, connector)
    with transaction.atomic():
        integration = _create(actor, candidate)
        catalog.catalog_fetch_queue(integration=integration)
    return integration


def _procore_connect(actor: Membership, candidate: Integration) -> Integration:
    """Client credentials connect at once: a token and the company check first (outside any
    transaction; a failure creates nothing), then the integration with its tokens. The
    authorization code grant creates it not yet connected: the admin is sent to Procore
    (procore.procore_authorization_begin) and connects at our callback."""
    credentials = (crypto.decrypt_json(candidate.credentials_encrypted)
                   if candidate.credentials_encrypted else {})
    missing = [key for key in ("client_id", "client_secret") if not credentials.get(key)]
    if missing:
        raise ValidationError({"credentials": (
            f"Give the Procore app's {' and '.join(missing)} (Procore's Developer Portal).")})
    if not procore.procore_settings(candidate).company_id:
        raise ValidationError({"company_id": "Give the Procore company ID."})
    if not procore.uses_client_credentials(candidate):
        candidate.is_connected = False  # until Procore sends the admin back
        with transaction.atomic():
            return _create(actor, candidate)
    grant = procore.procore_grant_fetch(candidate)
    with transaction.atomic():
        # procore_connected records the connect (with the company's name): one entry for it.
        integration = _create(actor, candidate, audited=False)
        return procore.procore_connected(
            actor=actor.user, integration=integration, grant=grant,
            note=f"Connected to Procore company {grant.company_name} (client credentials).")


def integration_create(
    *, actor: Membership, kind: str, name: str, settings: dict | None = None,
    credentials: dict | None = None,
) -> Integration:
    """Create an integration without asking its remote (loading data whose remote is known: the
    demo, tests). People connect through `integration_connect`, which tests first. Without
    credentials it is created disconnected."""
    roles.require_integration_manager(actor)
    candidate = _new_integration(actor, kind=kind, name=name, settings=settings or {},
                                 credentials=credentials)
    with transaction.atomic():
        return _create(actor, candidate)


def _new_integration(
    actor: Membership, *, kind: str, name: str, settings: dict, credentials: dict | None,
) -> Integration:
    if kind not in CONNECTABLE_KINDS:
        label = IntegrationKind(kind).label if kind in IntegrationKind.values else kind
        raise ValidationError({"kind": f"{label} is coming soon; Plexxis and Procore connect "
                                       "today."})
    integration = Integration(
        organization_id=actor.organization_id, kind=kind, name=(name or "").strip(),
        settings=_declared_settings(kind, settings), is_connected=bool(credentials),
        credentials_encrypted=crypto.encrypt_json(credentials) if credentials else "",
    )
    _validate(integration)
    _check_address(integration.settings)
    return integration


def _create(actor: Membership, integration: Integration, *, audited: bool = True
            ) -> Integration:
    """Save the new integration with its audit entry: "connected" when it is, "created"
    otherwise. `audited=False` when the caller records the connect itself."""
    try:
        with transaction.atomic():
            integration.save()
    except IntegrityError as error:  # the same name, created a moment ago by someone else
        raise ValidationError({"name": _name_taken(integration.name)}) from error
    if not audited:
        return integration
    address = _base_url(integration) or "no address"
    event = AuditEvent.CONNECTED if integration.is_connected else AuditEvent.CREATED
    if integration.is_connected:
        note = f"Connected to {integration.get_kind_display()} at {address}."
    elif integration.credentials_encrypted:
        note = (f"Created with the app's credentials; it connects when "
                f"{integration.get_kind_display()} allows the app.")
    else:
        note = "Created without credentials: not connected."
    audit.record(integration=integration, actor=actor.user, event=event,
                 subject=integration.name, note=note)
    return integration


# --- Settings -------------------------------------------------------------------------------


def integration_reconfigure(
    *, actor: Membership, integration: Integration, changes: IntegrationChanges,
    connector: Connector | None = None,
) -> Integration:
    """The settings page's and the API's write path: when the address or the credentials
    change (and the integration would be connected), the new ones are tested first, outside
    any transaction; a refusal raises the connector's error and changes nothing. Then
    `integration_update`."""
    current = access_integration(actor, integration.pk)
    roles.require_integration_manager(actor)
    after = _changed(current, changes)  # invalid input is refused before the remote is asked
    _check_address(changes.settings)
    if after.is_connected and not _base_url(after):
        # As when connecting: a connected integration needs an address (else a 502 from our
        # own connector saying the same, after a pointless call).
        raise ValidationError({"base_url": "Give the address of the remote's API."})
    moved = _base_url(after) != _base_url(current)
    # Procore is tested by connecting (a token and the company check): a change of its app or
    # addresses asks for that instead (see _update).
    if after.is_connected and (changes.credentials or moved) \
            and after.kind != IntegrationKind.PROCORE:
        _test_connection(after, connector)
    return _update(actor, integration, changes)


def integration_update(
    *, actor: Membership, integration: Integration, name: str | None = None,
    settings: dict | None = None, credentials: dict | None = None,
    worker_matching: list[str] | None = None, hours_rounding: str | None = None,
    schedule_enabled: bool | None = None, schedule_time: time | None = None,
    schedule_days_back: int | None = None,
) -> Integration:
    """Change settings without asking the remote (see `integration_reconfigure`, which pages
    and the API use). One transaction, with its audit entries; `integration` is updated."""
    return _update(actor, integration, IntegrationChanges(
        name=name, settings=settings, credentials=credentials, worker_matching=worker_matching,
        hours_rounding=hours_rounding, schedule_enabled=schedule_enabled,
        schedule_time=schedule_time, schedule_days_back=schedule_days_back,
    ))


def _update(actor: Membership, integration: Integration, changes: IntegrationChanges
            ) -> Integration:
    if changes.settings is not None:
        _declared_settings(integration.kind, changes.settings)  # before the address is read
    _check_address(changes.settings)
    with transaction.atomic():
        current = access_integration(actor, integration.pk, for_update=True)
        roles.require_integration_manager(actor)
        before = _audited_values(current)
        was_connected, previous_url = current.is_connected, _base_url(current)
        after = _changed(current, changes)
        procore_moved = after.kind == IntegrationKind.PROCORE and (
            changes.credentials or _base_url(after) != previous_url)
        # Tokens belong to one app at one Procore: another app or host needs its own.
        if procore_moved and (tokens.procore_tokens_take(integration=current) is not None
                              or after.is_connected):
            after.reconnect_reason = ("The Procore app's credentials or addresses changed: "
                                      "connect to Procore again.")
        after.save()
        _audit_update(actor, after, before, changes, reconnected=after.is_connected
                      and not was_connected)
        if after.is_connected and (not was_connected or _base_url(after) != previous_url):
            # Another remote, or the same one after a disconnect: its lists are read afresh.
            catalog.catalog_fetch_queue(integration=after)
    integration.refresh_from_db()
    procore_receive.procore_receiving_sync(integration=integration)  # calls Procore: after
    return integration


def _changed(current: Integration, changes: IntegrationChanges) -> Integration:
    """`current` with the changes applied, validated (a copy: `current` is left as it is)."""
    after = copy.copy(current)
    for field in fields(IntegrationChanges):
        value = getattr(changes, field.name)
        if value is None or field.name == "credentials":
            continue
        if field.name == "settings":
            value = _declared_settings(after.kind, value)
        setattr(after, field.name, value.strip() if field.name == "name" else value)
    if changes.credentials:
        # New credentials are how a disconnected integration is connected again.
        stored = (crypto.decrypt_json(after.credentials_encrypted)
                  if after.credentials_encrypted else {})
        after.credentials_encrypted = crypto.encrypt_json({**stored, **changes.credentials})
        after.is_connected = True
    _validate(after)
    return after


def _validate(integration: Integration) -> None:
    """Everything but the address (see `_check_address`); the settings' keys and types are
    checked on the way in (`_declared_settings`), the model's fields and bounds here."""
    taken = Integration.objects.filter(organization_id=integration.organization_id,
                                       name=integration.name).exclude(pk=integration.pk)
    if integration.name and taken.exists():
        raise ValidationError({"name": _name_taken(integration.name)})
    _check_worker_matching(integration.worker_matching)
    integration.full_clean(exclude=["organization"], validate_constraints=False)


def _declared_settings(kind: str, settings: object) -> dict:
    """The settings as the connector of `kind` declares them (connectors/settings.py). A key
    it does not declare is refused, never kept: the settings are clear JSON every member
    reads, and a secret put there by mistake would sit in clear."""
    if not isinstance(settings, dict):
        raise ValidationError({"settings": 'Give the settings as an object, e.g. '
                                           '{"base_url": "https://…"}.'})
    spec = settings_spec(kind)
    try:
        return spec.model_validate(settings).model_dump(exclude_unset=True)
    except pydantic.ValidationError as error:
        raise ValidationError(_settings_errors(kind, spec, error)) from error


def _settings_errors(kind: str, spec: type[pydantic.BaseModel], error: pydantic.ValidationError
                     ) -> dict[str, list[str]]:
    """Field errors by setting name, as the pages' fields and the API's clients name them; a
    key not declared is an error of `settings`, naming it."""
    label = IntegrationKind(kind).label if kind in IntegrationKind.values else kind
    declared = ", ".join(spec.model_fields) or "none"
    errors: dict[str, list[str]] = {}
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else "settings"
        if problem["type"] == "extra_forbidden":
            errors.setdefault("settings", []).append(
                f"{name} is not a setting of {label} (its settings: {declared}). Secrets "
                "belong in credentials, which are stored encrypted and never shown.")
        else:
            errors.setdefault(name, []).append(f"{problem['msg']}.")
    return errors


def _check_worker_matching(rules: object) -> None:
    """The rules a worker is matched by, in order: each at most once (a JSON field: the model
    alone would take anything)."""
    allowed = [MatchField.EMPLOYEE_NUMBER, MatchField.EMAIL, MatchField.NAME]
    if (not isinstance(rules, list) or not 1 <= len(rules) <= len(allowed)
            or any(rule not in allowed for rule in rules) or len(set(rules)) != len(rules)):
        raise ValidationError({"worker_matching": (
            f"Give one to three of {', '.join(allowed)}, each once, in the order to try.")})


def _check_address(settings: dict | None) -> None:
    """Refuse an address inside our network before anything calls it. It resolves the host
    name (DNS, a remote call of its own): never call it inside a transaction."""
    for name in _ADDRESS_SETTINGS:
        address = (settings or {}).get(name)
        if address:
            try:
                check_remote_url(address, policy=remote_address_policy())
            except ValueError as error:
                raise ValidationError({name: str(error)}) from error


def _name_taken(name: str) -> str:
    return f"An integration named {name} exists already."


def _base_url(integration: Integration) -> str:
    if integration.kind == IntegrationKind.PROCORE:
        spec = procore.procore_settings(integration)
        return f"{spec.api_base_url} (sign-in {spec.login_base_url})"
    return (integration.settings or {}).get("base_url") or ""


_SETTING_LABELS = {
    "name": "Name", "base_url": "Address", "worker_matching": "Worker matching",
    "hours_rounding": "Hours sent", "schedule_enabled": "Sync every night",
    "schedule_time": "At", "schedule_days_back": "Day to send (days back)",
}


def _audited_values(integration: Integration) -> dict[str, object]:
    """The settings as people read them. Settings other than the address are compared, never
    shown: a stray secret there must not reach the trail."""
    return {
        "name": integration.name,
        "base_url": _base_url(integration),
        "worker_matching": " → ".join(MatchField(rule).label
                                      for rule in integration.worker_matching),
        "hours_rounding": HoursRounding(integration.hours_rounding).label,
        "schedule_enabled": integration.schedule_enabled,
        "schedule_time": integration.schedule_time.strftime("%H:%M"),
        "schedule_days_back": integration.schedule_days_back,
        "others": {k: v for k, v in (integration.settings or {}).items() if k != "base_url"},
    }


def _audit_update(actor: Membership, integration: Integration, before: dict[str, object],
                  changes: IntegrationChanges, *, reconnected: bool) -> None:
    after = _audited_values(integration)
    diff = audit.changes_between(before, after, _SETTING_LABELS)
    if before["others"] != after["others"]:
        diff.append(audit.Change("Other settings", "—", "changed (values not shown)"))
    if diff:
        audit.record(integration=integration, actor=actor.user,
                     event=AuditEvent.SETTINGS_CHANGED, subject=integration.name, changes=diff)
    if reconnected:
        audit.record(integration=integration, actor=actor.user, event=AuditEvent.CONNECTED,
                     subject=integration.name, note="Connected again with new credentials.")
    elif changes.credentials:
        audit.record(integration=integration, actor=actor.user,
                     event=AuditEvent.CREDENTIALS_REPLACED, subject=integration.name,
                     note="Credentials replaced.")


# --- Testing, refreshing from the remote, disconnecting ---------------------------------------


def integration_test_connection(
    *, actor: Membership, integration: Integration, connector: Connector | None = None
) -> None:
    """Ask the remote whether the integration's address and credentials work. Raises the
    connector's PermanentError (refused, wrong address) or TransientError (unreachable) with a
    reason an admin can act on, IntegrationDisconnected when there is nothing to test."""
    integration = access_integration(actor, integration.pk, connected=True)
    roles.require_integration_manager(actor)
    _test_connection(integration, connector)


def _test_connection(integration: Integration, connector: Connector | None) -> None:
    connector = connector or connector_for(integration)
    try:
        connector.test_connection()
    finally:
        connector.close()


def integration_refresh_links(
    *, actor: Membership, integration: Integration, connector: Connector | None = None
) -> MatchReport:
    """Read the remote's lists now (outside any transaction), replace the catalog and link
    what matches (links set by hand are kept). For API clients, who wait for the answer;
    the pages queue `integration_catalog_refresh` instead. Raises the connector's errors."""
    integration = access_integration(actor, integration.pk, connected=True)
    roles.require_integration_manager(actor)
    report = catalog.catalog_fetch(integration_id=integration.pk, connector=connector,
                                   requested_by=actor.user)
    if report is None:
        require_connected(access_integration(actor, integration.pk))  # disconnected meanwhile
        return MatchReport()  # a newer fetch landed first: its links stand
    return report


def integration_catalog_refresh(*, actor: Membership, integration: Integration) -> bool:
    """Queue a fetch of the remote's lists (links are matched again when it lands). False when
    one is queued or running already."""
    integration = access_integration(actor, integration.pk, connected=True)
    roles.require_integration_manager(actor)
    return catalog.catalog_fetch_queue(integration=integration, requested_by=actor.user)


def integration_disconnect(*, actor: Membership, integration: Integration) -> Integration:
    """Remove every link, the credentials and the remote's lists. The logs and the ledger stay:
    they are the record of what was sent."""
    seen = access_integration(actor, integration.pk)
    roles.require_integration_manager(actor)
    # Before the tokens go (the call needs them), outside the transaction (it calls Procore).
    procore_receive.procore_hook_delete(integration=seen)
    with transaction.atomic():
        current = access_integration(actor, integration.pk, for_update=True)
        roles.require_integration_manager(actor)
        removed = [
            f"{current.project_links.all().delete()[0]} project links",
            f"{current.worker_links.all().delete()[0]} worker links",
            f"{current.cost_code_links.all().delete()[0]} cost code links",
        ]
        catalog.catalog_clear(integration=current)
        if procore_receive.procore_receiving_forget(integration=current):
            removed.append("the Procore webhook and its secret")
        revoke = _procore_revocation(current)
        if revoke is not None:
            removed.append("the Procore tokens (revoked at Procore)")
        current.credentials_encrypted = ""
        current.is_connected = False
        current.reconnect_reason = ""
        current.schedule_enabled = False
        current.save()
        audit.record(integration=current, actor=actor.user, event=AuditEvent.DISCONNECTED,
                     subject=current.name,
                     note=f"Removed {', '.join(removed)}, the credentials and the schedule.")
    if revoke is not None:
        revoke()  # after the commit: the tokens are gone here whatever Procore answers
    integration.refresh_from_db()
    return integration


def _procore_revocation(integration: Integration) -> Callable[[], None] | None:
    """Delete a Procore integration's tokens (call inside the disconnect's transaction) and
    return the best-effort remote revocation to run after it commits: a Procore that cannot be
    reached must not keep an admin from disconnecting."""
    if integration.kind != IntegrationKind.PROCORE:
        return None
    pair = tokens.procore_tokens_take(integration=integration)
    if pair is None:
        return None
    try:
        client = tokens.oauth_client_for(integration)
    except ConnectorError:
        return lambda: None

    def revoke() -> None:
        for token in filter(None, reversed(pair)):  # the refresh token first: it outlives
            try:
                oauth.revoke(client, token=token)
            except ConnectorError:
                logger.warning("Procore did not revoke a token of integration %s; it was "
                               "deleted here.", integration.pk, exc_info=True)

    return revoke


# --- Links set by hand ----------------------------------------------------------------------


def project_link_set(
    *, actor: Membership, integration: Integration, project: Project,
    remote_project_id: str | None = None, enabled: bool | None = None,
    sync_only_approved: bool | None = None,
) -> ProjectLink:
    roles.require_mapping_editor(actor)
    with transaction.atomic():
        integration = access_integration(actor, integration.pk)
        project = domain.project_get(membership=actor, project_id=project.pk)
        link = ProjectLink.objects.select_for_update().filter(integration=integration,
                                                              project=project).first()
        before = _project_link_values(link)
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
        changes = audit.changes_between(before, _project_link_values(link), {
            "remote_project_id": "Remote job", "enabled": "Enabled",
            "sync_only_approved": "Sync Only Approved Shifts"})
        if changes:
            audit.record(integration=integration, actor=actor.user,
                         event=AuditEvent.PROJECT_LINK_SET, subject=str(project),
                         changes=changes)
    return link


def _project_link_values(link: ProjectLink | None) -> dict[str, object]:
    if link is None:
        return {}
    return {"remote_project_id": link.remote_project_id, "enabled": link.enabled,
            "sync_only_approved": link.sync_only_approved}


def worker_link_set(
    *, actor: Membership, integration: Integration, worker: Worker, remote_worker_id: str
) -> WorkerLink | None:
    """Link a worker by hand (matching will not overwrite it); an empty id removes the link."""
    roles.require_mapping_editor(actor)
    with transaction.atomic():
        worker = domain.worker_get(organization=actor.organization, worker_id=worker.pk)
        return _manual_link(actor=actor, integration=integration, model=WorkerLink,
                            ours=worker, field="worker", remote_id=remote_worker_id,
                            event=AuditEvent.WORKER_LINK_SET)


def cost_code_link_set(
    *, actor: Membership, integration: Integration, cost_code: CostCode, remote_cost_code_id: str
) -> CostCodeLink | None:
    """Link a cost code by hand (matching will not overwrite it); an empty id removes the link."""
    roles.require_mapping_editor(actor)
    with transaction.atomic():
        cost_code = domain.cost_code_get(organization=actor.organization,
                                         cost_code_id=cost_code.pk)
        return _manual_link(actor=actor, integration=integration, model=CostCodeLink,
                            ours=cost_code, field="cost_code", remote_id=remote_cost_code_id,
                            event=AuditEvent.COST_CODE_LINK_SET)


def _manual_link(
    *, actor: Membership, integration: Integration, model: type[WorkerLink | CostCodeLink],
    ours: Worker | CostCode, field: str, remote_id: str, event: str,
) -> WorkerLink | CostCodeLink | None:
    """The one write path of links set by hand (workers, cost codes). Call inside a
    transaction, with `ours` read through the caller's organization."""
    integration = access_integration(actor, integration.pk)
    remote_field = f"remote_{field}_id"
    existing = model.objects.select_for_update().filter(integration=integration,
                                                        **{field: ours}).first()
    before = _link_label(getattr(existing, remote_field, ""), getattr(existing, "matched_by", ""))
    if not remote_id:
        model.objects.filter(integration=integration, **{field: ours}).delete()
        link = None
    else:
        link, _ = model.objects.update_or_create(
            integration=integration, **{field: ours},
            defaults={"organization_id": actor.organization_id, remote_field: remote_id,
                      "matched_by": MatchField.MANUAL},
        )
    after = _link_label(remote_id, MatchField.MANUAL if remote_id else "")
    if after != before:
        audit.record(integration=integration, actor=actor.user, event=event,
                     subject=str(ours), changes=[audit.Change("Linked to", before, after)])
    return link


def _link_label(remote_id: str, matched_by: str) -> str:
    if not remote_id:
        return "—"
    if matched_by == MatchField.MANUAL:
        return f"{remote_id} (by hand)"
    return f"{remote_id} (matched by {MatchField(matched_by).label.lower()})"
