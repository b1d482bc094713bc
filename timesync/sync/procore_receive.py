"""Receiving time cards from Procore: the hook we make there, the webhook events it posts, the
sweep that catches what webhooks missed, and applying an entry to our shifts.

Procore's webhooks carry no data and no signature, repeat, arrive out of order or not at all.
So an event is only a hint: it is stored once (by Procore's event id), and processing reads the
entry's current state by id and makes our shift match it. Applying the same state twice, or an
older hint after a newer one, changes nothing. The sweep (filters[updated_at]) feeds the same
path. No remote call runs inside a transaction.

Echoes: an event our own app caused (metadata.source_application_id) is left out, and an entry
whose content equals what our shift already says changes nothing. Whatever is applied is written
to the ledger as what Procore holds, so the next export finds the shift unchanged and sends
nothing back.
"""

from __future__ import annotations

import hmac
import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from connectors.base import (
    ConnectorError,
    RemoteEntry,
    RemoteNotFound,
    TimecardEntry,
    TransientError,
)
from connectors.procore import mapping
from connectors.procore.client import WEBHOOK_RESOURCE, ProcoreConnector
from connectors.procore.settings import ProcoreSettings
from timesync import crypto, roles
from timesync import services as shift_services
from timesync.models import (
    ApprovalState,
    AuditEvent,
    CatalogItem,
    CatalogKind,
    CostCode,
    CostCodeLink,
    ExternalRecord,
    InboundEvent,
    InboundSource,
    InboundState,
    Integration,
    IntegrationKind,
    MatchField,
    Membership,
    ProcoreReceiver,
    ProjectLink,
    RecordState,
    Role,
    Shift,
    TimeType,
    User,
    Worker,
    WorkerLink,
)
from timesync.sync import audit, planning
from timesync.sync.remotes import connector_for, settings_spec
from timesync.sync.selectors import access_integration

logger = logging.getLogger(__name__)

EVENT_TYPES = ("create", "update", "delete")
HOOK_NAMESPACE = "timesync"
MAX_BODY_BYTES = 16 * 1024  # a webhook event is a few hundred bytes; more is not Procore
SWEEP_FIRST_LOOKBACK = timedelta(days=1)
# The sweep reads again a little before its bookmark: an entry saved as the last sweep read
# may carry an updated_at just before it. Its dedupe key makes the overlap harmless.
SWEEP_OVERLAP = timedelta(minutes=2)
# Pending events whose task was lost, taken up by one sweep (the next takes the rest).
LOST_EVENTS_PER_SWEEP = 500
SYSTEM_USER_EMAIL = "procore@system.timesync.invalid"
ACTIVITY_SIZE = 20
DEFAULT_START = time(8, 0)  # where a total-hours entry's shift starts on a new day
# Procore asking us to wait (429, 503, no answer) is not a failure: the event stays pending
# and is tried again after Retry-After, or a backoff, at most this many times in all.
MAX_WAIT_ATTEMPTS = 6
RETRY_BASE_SECONDS = 15
# Far under the broker's visibility timeout (an hour): a longer countdown is delivered twice.
RETRY_MAX_SECONDS = 15 * 60
# A pending message not taken this long after it was due lost its task (a worker killed, the
# broker emptied): the sweep's beat queues it again. Processing twice is harmless.
PENDING_LOST_AFTER = timedelta(minutes=10)


class WebhookRefused(Exception):
    """The request is not Procore's for this integration (status: 401, 404 or 413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class NotApplicable(Exception):
    """The entry cannot be applied as it stands; str() says why, for the activity view."""


class Unsettled(Exception):
    """Not yet: the event stays pending and a later sweep applies it; str() says why."""


# --- Settings and the hook at Procore -----------------------------------------------------


def receiving_settings(integration: Integration) -> ProcoreSettings | None:
    """The integration's Procore settings when it receives, else None."""
    if integration.kind != IntegrationKind.PROCORE:
        return None
    spec = settings_spec(IntegrationKind.PROCORE).model_validate(integration.settings or {})
    return spec if spec.receives else None


def webhook_url(receiver: ProcoreReceiver) -> str:
    """Where Procore posts: our public address (SITE_URL, as the OAuth callback)."""
    return django_settings.SITE_URL.rstrip("/") + reverse(
        "procore_webhook", kwargs={"public_id": receiver.public_id})


def procore_receiving_enable(*, integration: Integration) -> ProcoreReceiver | None:
    """Make (or keep) the company hook and its three triggers at Procore, with a new random
    secret in destination_headers.Authorization. Call after connecting, and when the direction
    gains receive. Calls Procore: not inside a transaction. A failure is kept on the receiver
    (and the sweep still runs), not raised: connecting worked."""
    if receiving_settings(integration) is None or not integration.is_connected:
        return None
    receiver, _ = ProcoreReceiver.objects.get_or_create(
        integration=integration, defaults={"organization_id": integration.organization_id})
    if receiver.hook_id is not None:
        return receiver
    secret = secrets.token_urlsafe(32)
    connector = connector_for(integration)
    assert isinstance(connector, ProcoreConnector)
    hook_id: int | None = None
    try:
        hook = connector.client.create_hook(
            destination_url=webhook_url(receiver), namespace=HOOK_NAMESPACE,
            destination_headers={"Authorization": secret})
        hook_id = int(hook["id"])
        trigger_ids = [int(connector.client.create_trigger(hook_id, event_type=kind)["id"])
                       for kind in EVENT_TYPES]
    except (ConnectorError, KeyError, TypeError, ValueError) as error:
        if hook_id is not None:
            _best_effort(lambda: connector.client.delete_hook(hook_id))
        ProcoreReceiver.objects.filter(pk=receiver.pk).update(
            hook_error=f"Procore refused the webhook ({error}); the sweep still brings changes "
                       "in, more slowly.")
        receiver.refresh_from_db()
        return receiver
    finally:
        connector.close()
    ProcoreReceiver.objects.filter(pk=receiver.pk).update(
        hook_id=hook_id, trigger_ids=trigger_ids, hook_error="",
        secret_encrypted=crypto.encrypt_json({"secret": secret}))
    receiver.refresh_from_db()
    return receiver


def procore_hook_delete(*, integration: Integration) -> bool:
    """Delete our hook at Procore, best effort (call before the tokens go, outside any
    transaction): a Procore that cannot be reached must not keep an admin from disconnecting,
    and without the secret its deliveries are refused anyway. True when deleted."""
    receiver = ProcoreReceiver.objects.filter(integration=integration).first()
    if receiver is None or receiver.hook_id is None:
        return False
    hook_id = receiver.hook_id
    try:
        connector = connector_for(integration)
    except ConnectorError:
        return False
    assert isinstance(connector, ProcoreConnector)
    try:
        connector.client.delete_hook(hook_id)  # Procore deletes its triggers with it
    except RemoteNotFound:
        pass  # deleted at Procore already
    except ConnectorError:
        logger.warning("Procore hook %s not deleted; its deliveries will be refused.", hook_id,
                       exc_info=True)
        return False
    finally:
        connector.close()
    ProcoreReceiver.objects.filter(pk=receiver.pk).update(hook_id=None, trigger_ids=[])
    return True


def procore_receiving_forget(*, integration: Integration) -> bool:
    """Remove the receiver and its secret (inside the disconnect's transaction): any delivery
    still on its way is refused from now on. True when there was one."""
    return ProcoreReceiver.objects.filter(integration=integration).delete()[0] > 0


def procore_receiving_sync(*, integration: Integration) -> None:
    """After a settings change: a hook when the integration receives, none when it does not."""
    if integration.kind != IntegrationKind.PROCORE:
        return
    if receiving_settings(integration) is not None and integration.is_connected:
        procore_receiving_enable(integration=integration)
    elif procore_hook_delete(integration=integration):
        ProcoreReceiver.objects.filter(integration=integration).update(secret_encrypted="")


def _best_effort(call: Callable[[], Any]) -> None:
    try:
        call()
    except ConnectorError:
        logger.warning("Procore hook clean-up failed; Procore stops after failed deliveries.",
                       exc_info=True)


# --- The webhook ----------------------------------------------------------------------------


def webhook_event_receive(*, public_id: str, authorization: str, body: dict[str, Any]
                          ) -> InboundEvent | None:
    """Authenticate and store one delivery. Returns the new event (to process after the
    commit), or None for a repeat or an event that is ours. Raises WebhookRefused."""
    receiver = (ProcoreReceiver.objects.select_related("integration")
                .filter(public_id=public_id).first())
    expected = crypto.decrypt_json(receiver.secret_encrypted)["secret"] \
        if receiver is not None and receiver.secret_encrypted else ""
    # Compared even when there is no receiver, so timing says nothing about which exist.
    if not hmac.compare_digest(authorization.encode(), (expected or "\x00" * 43).encode()) \
            or receiver is None or not expected:
        raise WebhookRefused(401, "Not Procore, or not for this address.")
    integration = receiver.integration
    spec = receiving_settings(integration)
    if spec is None:
        return None  # receiving turned off since: Procore stops after failed deliveries
    event_id, resource_id = body.get("id"), body.get("resource_id")
    if event_id in (None, "") or resource_id in (None, "") \
            or body.get("resource_name") != WEBHOOK_RESOURCE:
        raise WebhookRefused(400, "Not a Timecard Entries event.")
    source = (body.get("metadata") or {}).get("source_application_id")
    ours = bool(spec.application_id) and str(source) == spec.application_id
    return _event_store(
        integration=integration, key=f"webhook-{event_id}", source=InboundSource.WEBHOOK,
        event_type=str(body.get("event_type") or "")[:20], resource_id=str(resource_id)[:40],
        payload=body, ours=ours)


def _event_store(*, integration: Integration, key: str, source: str, event_type: str,
                 resource_id: str, payload: dict[str, Any], ours: bool = False
                 ) -> InboundEvent | None:
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                organization_id=integration.organization_id, integration=integration,
                event_key=key[:120], source=source, event_type=event_type,
                resource_id=resource_id, payload=payload,
                state=InboundState.IGNORED if ours else InboundState.PENDING,
                outcome="Our own change, coming back: nothing to do." if ours else "",
                processed_at=timezone.now() if ours else None)
    except IntegrityError:
        return None  # a repeat delivery: the first one is the one processed
    return None if ours else event


# --- Applying an entry ----------------------------------------------------------------------


def system_actor(integration: Integration) -> Membership:
    """Who changes shifts on Procore's behalf: history and audit say "From Procore". An
    unsaved admin membership of the tenant: it passes the same rules as a person would."""
    user, _ = User.objects.get_or_create(
        email=SYSTEM_USER_EMAIL, defaults={"full_name": "From Procore", "is_active": False})
    return Membership(organization_id=integration.organization_id, user=user, role=Role.ADMIN)


def inbound_event_process(*, event_id: int) -> InboundEvent | None:
    """Apply one stored event: read the entry's current state at Procore and make our shift
    match. Safe to run twice. A failure is kept on the event with its reason (retryable);
    Procore asking us to wait leaves it pending, tried again later (`_wait_or_fail`)."""
    event = InboundEvent.objects.select_related("integration__organization").filter(
        pk=event_id, state__in=[InboundState.PENDING, InboundState.FAILED]).first()
    if event is None:
        return None
    integration = event.integration
    InboundEvent.objects.filter(pk=event.pk).update(attempts=event.attempts + 1,
                                                    next_attempt_at=None)
    try:
        spec = receiving_settings(integration)
        if spec is None or not integration.is_connected:
            raise NotApplicable(f"{integration.name} does not receive from Procore now.")
        # The sweep's first try uses the entry it just listed; a webhook (which carries no
        # data) and any retry read the entry's current state.
        listed = event.payload.get("entry") if event.source == InboundSource.SWEEP \
            and event.attempts == 0 else None
        data = _fetch(integration, event.resource_id) if listed is None else listed
        deleted_key = None
        if data is not None and data.get("deleted_at"):
            deleted_key, data = data.get("origin_data"), None
        if data is None and deleted_key is None:
            deleted_key = _deleted_entry_key(integration, event)
        # Read before any lock: who the person is, when no worker of ours is linked to them.
        person = _person_if_needed(integration, spec, data) if data is not None else None
        stamp = parse_datetime(str(data.get("updated_at") or "")) if data else None
        receiver, _ = ProcoreReceiver.objects.get_or_create(
            integration=integration, defaults={"organization_id": integration.organization_id})
        with transaction.atomic():
            # One integration's entries are applied one at a time: a webhook and the sweep (or
            # a repeated task) reaching the same new entry create one shift, not two, and two
            # entries of one new person create one worker (and one cost code, one project).
            ProcoreReceiver.objects.select_for_update().filter(pk=receiver.pk).first()
            if stamp is not None and InboundEvent.objects.filter(
                    integration=integration, resource_id=event.resource_id,
                    remote_updated_at__gt=stamp).exists():
                state, outcome, shift = InboundState.UNCHANGED, (
                    "An older state of this entry than one already applied: nothing to "
                    "change."), None
            else:
                state, outcome, shift = entry_apply(integration=integration, spec=spec,
                                                    entry_id=event.resource_id, data=data,
                                                    person=person, deleted_key=deleted_key)
            InboundEvent.objects.filter(pk=event.pk).update(
                state=state, outcome=outcome[:500], shift=shift, processed_at=timezone.now(),
                remote_updated_at=stamp, waits=0)
    except Unsettled as waiting:
        state = InboundState.PENDING
        InboundEvent.objects.filter(pk=event.pk).update(state=state, outcome=str(waiting)[:500])
    except TransientError as wait:
        state = _wait_or_fail(event, wait)
    except (NotApplicable, ConnectorError, ValidationError, shift_services.StaleVersion,
            roles.PermissionDenied) as failure:
        state = InboundState.FAILED
        InboundEvent.objects.filter(pk=event.pk).update(
            state=state, outcome=_reason(failure)[:500], processed_at=timezone.now(), waits=0)
    event.refresh_from_db()
    if state == InboundState.FAILED:
        _failure_notify_enqueue(event.pk)
    return event


def _wait_or_fail(event: InboundEvent, wait: TransientError) -> str:
    """Procore is busy (429), under load (503) or out of reach: nothing is wrong with the
    event. It stays pending and is queued again after what Procore asked for (Retry-After),
    or a doubling backoff when it did not say, until MAX_WAIT_ATTEMPTS; then it fails with
    the reason, for an admin to retry. Returns the event's state."""
    waits = event.waits + 1
    if waits >= MAX_WAIT_ATTEMPTS:
        InboundEvent.objects.filter(pk=event.pk).update(
            state=InboundState.FAILED, processed_at=timezone.now(), waits=0, outcome=(
                f"Procore kept asking us to wait ({wait}); gave up after {waits} attempts. "
                "Retry it once Procore answers again.")[:500])
        return InboundState.FAILED
    backoff = RETRY_BASE_SECONDS * 2 ** (waits - 1)
    delay = math.ceil(min(RETRY_MAX_SECONDS, max(backoff, wait.retry_after or 0)))
    InboundEvent.objects.filter(pk=event.pk).update(
        state=InboundState.PENDING, next_attempt_at=timezone.now() + timedelta(seconds=delay),
        waits=waits, outcome=(f"Procore asked us to wait ({wait}); trying again in {delay} s "
                              f"(attempt {waits} of {MAX_WAIT_ATTEMPTS}).")[:500])
    event_pk = event.pk
    transaction.on_commit(lambda: inbound_event_enqueue(event_pk, countdown=delay))
    return InboundState.PENDING


def _reason(failure: Exception) -> str:
    if isinstance(failure, ValidationError):
        messages = failure.message_dict.values() if hasattr(failure, "error_dict") \
            else [failure.messages]
        return "Timesync refused the change: " + " ".join(" ".join(m) for m in messages)
    return str(failure)


def _fetch(integration: Integration, entry_id: str) -> dict[str, Any] | None:
    """The entry as Procore holds it now; None when it is gone (404, or deleted)."""
    connector = connector_for(integration)
    assert isinstance(connector, ProcoreConnector)
    try:
        data = connector.client.show_entry(int(entry_id))
    except RemoteNotFound:
        return None
    finally:
        connector.close()
    if not isinstance(data, dict) or data.get("deleted_at"):
        return None
    return data


@dataclass(frozen=True)
class _Wanted:
    worker_id: int
    project_id: int
    cost_code_id: int | None
    start: datetime
    end: datetime
    break_minutes: int
    time_type: str
    notes: str


@dataclass(frozen=True)
class ProcorePerson:
    """Who a Procore person is, read from the catalog or from Procore (before any lock)."""

    remote_id: str
    name: str
    employee_number: str
    email: str
    is_employee: bool


def _deleted_entry_key(integration: Integration, event: InboundEvent) -> str | None:
    """The key (origin_data) a deleted entry carried, when it may be a create of ours whose
    answer we never had: no record holds its id while one of ours waits to learn its id. Read
    from Procore's list of entries deleted since shortly before the event arrived (a deleted
    entry is not found by id); None otherwise."""
    records = ExternalRecord.objects.filter(integration=integration)
    if not records.filter(state=RecordState.PENDING_CREATE).exists() or records.filter(
            remote_id=event.resource_id).exclude(state=RecordState.DELETED).exists():
        return None
    connector = connector_for(integration)
    assert isinstance(connector, ProcoreConnector)
    try:
        deleted = connector.client.list_company_entries(
            deleted_between=(event.received_at - SWEEP_OVERLAP, timezone.now()))
    finally:
        connector.close()
    return next((str(row.get("origin_data") or "") or None for row in deleted
                 if isinstance(row, dict) and str(row.get("id")) == event.resource_id), None)


def entry_apply(*, integration: Integration, spec: ProcoreSettings, entry_id: str,
                data: dict[str, Any] | None, person: ProcorePerson | None = None,
                deleted_key: str | None = None) -> tuple[str, str, Shift | None]:
    """Make our shift match Procore's entry `data` (None: deleted; `deleted_key`: the key it
    carried, if known). Returns the event's state, its outcome in words, and the shift. Call
    under the receiver's lock: the workers, cost codes and sub-job projects it may create are
    looked up, then created, under it."""
    record = ExternalRecord.objects.select_related("shift").filter(
        integration=integration, remote_id=str(entry_id)).exclude(
        state=RecordState.DELETED).first()
    if data is None and record is None and deleted_key:
        return _unconfirmed_create_deleted(integration, entry_id, deleted_key)
    if data is None:
        if record is None or record.shift.deleted_at is not None:
            return InboundState.UNCHANGED, "Deleted in Procore; nothing of ours to delete.", \
                record.shift if record else None
        actor = system_actor(integration)
        with transaction.atomic():
            shift = shift_services.shift_delete(actor=actor, shift=record.shift)
            ExternalRecord.objects.filter(pk=record.pk).update(
                state=RecordState.DELETED, revision=record.revision + 1,
                shift_version=shift.version)
        return InboundState.APPLIED, f"Deleted {_describe(shift)} (deleted in Procore).", shift

    remote = mapping.procore_to_remote_entry(data)
    if record is None and (remote.idempotency_key or "").startswith(
            planning.key_prefix(integration)):
        # Our own write, never a new shift of Procore's. Read before the ledger learned its
        # id (a lost answer the run is still settling): applied once the run has settled it,
        # as someone may have changed it in Procore meanwhile. Else a leftover of ours (listed
        # before we deleted it, or a duplicate the run's read-back removes).
        if ExternalRecord.objects.filter(integration=integration,
                                         idempotency_key=remote.idempotency_key,
                                         state=RecordState.PENDING_CREATE).exists():
            raise Unsettled("An entry Timesync created that a sync has yet to confirm: "
                            "applied by the sweep once it has.")
        return InboundState.IGNORED, (
            "An entry Timesync wrote (its key is ours) that no shift holds: nothing to do."), \
            None
    shift = record.shift if record is not None and record.shift.deleted_at is None else None
    actor = system_actor(integration)
    created: list[str] = []  # what this entry made of ours, for the outcome
    link = _project_link_for(integration, spec, remote, actor, created)
    if link is None:
        if shift is not None:
            # Our shift came from (or went to) this entry: leaving it as it was, silently,
            # would pay hours Procore now books elsewhere.
            raise NotApplicable(
                f"Procore moved {_describe(shift)} to Procore project "
                f"{remote.project_remote_id}, which is not linked to a project of ours: link "
                "it on the Mappings page (or move the entry back in Procore), then retry.")
        if spec.only_linked_projects:
            return InboundState.IGNORED, (
                f"Procore project {remote.project_remote_id} is not linked to a project of "
                "ours (this integration receives linked projects only)."), None
        raise NotApplicable(
            f"Procore project {remote.project_remote_id} is not linked to a project of ours: "
            "link it on the Mappings page, then retry.")
    worker = _worker_for(integration, spec, remote, person, actor, created)
    cost_code = _cost_code_for(integration, spec, remote, actor, created)
    wanted = _wanted(integration, link, worker.pk, cost_code.pk if cost_code else None,
                     remote, shift)
    classification = (remote.extra.get("classification") or "")[:200]
    fields = {"worker": worker, "project": link.project,
              "cost_code_id": wanted.cost_code_id, "start": wanted.start, "end": wanted.end,
              "break_minutes": wanted.break_minutes, "time_type": wanted.time_type,
              "notes": wanted.notes, "classification": classification}
    with transaction.atomic():
        if shift is None:
            shift = shift_services.shift_create(
                actor=actor, worker=worker, project=link.project, cost_code=cost_code,
                start=wanted.start, end=wanted.end, break_minutes=wanted.break_minutes,
                time_type=wanted.time_type, notes=wanted.notes, classification=classification)
            state, outcome = InboundState.APPLIED, f"Created {_describe(shift)} from Procore."
        else:
            changes = {name: value for name, value in fields.items()
                       if name != "cost_code_id" and getattr(shift, name) != value}
            if shift.cost_code_id != wanted.cost_code_id:
                changes["cost_code"] = cost_code
            if not changes:
                state, outcome = InboundState.UNCHANGED, \
                    f"{_describe(shift)} already says this: nothing to change."
            else:
                shift = shift_services.shift_update(actor=actor, shift=shift, **changes)
                state, outcome = InboundState.APPLIED, \
                    f"Updated {_describe(shift)} from Procore ({', '.join(sorted(changes))})."
        _ledger_received(integration=integration, record=record, shift=shift, link=link,
                         entry_id=str(entry_id))
    if created:
        outcome = f"{outcome} Created for it: {'; '.join(created)}."
    return state, outcome, shift


def _unconfirmed_create_deleted(integration: Integration, entry_id: str, key: str
                                ) -> tuple[str, str, Shift | None]:
    """Procore deleted an entry we created before our sync had its answer (lost, or the
    worker died): the sync would find no entry with its key and create it again, undoing
    the deletion. The deletion is Procore's last word: our shift is deleted, and its record
    says so (the sync, comparing its state, then leaves it alone)."""
    with transaction.atomic():
        record = ExternalRecord.objects.select_for_update().select_related("shift").filter(
            integration=integration, idempotency_key=key,
            state=RecordState.PENDING_CREATE).first()
        if record is None or record.shift.deleted_at is not None:
            return InboundState.UNCHANGED, "Deleted in Procore; nothing of ours to delete.", \
                record.shift if record else None
        shift = shift_services.shift_delete(actor=system_actor(integration), shift=record.shift)
        ExternalRecord.objects.filter(pk=record.pk).update(
            state=RecordState.DELETED, remote_id=str(entry_id), revision=record.revision + 1,
            shift_version=shift.version)
    return InboundState.APPLIED, (f"Deleted {_describe(shift)} (deleted in Procore just after "
                                  "we created it)."), shift


# --- What an entry may create: workers, cost codes, sub-job projects ------------------------


def _person_if_needed(integration: Integration, spec: ProcoreSettings,
                      data: dict[str, Any]) -> ProcorePerson | None:
    """The entry's person when no worker of ours is linked to them and workers may be
    created: from the catalog (the people the last refresh read, all employees), else from
    Procore's list of the company's people. Reads Procore: call outside any transaction."""
    party = data.get("party") if isinstance(data.get("party"), dict) else {}
    remote_id = str(party.get("id") or data.get("party_id") or "")
    if not spec.create_workers or not remote_id.isdigit() or WorkerLink.objects.filter(
            integration=integration, remote_worker_id=remote_id).exists():
        return None
    item = CatalogItem.objects.filter(integration=integration, kind=CatalogKind.WORKER,
                                      remote_id=remote_id).first()
    if item is not None:
        return ProcorePerson(remote_id=remote_id, name=item.name, employee_number=item.code,
                             email=item.email, is_employee=True)
    connector = connector_for(integration)
    assert isinstance(connector, ProcoreConnector)
    try:
        rows = connector.client.list_people()
    finally:
        connector.close()
    for row in rows:
        if isinstance(row, dict) and str(row.get("id")) == remote_id:
            found = mapping.procore_to_remote_worker(row)
            return ProcorePerson(remote_id=remote_id, name=found.name,
                                 employee_number=found.employee_number, email=found.email,
                                 is_employee=bool(row.get("is_employee")))
    return None


def _created(integration: Integration, actor: Membership, what: str, subject: str,
             entry: RemoteEntry, created: list[str]) -> None:
    """Say what an entry created (or linked): in the outcome and the audit trail."""
    created.append(f"{what} {subject}")
    audit.record(integration=integration, actor=actor.user,
                 event=AuditEvent.CREATED_FROM_REMOTE, subject=subject,
                 note=f"{what.capitalize()} from the Procore time card {entry.remote_id} "
                      f"({entry.work_date.isoformat()}).")


def _worker_for(integration: Integration, spec: ProcoreSettings, remote: RemoteEntry,
                person: ProcorePerson | None, actor: Membership, created: list[str]) -> Worker:
    link = WorkerLink.objects.select_related("worker").filter(
        integration=integration, remote_worker_id=remote.worker_remote_id).first()
    if link is not None:
        return link.worker
    name = remote.extra.get("party_name") or (person.name if person else "") or "This person"
    who = f"{name} (Procore person {remote.worker_remote_id}) is not linked to a worker of ours"
    fix = "link them on the Mappings page, then retry."
    if not spec.create_workers:
        raise NotApplicable(f"{who}, and this integration does not create workers: {fix}")
    if person is None:
        raise NotApplicable(f"{who}, and Procore does not list them among the company's "
                            f"people: {fix}")
    if not person.is_employee:
        raise NotApplicable(f"{who}, and Procore does not mark them as an employee, so no "
                            "worker is made for them: mark them as an employee in Procore, "
                            f"or {fix}")
    number = person.employee_number[:50]
    if number:
        # Our worker of that employee number is this person: linked, never duplicated.
        ours = Worker.objects.filter(organization_id=integration.organization_id,
                                     employee_number=number).first()
        if ours is not None:
            other = WorkerLink.objects.filter(integration=integration, worker=ours).first()
            if other is not None:
                raise NotApplicable(
                    f"{who}: their employee number {number} is our {ours.name}'s, who is "
                    f"linked to Procore person {other.remote_worker_id}. Fix the link on the "
                    "Mappings page, then retry.")
            WorkerLink.objects.create(
                organization_id=integration.organization_id, integration=integration,
                worker=ours, remote_worker_id=remote.worker_remote_id,
                matched_by=MatchField.EMPLOYEE_NUMBER)
            _created(integration, actor, "link of worker", f"{ours.name} (employee number "
                     f"{number})", remote, created)
            return ours
    email = person.email if _valid_email(person.email) else ""
    worker = shift_services.worker_create(actor=actor, name=(person.name or name)[:200],
                                          employee_number=number, email=email)
    WorkerLink.objects.create(
        organization_id=integration.organization_id, integration=integration, worker=worker,
        remote_worker_id=remote.worker_remote_id,
        matched_by=MatchField.EMPLOYEE_NUMBER if number else MatchField.NAME)
    _created(integration, actor, "worker", worker.name + (f" (employee number {number})"
                                                          if number else ""), remote, created)
    return worker


def _valid_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def _cost_code_for(integration: Integration, spec: ProcoreSettings, remote: RemoteEntry,
                   actor: Membership, created: list[str]) -> CostCode | None:
    code = remote.extra.get("cost_code_remote_id")
    if not code:
        return None
    link = CostCodeLink.objects.select_related("cost_code").filter(
        integration=integration, remote_cost_code_id=code).first()
    if link is not None:
        return link.cost_code
    description = remote.extra.get("cost_code_name") or CatalogItem.objects.filter(
        integration=integration, kind=CatalogKind.COST_CODE, remote_id=code,
    ).values_list("name", flat=True).first() or ""
    who = f"Procore's cost code {code} {description}".strip() + \
        " is not linked to a cost code of ours"
    if not spec.create_cost_codes:
        raise NotApplicable(f"{who}, and this integration does not create cost codes: link "
                            "it on the Mappings page, then retry.")
    ours = CostCode.objects.filter(organization_id=integration.organization_id,
                                   code=code[:50]).first()
    if ours is not None:
        other = CostCodeLink.objects.filter(integration=integration, cost_code=ours).first()
        if other is not None:
            raise NotApplicable(f"{who}: our cost code {ours} is linked to Procore's "
                                f"{other.remote_cost_code_id}. Fix the link on the Mappings "
                                "page, then retry.")
        what = "link of cost code"
    else:
        ours = shift_services.cost_code_create(actor=actor, code=code[:50],
                                               name=(description or code)[:200])
        what = "cost code"
    CostCodeLink.objects.create(organization_id=integration.organization_id,
                                integration=integration, cost_code=ours,
                                remote_cost_code_id=code, matched_by=MatchField.CODE)
    _created(integration, actor, what, str(ours), remote, created)
    return ours


def _project_link_for(integration: Integration, spec: ProcoreSettings, remote: RemoteEntry,
                      actor: Membership, created: list[str]) -> ProjectLink | None:
    """The link the entry's hours go to: its project's, or its sub job's. A sub job not
    linked on its own books on its job's project, or (create_sub_job_projects) gets a project
    of ours copying the job's: time zone, link settings, assigned project managers."""
    links = ProjectLink.objects.select_related("project").filter(integration=integration)
    link = links.filter(remote_project_id=remote.project_remote_id).first()
    if link is not None or "/" not in remote.project_remote_id:
        return link if link is not None and link.enabled else None
    parent = links.filter(enabled=True,
                          remote_project_id=remote.project_remote_id.split("/")[0]).first()
    if parent is None or not spec.create_sub_job_projects:
        return parent
    label = remote.extra.get("sub_job_name") or f"sub job {remote.extra.get('sub_job_id')}"
    project = shift_services.project_create(
        actor=actor, name=f"{parent.project.name} / {label}"[:200],
        time_zone=parent.project.time_zone)
    project.assigned_memberships.set(parent.project.assigned_memberships.all())
    link = ProjectLink.objects.create(
        organization_id=integration.organization_id, integration=integration,
        project=project, remote_project_id=remote.project_remote_id, enabled=parent.enabled,
        sync_only_approved=parent.sync_only_approved)
    _created(integration, actor, "project", f"{project.name} (sub job of {parent.project.name})",
             remote, created)
    return link


_TIME_TYPE_NAMES = {
    TimeType.REGULAR: {"regular", "regular time", "reg"},
    TimeType.OVERTIME: {"overtime", "over time", "ot"},
    TimeType.DOUBLE_TIME: {"double time", "doubletime", "double_time", "dt"},
}


def _time_type(remote: RemoteEntry) -> str:
    """Ours for Procore's time type, by its abbreviation or its name; none given is regular
    (Procore's default). One that matches none of ours fails the message: paying vacation or
    sick hours as regular work is a payroll error nobody would see."""
    if remote.extra.get("time_type"):
        return remote.extra["time_type"]
    name = str(remote.extra.get("time_type_name") or "")
    abbreviation = str(remote.extra.get("time_type_abbreviation") or "")
    if not name and not abbreviation:
        return TimeType.REGULAR
    for ours, names in _TIME_TYPE_NAMES.items():
        if " ".join(name.lower().split()) in names or abbreviation.lower() in names:
            return ours
    said = f"{name} ({abbreviation})" if name and abbreviation else name or abbreviation
    raise NotApplicable(
        f"Procore's time type {said} matches none of ours (Regular, Overtime, Double time), "
        "and Timesync does not guess how to pay it: change the entry's time type in Procore "
        "(its update comes back by itself) or record these hours in Timesync by hand.")


def _wanted(integration: Integration, link: ProjectLink, worker_id: int,
            cost_code_id: int | None, remote: Any, shift: Shift | None) -> _Wanted:
    extra = remote.extra
    time_type = _time_type(remote)
    notes = extra.get("notes") or ""
    if extra.get("time_in") and extra.get("time_out"):
        start = datetime.fromisoformat(extra["time_in"])
        end = datetime.fromisoformat(extra["time_out"])
        lunch = int(float(extra.get("lunch_time") or 0))
        return _Wanted(worker_id, link.project_id, cost_code_id, start, end, lunch, time_type,
                       notes)
    # Total hours: Procore has no times. Our shift keeps its own start (and break) when it
    # is on that day and already pays those hours; else it starts at DEFAULT_START, or after
    # the worker's other shifts of the day (two entries of one day are two shifts in a row).
    hours = remote.hours
    if shift is not None and shift.work_date == remote.work_date and shift.end is not None \
            and planning.round_hours(shift.paid_seconds or 0,
                                     integration.hours_rounding) == hours:
        return _Wanted(worker_id, link.project_id, cost_code_id, shift.start, shift.end,
                       shift.break_minutes, time_type, notes)
    zone = ZoneInfo(link.project.time_zone or integration.organization.time_zone)
    if shift is not None and shift.work_date == remote.work_date:
        start, lunch = shift.start, shift.break_minutes
    else:
        start, lunch = _free_start(worker_id, remote.work_date, zone, float(hours), shift), 0
    end = start + timedelta(hours=float(hours), minutes=lunch)
    return _Wanted(worker_id, link.project_id, cost_code_id, start, end, lunch, time_type, notes)


def _free_start(worker_id: int, work_date: date, zone: ZoneInfo, hours: float,
                shift: Shift | None) -> datetime:
    """Where a total-hours entry's new shift starts: DEFAULT_START, or, when the worker
    already works then (a second entry of the day, another cost code), right after their
    shifts of that day. The time is ours to choose (Procore holds none): choosing one that
    collides would refuse a valid entry. Past the day, DEFAULT_START (the overlap is then
    reported as it is)."""
    default = datetime.combine(work_date, DEFAULT_START, tzinfo=zone)
    # A rejected shift pays nothing and blocks nothing (the overlap rule ignores it too).
    others = Shift.objects.filter(worker_id=worker_id, deleted_at__isnull=True,
                                  end__isnull=False).exclude(
        approval_state=ApprovalState.REJECTED).order_by("start")
    if shift is not None:
        others = others.exclude(pk=shift.pk)
    start = default
    for other in others.filter(end__gt=default,
                               start__lt=default + timedelta(days=1, hours=hours)):
        if other.start < start + timedelta(hours=hours) and other.end > start:
            start = other.end
    return start if start.astimezone(zone).date() == work_date else default


def _ledger_received(*, integration: Integration, record: ExternalRecord | None, shift: Shift,
                     link: ProjectLink, entry_id: str) -> None:
    """The ledger now says Procore holds this shift as it stands: the next export finds it
    unchanged (the same hash the plan computes) and sends nothing back."""
    generation = record.generation if record is not None else 1
    key = record.idempotency_key if record is not None \
        else planning.idempotency_key(integration, shift, generation)
    hours = planning.round_hours(shift.paid_seconds or 0, integration.hours_rounding)
    worker_remote = WorkerLink.objects.filter(
        integration=integration, worker_id=shift.worker_id).values_list(
        "remote_worker_id", flat=True).first() or ""
    cost_code_remote = CostCodeLink.objects.filter(
        integration=integration, cost_code_id=shift.cost_code_id).values_list(
        "remote_cost_code_id", flat=True).first() if shift.cost_code_id else None
    entry = TimecardEntry(
        idempotency_key=key, worker_remote_id=worker_remote,
        project_remote_id=link.remote_project_id, cost_code_remote_id=cost_code_remote,
        work_date=shift.work_date, hours=hours, time_type=shift.time_type, start=shift.start,
        end=shift.end, break_minutes=shift.break_minutes, notes=shift.notes)
    values = {"remote_id": entry_id, "state": RecordState.SYNCED,
              "payload_hash": entry.payload_hash(), "project": shift.project,
              "remote_project_id": link.remote_project_id, "work_date": shift.work_date,
              "shift_version": shift.version, "hours": hours, "last_op": "received"}
    if record is None:
        ExternalRecord.objects.update_or_create(
            integration=integration, shift=shift,
            defaults={**values, "organization_id": integration.organization_id,
                      "idempotency_key": key})
    else:
        ExternalRecord.objects.filter(pk=record.pk).update(**values,
                                                           revision=record.revision + 1)


def _describe(shift: Shift) -> str:
    return f"{shift.worker.name}'s shift of {shift.work_date:%Y-%m-%d} on {shift.project.name}"


# --- The sweep ------------------------------------------------------------------------------


def procore_sweep(*, integration_id: int, now: datetime | None = None) -> int:
    """Read the entries changed (or deleted) at Procore since the last sweep and apply them
    through the events' deduplicated path, after the webhook events whose task was lost.
    Returns how many changed something."""
    integration = Integration.objects.select_related("organization").get(pk=integration_id)
    if receiving_settings(integration) is None or not integration.is_connected:
        return 0
    receiver, _ = ProcoreReceiver.objects.get_or_create(
        integration=integration, defaults={"organization_id": integration.organization_id})
    until = now or timezone.now()
    since = (receiver.last_sweep_at - SWEEP_OVERLAP) if receiver.last_sweep_at \
        else until - SWEEP_FIRST_LOOKBACK
    connector = connector_for(integration)
    assert isinstance(connector, ProcoreConnector)
    try:
        changed = connector.client.list_company_entries(updated_between=(since, until))
        deleted = connector.client.list_company_entries(deleted_between=(since, until))
    except ConnectorError as error:
        ProcoreReceiver.objects.filter(pk=receiver.pk).update(
            last_sweep_error=f"The sweep could not read Procore: {error}")
        raise
    finally:
        connector.close()
    caught = _lost_events_take_up(integration, until)
    for data, kind in [(d, "update") for d in changed] + [(d, "delete") for d in deleted]:
        if not isinstance(data, dict) or "id" not in data:
            continue
        stamp = data.get("deleted_at") if kind == "delete" else data.get("updated_at")
        event = _event_store(
            integration=integration, key=f"sweep-{data['id']}-{kind}-{stamp}",
            source=InboundSource.SWEEP, event_type=kind, resource_id=str(data["id"]),
            payload={"entry": data})
        if event is None:
            continue
        done = inbound_event_process(event_id=event.pk)
        if done is not None and done.state == InboundState.APPLIED:
            caught += 1
    ProcoreReceiver.objects.filter(pk=receiver.pk).update(
        last_sweep_at=until, last_sweep_caught=caught, last_sweep_error="")
    return caught


def _lost_events_take_up(integration: Integration, now: datetime) -> int:
    """Process the webhook events still pending SYNC_RUN_LOST_SECONDS after they arrived: their
    task was lost (the broker restarted empty, or was down when the event came: the endpoint
    answered Procore all the same). Processing twice is harmless. Returns how many changed
    something."""
    lost_before = now - timedelta(seconds=django_settings.SYNC_RUN_LOST_SECONDS)
    caught = 0
    for event_id in InboundEvent.objects.filter(
            integration=integration, state=InboundState.PENDING, received_at__lt=lost_before,
    ).order_by("received_at", "pk").values_list("pk", flat=True)[:LOST_EVENTS_PER_SWEEP]:
        done = inbound_event_process(event_id=event_id)
        if done is not None and done.state == InboundState.APPLIED:
            caught += 1
    return caught


def procore_sweeps_run() -> list[int]:
    """Sweep every receiving Procore integration, each on its own: one tenant's failure is
    logged and never stops the others. Returns the ids swept without error."""
    swept = []
    for integration in Integration.objects.filter(kind=IntegrationKind.PROCORE,
                                                  is_connected=True).order_by("pk"):
        if receiving_settings(integration) is None:
            continue
        try:
            procore_sweep(integration_id=integration.pk)
        except Exception:
            logger.exception("Procore sweep of integration %s failed; the others go on.",
                             integration.pk)
            continue
        swept.append(integration.pk)
    return swept


# --- Activity and retry ---------------------------------------------------------------------


def inbound_event_retry(*, actor: Membership, integration: Integration, event_id: int
                        ) -> InboundEvent:
    """Send a failed event back to the queue (after an admin linked the worker, say)."""
    integration = access_integration(actor, integration.pk)
    roles.require_integration_manager(actor)
    event = InboundEvent.objects.filter(integration=integration, pk=event_id,
                                        state=InboundState.FAILED).first()
    if event is None:
        from django.http import Http404

        raise Http404("No failed message with that id.")
    InboundEvent.objects.filter(pk=event.pk).update(
        state=InboundState.PENDING, outcome="Retry asked.", failure_notified_at=None)
    transaction.on_commit(lambda: inbound_event_enqueue(event.pk))
    event.refresh_from_db()
    return event


def inbound_events_requeue(*, now: datetime | None = None) -> int:
    """Queue again the pending messages whose task was lost: due (received, or their retry
    time) more than PENDING_LOST_AFTER ago. Returns how many."""
    stale = (now or timezone.now()) - PENDING_LOST_AFTER
    lost = list(InboundEvent.objects.filter(state=InboundState.PENDING).filter(
        Q(next_attempt_at__lt=stale) | Q(next_attempt_at__isnull=True, received_at__lt=stale),
    ).order_by("received_at").values_list("pk", flat=True)[:1000])
    for event_id in lost:
        inbound_event_enqueue(event_id)
    return len(lost)


def inbound_event_enqueue(event_id: int, *, countdown: int | None = None) -> None:
    from config.celery import app

    try:
        app.tasks["timesync.tasks.process_procore_event"].apply_async(
            kwargs={"event_id": event_id}, countdown=countdown)
    except Exception:
        # Pending in the database: the next sweep, or a retry, takes it up.
        logger.warning("Could not queue Procore event %s.", event_id, exc_info=True)


def _failure_notify_enqueue(event_id: int) -> None:
    from config.celery import app

    try:
        app.tasks["timesync.tasks.send_inbound_failure_email"].apply_async(
            kwargs={"event_id": event_id})
    except Exception:
        logger.warning("No failure email for Procore event %s.", event_id, exc_info=True)
