"""The QuickBooks Web Connector's side of Timesync: its account (user name, password, .qwc file)
and its sessions (tickets), one SOAP call at a time (connectors/quickbooks/CONTRACT.md).

`/qbwc/` is one endpoint for every organization: the user name says whose Web Connector is
calling, the password proves it, and from then on the ticket alone binds every call to exactly
one organization and integration. A ticket is random, kept only as a digest, expires, and ends
at closeConnection; a ticket that is unknown, expired, closed or belongs to another integration
gets nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from connectors.quickbooks import qwc
from connectors.quickbooks.qbxml import QbxmlError
from connectors.safe_xml import XMLRejected
from timesync import roles
from timesync.models import (
    AuditEvent,
    Integration,
    IntegrationKind,
    Membership,
    SyncRun,
    SyncState,
    WebConnectorAccount,
    WebConnectorSession,
)
from timesync.sync import audit
from timesync.sync import web_connector_trips as trips
from timesync.sync.selectors import access_integration

SERVER_VERSION = "Timesync 1.0"
# What authenticate answers besides a ticket (the Web Connector's own words).
NOT_VALID_USER = "nvu"
NOTHING_TO_DO = "none"
BUSY = "busy"
# Wrong passwords for one user name, or from one address, before that user name or address is
# paused (django-axes' numbers for people signing in, for the same reasons).
FAILURE_LIMIT = 10
FAILURE_WINDOW = timedelta(minutes=15)
PASSWORD_BYTES = 18  # 24 characters of URL-safe text: typed once into the Web Connector
# Longer than any call takes (a trip of blocks_per_trip operations): a lock left by a process
# that died frees itself.
SESSION_CALL_LOCK_SECONDS = 300


@dataclass(frozen=True)
class WebConnectorSignIn:
    """What an admin copies into the Web Connector: the user name, and the password shown once."""

    account: WebConnectorAccount
    password: str


# --- The account -------------------------------------------------------------------------------


def web_connector_account_create(*, integration: Integration,
                                 password: str | None = None) -> WebConnectorSignIn:
    """The Web Connector's sign-in for a QuickBooks integration: a user name of its own, a
    password (the admin's, or a generated one) stored hashed, and the GUIDs of its .qwc file."""
    if integration.kind != IntegrationKind.QUICKBOOKS_DESKTOP:
        raise ValueError("only a QuickBooks Desktop integration has a Web Connector")
    password = password or secrets.token_urlsafe(PASSWORD_BYTES)
    with transaction.atomic():
        account = WebConnectorAccount.objects.create(
            organization_id=integration.organization_id, integration=integration,
            user_name=_user_name(integration), password_hash=make_password(password),
            owner_id=_guid(), file_id=_guid(),
        )
    return WebConnectorSignIn(account=account, password=password)


def web_connector_password_replace(*, actor: Membership,
                                   integration_id: int) -> WebConnectorSignIn:
    """A new password, shown once: the old one stops working and open sessions end."""
    roles.require_integration_manager(actor)
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    now = timezone.now()
    with transaction.atomic():
        integration = access_integration(actor, integration_id, for_update=True)
        account = WebConnectorAccount.objects.select_for_update().get(integration=integration)
        account.password_hash = make_password(password)
        account.password_changed_at = now
        account.save(update_fields=["password_hash", "password_changed_at"])
        WebConnectorSession.objects.filter(integration=integration, closed_at=None).update(
            closed_at=now, last_error="The Web Connector's password was replaced.")
        audit.record(integration=integration, actor=actor.user,
                     event=AuditEvent.CREDENTIALS_REPLACED, subject="Web Connector password",
                     note="A new Web Connector password was made; the old one stopped working.")
    return WebConnectorSignIn(account=account, password=password)


def qwc_file(*, integration: Integration, service_url: str, support_url: str) -> bytes:
    """The .qwc file for the integration's Web Connector."""
    account = WebConnectorAccount.objects.get(integration=integration)
    minutes = settings.QBWC_RUN_EVERY_MINUTES
    return qwc.render(qwc.QwcFile(
        app_name=f"Timesync ({integration.organization.name}: {integration.name})"[:100],
        app_id="", app_url=service_url, app_support=support_url,
        app_description="Sends approved hours from Timesync to QuickBooks time tracking.",
        user_name=account.user_name, owner_id=account.owner_id, file_id=account.file_id,
        run_every_minutes=minutes or None,
    ))


def _user_name(integration: Integration) -> str:
    # Readable (the admin types it nowhere: it comes in the .qwc file) and never reused.
    return f"{integration.organization.slug[:40]}-qb-{integration.pk}"


def _guid() -> str:
    return "{" + str(uuid.uuid4()).upper() + "}"


# --- Signing in --------------------------------------------------------------------------------


def qbwc_authenticate(*, user_name: str, password: str, address: str = "",
                      now: datetime | None = None) -> list[str]:
    """authenticate: `[ticket, ""]` (work to do, in the open company file), or `["", "nvu"]`,
    `["", "none"]`, `["", "busy"]`. The same time and answer for an unknown user name as for a
    wrong password."""
    now = now or timezone.now()
    keys = _failure_keys(user_name, address)
    if any((cache.get(key) or 0) >= FAILURE_LIMIT for key in keys):
        return ["", NOT_VALID_USER]
    account = (WebConnectorAccount.objects.select_related("integration")
               .filter(user_name=user_name).first())
    valid = check_password(password, account.password_hash if account else _dummy_hash())
    if account is None or not valid or not account.integration.is_connected:
        _count_failure(keys)
        return ["", NOT_VALID_USER]
    integration = account.integration
    with transaction.atomic():
        # The integration row orders two Web Connectors signing in at once: one gets the work.
        Integration.objects.select_for_update().filter(pk=integration.pk).first()
        WebConnectorAccount.objects.filter(pk=account.pk).update(last_contact_at=now)
        if _live_session(integration, now) is not None:
            return ["", BUSY]
        _end_quiet_sessions(integration, now)
        if not _has_work(integration):
            return ["", NOTHING_TO_DO]
        ticket = secrets.token_urlsafe(32)
        WebConnectorSession.objects.create(
            organization_id=integration.organization_id, integration=integration,
            ticket_digest=_digest(ticket), created_at=now, last_seen_at=now,
            expires_at=now + timedelta(seconds=settings.QBWC_TICKET_MAX_AGE_SECONDS),
        )
    # "" : use the company file open in QuickBooks (checked against the one seen first at
    # sendRequestXML, where the Web Connector tells us which it is).
    return [ticket, ""]


def _end_quiet_sessions(integration: Integration, now: datetime) -> None:
    """Sessions that stopped calling (a Web Connector closed, a lost connection) end here: their
    runs wait again, and their tickets are worth nothing from now on."""
    for session in WebConnectorSession.objects.filter(integration=integration, closed_at=None):
        _fail_session(session, session.last_error or "The Web Connector stopped calling.")
        _close(session)


def _has_work(integration: Integration) -> bool:
    return (SyncRun.objects.filter(integration=integration, state=SyncState.WAITING).exists()
            or trips.catalog_due(integration))


def _live_session(integration: Integration, now: datetime) -> WebConnectorSession | None:
    idle = timedelta(seconds=settings.QBWC_SESSION_IDLE_SECONDS)
    return WebConnectorSession.objects.filter(
        integration=integration, closed_at=None, expires_at__gt=now,
        last_seen_at__gt=now - idle).first()


def _failure_keys(user_name: str, address: str) -> list[str]:
    return [f"qbwc-failures:user:{_digest(user_name)}", f"qbwc-failures:addr:{_digest(address)}"]


def _count_failure(keys: list[str]) -> None:
    for key in keys:
        cache.add(key, 0, timeout=int(FAILURE_WINDOW.total_seconds()))
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=int(FAILURE_WINDOW.total_seconds()))


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A real hash of nothing anyone knows: checking a password against it costs what checking
    a real one does, so an unknown user name cannot be told from a wrong password by time."""
    return make_password(secrets.token_urlsafe(16))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- The session -------------------------------------------------------------------------------


def session_for(ticket: str, *, now: datetime | None = None) -> WebConnectorSession | None:
    """The live session a ticket belongs to, its last call noted; None for any other ticket."""
    if not ticket:
        return None
    now = now or timezone.now()
    session = (WebConnectorSession.objects.select_related("integration")
               .filter(ticket_digest=_digest(ticket), closed_at=None, expires_at__gt=now)
               .first())
    if session is None:
        return None
    WebConnectorSession.objects.filter(pk=session.pk).update(last_seen_at=now)
    return session


def qbwc_send_request(*, ticket: str, company_file: str) -> str:
    """sendRequestXML: the next qbXML message set, or "" when there is nothing more (the Web
    Connector then asks getLastError and closes)."""
    session = session_for(ticket)
    if session is None:
        return ""
    refusal = _company_file_refusal(session, company_file)
    if refusal:
        _fail_session(session, refusal)
        _give_back_all(session)
        return ""
    with _one_call_at_a_time(session) as mine:
        return trips.next_message_set(session) if mine else ""


@contextmanager
def _one_call_at_a_time(session: WebConnectorSession) -> Iterator[bool]:
    """The Web Connector calls one at a time; anyone else holding the ticket and calling at the
    same moment gets nothing (False) rather than a second trip built from the same state. A
    lock in the cache (Redis in production), released at the end of the call, or after
    SESSION_CALL_LOCK_SECONDS should its process die."""
    key = f"qbwc-session-call:{session.pk}"
    mine = cache.add(key, 1, timeout=SESSION_CALL_LOCK_SECONDS)
    try:
        yield mine
    finally:
        if mine:
            cache.delete(key)


def _company_file_refusal(session: WebConnectorSession, company_file: str) -> str:
    """The company file seen first is this integration's; another one is refused, so a Web
    Connector pointed at the wrong QuickBooks company never receives its hours."""
    with transaction.atomic():
        account = WebConnectorAccount.objects.select_for_update().get(
            integration=session.integration)
        if not account.company_file:
            account.company_file = company_file
            account.save(update_fields=["company_file"])
        elif not _same_file(account.company_file, company_file):
            return (f"This Web Connector opened the company file {company_file}, but "
                    f"{session.integration.name} sends to {account.company_file}. Open that "
                    "company file in QuickBooks, or ask an admin to connect the integration "
                    "again for the new file.")
    WebConnectorSession.objects.filter(pk=session.pk).update(company_file=company_file)
    return ""


def _same_file(expected: str, given: str) -> bool:
    # Windows paths: one file whatever the case or the slashes.
    def normal(path: str) -> str:
        return path.strip().replace("/", "\\").lower()

    return normal(expected) == normal(given)


def _fail_session(session: WebConnectorSession, message: str) -> None:
    WebConnectorSession.objects.filter(pk=session.pk).update(last_error=message)


def qbwc_receive_response(*, ticket: str, response: str, hresult: str, message: str) -> int:
    """receiveResponseXML: how far the session is, in percent (100: done), or -1 with an error
    kept for getLastError. QuickBooks' answers go to the engine block by block."""
    session = session_for(ticket)
    if session is None:
        return -1
    if hresult:
        # QuickBooks could not run the message set: what was in it stays unknown (settled by
        # a lookup next session), never failed and never sent again blindly.
        _fail_session(session, f"QuickBooks could not process the request: {message} "
                               f"({hresult}).")
        _give_back_all(session)
        return -1
    try:
        with _one_call_at_a_time(session) as mine:
            return trips.take_responses(session, response) if mine else -1
    except (QbxmlError, XMLRejected) as error:
        _fail_session(session, f"QuickBooks' answer could not be read ({error}); what was sent "
                               "is checked in QuickBooks at the next session.")
        _give_back_all(session)
        return -1


def qbwc_connection_error(*, ticket: str, hresult: str, message: str) -> str:
    """connectionError: the Web Connector could not open QuickBooks. What was sent stays
    unknown (never failed, never sent again blindly): the next session settles it. "done"."""
    session = session_for(ticket)
    if session is not None:
        _fail_session(session, f"The Web Connector could not reach QuickBooks: {message} "
                               f"({hresult}).")
        _close(session)
    return "done"


def qbwc_last_error(*, ticket: str) -> str:
    session = (WebConnectorSession.objects.filter(ticket_digest=_digest(ticket)).first()
               if ticket else None)
    if session is None:
        return "The session is not known or has expired: run the Web Connector again."
    return session.last_error or "Nothing to report."


def qbwc_close(*, ticket: str) -> str:
    session = session_for(ticket)
    if session is None:
        return "The session had already ended."
    _close(session)
    return session.last_error or "Timesync: done."


def _close(session: WebConnectorSession) -> None:
    _give_back_all(session)
    WebConnectorSession.objects.filter(pk=session.pk, closed_at=None).update(
        closed_at=timezone.now())


def _give_back_all(session: WebConnectorSession) -> None:
    """Runs the session held and did not finish wait for the next session."""
    session.refresh_from_db(fields=["work"])
    trips.give_back(session)
