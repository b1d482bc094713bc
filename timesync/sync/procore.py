"""Connecting a Procore integration: a service account's client credentials connect at once; the
authorization code grant sends an admin to Procore and takes them back at our callback.

The callback's `state` is what stops a forged or replayed callback from attaching someone
else's Procore company to this integration (or this company to someone else's). It is random,
kept only as a digest in the admin's session (so bound to that browser) beside the integration
it was made for, used once (taken out of the session before anything else happens) and
expires after AUTHORIZATION_MAX_AGE. Procore's redirect URI is one fixed address of ours: the
state, not the URL, says which integration comes back.

As everywhere: no remote call inside a transaction. The token and the company check run
first; the tokens are stored, the integration marked connected and the audit written after,
in one short transaction.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, MutableMapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from django.conf import settings as django_settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from connectors.base import ConnectorError, PermanentError
from connectors.procore import connect, oauth
from connectors.procore.client import ProcoreClient, ProcoreConnector
from timesync import roles
from timesync.models import (
    AuditEvent,
    Integration,
    IntegrationKind,
    Membership,
    User,
)
from timesync.sync import audit, procore_receive, tokens
from timesync.sync.remotes import connector_for, remote_address_policy, settings_spec
from timesync.sync.selectors import access_integration

AUTHORIZATION_MAX_AGE = 600  # seconds an admin has to grant access at Procore
SESSION_KEY = "procore_authorizations"
MAX_PENDING = 5  # authorizations one session may have under way (tabs), the oldest dropped
CLIENT_CREDENTIALS = "client_credentials"


class AuthorizationRefused(Exception):
    """The callback cannot be trusted or did not work; str() says what to do."""


@dataclass(frozen=True)
class ProcoreGrant:
    """What connecting obtained, before anything is stored."""

    tokens: oauth.TokenGrant
    company_name: str


def procore_settings(integration: Integration) -> Any:
    """The integration's settings with Procore's defaults (the production hosts)."""
    return settings_spec(IntegrationKind.PROCORE).model_validate(integration.settings or {})


def uses_client_credentials(integration: Integration) -> bool:
    return procore_settings(integration).grant == CLIENT_CREDENTIALS


def redirect_uri() -> str:
    """The one callback address registered with the Procore app."""
    return django_settings.SITE_URL.rstrip("/") + reverse("procore_callback")


def procore_grant_fetch(integration: Integration, *, code: str | None = None) -> ProcoreGrant:
    """Get tokens (the client credentials, or the code an admin brought back) and check that
    the company is there for the app. Calls Procore: never inside a transaction. Raises the
    connector's errors: `connect.ConnectRefused` says which check failed."""
    client = tokens.oauth_client_for(integration)
    if code is None:
        grant = oauth.client_credentials(client)
    else:
        grant = oauth.exchange_code(client, code=code, redirect_uri=redirect_uri())
    spec = procore_settings(integration)
    if not spec.company_id:
        raise PermanentError("Give the Procore company ID (Procore's Company Settings show it).")
    name = connect.company_check(api_base_url=spec.api_base_url, access_token=grant.access_token,
                                 company_id=str(spec.company_id),
                                 policy=remote_address_policy())
    return ProcoreGrant(tokens=grant, company_name=name)


def procore_connected(*, actor: User | None, integration: Integration, grant: ProcoreGrant,
                      note: str) -> Integration:
    """Keep what connecting obtained: the tokens, the company's name as Procore spells it, and
    the integration connected (a "reconnect needed" cleared). One transaction, with its audit
    entry."""
    with transaction.atomic():
        current = Integration.objects.select_for_update().get(pk=integration.pk)
        tokens.procore_tokens_store(integration=current, grant=grant.tokens)
        current.settings = {**(current.settings or {}), "company_name": grant.company_name}
        current.is_connected = True
        current.reconnect_reason = ""
        current.save()
        audit.record(integration=current, actor=actor, event=AuditEvent.CONNECTED,
                     subject=current.name, note=note)
        # The hook at Procore once the tokens are committed (its calls need them).
        transaction.on_commit(
            lambda: procore_receive.procore_receiving_enable(integration=current))
    # After the commit (it calls Procore): what the admin must still set up in Procore.
    procore_prerequisites_store(integration=current)
    current.refresh_from_db()
    return current


# --- The prerequisites (ExakTime's checklist) -----------------------------------------------

# A day long past: reading the company's entries of it proves the Timecard tool answers for
# this app, in one request whatever the company's size.
_PROBE_DAY = date(2000, 1, 3)
_TIME_TYPES = ("REG", "OT", "DT")  # what our regular, overtime and double time are sent as


@dataclass(frozen=True)
class Prerequisite:
    label: str
    ok: bool
    detail: str


def procore_prerequisites_read(integration: Integration,
                               connector: ProcoreConnector | None = None) -> list[Prerequisite]:
    """One line per thing Procore must have for a sync to work, each checked on its own (one
    missing permission does not hide the others). Calls Procore: never inside a
    transaction."""
    connector = connector or connector_for(integration)
    if not isinstance(connector, ProcoreConnector):
        connector.close()
        raise PermanentError(f"{integration.name} is not a Procore integration.")
    client = connector.client
    try:
        return [
            _line("Timecard tool reachable", lambda: _timecards(client)),
            _line("Projects visible to the app", lambda: _counted(
                client.list_projects(), "project", "No project is visible to the app: add the "
                "app's service account to the projects' directories.")),
            _line("People marked as employees", lambda: _counted(
                client.list_people(employees_only=True), "employee", "No person is marked "
                "as an employee: tick Is Employee in the company directory.")),
            _line("Time types present", lambda: _time_types(client.list_time_types())),
        ]
    finally:
        connector.close()


def procore_prerequisites_store(*, integration: Integration,
                                connector: ProcoreConnector | None = None) -> list[Prerequisite]:
    """Check the prerequisites now and keep the answer for the integration's page."""
    try:
        lines = procore_prerequisites_read(integration, connector)
    except ConnectorError as error:  # no connector at all (not connected, no company)
        lines = [Prerequisite(label="Connected to Procore", ok=False, detail=str(error))]
    Integration.objects.filter(pk=integration.pk).update(
        prerequisites=[asdict(line) for line in lines],
        prerequisites_checked_at=timezone.now())
    return lines


def procore_prerequisites_check(*, actor: Membership, integration: Integration
                                ) -> list[Prerequisite]:
    """Check on demand (the integration's page, the API)."""
    integration = access_integration(actor, integration.pk, connected=True)
    roles.require_integration_manager(actor)
    _require_procore(integration)
    return procore_prerequisites_store(integration=integration)


def _line(label: str, check: Callable[[], str]) -> Prerequisite:
    try:
        detail = check()
    except _Missing as missing:
        return Prerequisite(label=label, ok=False, detail=str(missing))
    except ConnectorError as error:
        return Prerequisite(label=label, ok=False, detail=str(error)[:500])
    return Prerequisite(label=label, ok=True, detail=detail)


class _Missing(Exception):
    pass


def _timecards(client: ProcoreClient) -> str:
    client.list_company_entries(start_date=_PROBE_DAY, end_date=_PROBE_DAY)
    return "The app can read the company's timecard entries."


def _counted(rows: list[Any], noun: str, missing: str) -> str:
    if not rows:
        raise _Missing(missing)
    return f"{len(rows)} {noun}{'' if len(rows) == 1 else 's'}."


def _time_types(rows: list[dict[str, Any]]) -> str:
    present = {str(row.get("abbreviated_time_type") or "") for row in rows}
    absent = [name for name in _TIME_TYPES if name not in present]
    if absent:
        raise _Missing(f"Procore has no {', '.join(absent)} time type: add it in the company's "
                       "Timesheets settings.")
    return ", ".join(_TIME_TYPES) + "."


def procore_connect_again(*, actor: Membership, integration: Integration) -> Integration:
    """Connect a client credentials integration again (after "reconnect needed", say)."""
    integration = access_integration(actor, integration.pk)
    roles.require_integration_manager(actor)
    _require_procore(integration)
    grant = procore_grant_fetch(integration)
    return procore_connected(actor=actor.user, integration=integration, grant=grant,
                             note=f"Connected to Procore company {grant.company_name} "
                                  "(client credentials).")


# --- The authorization code grant: out to Procore and back ----------------------------------


def procore_authorization_begin(*, actor: Membership, integration: Integration,
                                session: MutableMapping[str, Any]) -> str:
    """The Procore address to send the admin to; the state it carries is kept in `session`
    (the admin's), bound to this integration, for one use within AUTHORIZATION_MAX_AGE."""
    integration = access_integration(actor, integration.pk)
    roles.require_integration_manager(actor)
    _require_procore(integration)
    client = tokens.oauth_client_for(integration)
    state = secrets.token_urlsafe(32)
    pending = {digest: entry for digest, entry in dict(session.get(SESSION_KEY) or {}).items()
               if entry.get("expires_at", 0) > time.time()}
    pending[_digest(state)] = {"integration_id": integration.pk,
                               "organization_id": integration.organization_id,
                               "user_id": actor.user_id,
                               "expires_at": time.time() + AUTHORIZATION_MAX_AGE}
    newest = sorted(pending.items(), key=lambda item: item[1]["expires_at"])[-MAX_PENDING:]
    session[SESSION_KEY] = dict(newest)
    return oauth.authorize_url(client.login_base_url, client.client_id, redirect_uri(), state)


def procore_authorization_finish(
    *, user: User, session: MutableMapping[str, Any], state: str, code: str, error: str = "",
) -> Integration:
    """Take the admin back from Procore: the state is checked (and spent) before anything
    else; then the code is exchanged, the company checked and the tokens kept."""
    pending = dict(session.get(SESSION_KEY) or {})
    entry = pending.pop(_digest(state), None) if state else None
    session[SESSION_KEY] = pending  # spent, whatever happens next
    if entry is None or entry["expires_at"] <= time.time() or entry["user_id"] != user.pk:
        raise AuthorizationRefused(
            "This answer from Procore does not match a connection started in this browser, or "
            "it was already used or has expired. Nothing was changed: start again from the "
            "integration's page with Connect to Procore.")
    membership = Membership.objects.filter(
        user=user, organization_id=entry["organization_id"], is_active=True,
    ).select_related("organization").first()
    if membership is None or not roles.can_manage_integrations(membership):
        raise AuthorizationRefused("Only an admin of the organization can connect Procore.")
    integration = access_integration(membership, entry["integration_id"])
    if error:
        raise AuthorizationRefused(
            f"Procore did not grant access ({error[:100]}): nothing was connected. Connect "
            "again and choose Allow at Procore.")
    if not code:
        raise AuthorizationRefused("Procore sent no authorization code: connect again.")
    try:
        grant = procore_grant_fetch(integration, code=code)
    except ConnectorError as failure:
        raise AuthorizationRefused(str(failure)) from failure
    return procore_connected(actor=user, integration=integration, grant=grant,
                             note=f"Connected to Procore company {grant.company_name} "
                                  "(authorized at Procore).")


def _require_procore(integration: Integration) -> None:
    if integration.kind != IntegrationKind.PROCORE:
        raise PermanentError(f"{integration.name} is not a Procore integration.")


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()
