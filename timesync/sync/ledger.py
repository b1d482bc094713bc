"""The exactly-once ledger: what each integration holds for each shift, changed only by
compare-and-set.

An operation on the remote is begun by committing its intent (`op_begin` returns a `RemoteOp`)
and completed by committing what came back (`op_complete` takes an `OpResult`). Both are one
short transaction and one conditional UPDATE on the record's id and revision: when another run
(a shift moved from Monday to Tuesday syncs on both days) or an incoming change reached the
record first, `Conflict` is raised and the caller re-plans that item from what the winner
wrote; nobody writes over anybody.

A write whose answer was lost stays pending with the time it was sent: the remote may still
apply it (a request held past our timeout). Only once the remote's longest request lifetime
has passed is it safe to look its key up (`OpKind.FIND`) and conclude from "not there" that
it never landed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from connectors.base import RemoteEntry, TimecardEntry
from timesync.models import ExternalRecord, Project, RecordState, Shift
from timesync.sync import runs
from timesync.sync.runs import Fence

PENDING_STATES = (RecordState.PENDING_CREATE, RecordState.PENDING_UPDATE,
                  RecordState.PENDING_DELETE)


class Conflict(Exception):
    """The record changed since it was read: re-plan the item from the database."""


class OpKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    FIND = "find"  # reconcile a write whose outcome is unknown: look its key up


class ResultKind(StrEnum):
    APPLIED = "applied"  # done (find: an entry carries the key; `remote` is it)
    NOT_FOUND = "not_found"  # update/delete: no such entry; find: nothing carries the key
    REJECTED = "rejected"  # the remote refused this one record: nothing was written
    NOT_APPLIED = "not_applied"  # refused before any work (a 429): safe to send again
    UNKNOWN = "unknown"  # no answer: the remote may still apply it


@dataclass(frozen=True)
class RemoteOp:
    """One call to make on the remote, begun in the ledger. `revision` is the record's revision
    once begun: completing it is conditional on nobody having changed the record since."""

    kind: OpKind
    record_id: int
    revision: int
    shift_id: int
    idempotency_key: str
    remote_id: str = ""
    entry: TimecardEntry | None = None
    project_remote_id: str = ""
    work_date: date | None = None
    # Why the engine begun it, and the state a refused or unsent write goes back to: carried
    # with the op so a pulled connector's later request can complete it without the engine.
    purpose: str = "write"  # write | delete | move (delete where it was) | reconcile
    previous_state: str = RecordState.SYNCED

    @property
    def op_id(self) -> str:
        """Unique per operation: a pulled connector echoes it back with the response."""
        return f"{self.record_id}.{self.revision}"


@dataclass(frozen=True)
class OpResult:
    op: RemoteOp
    kind: ResultKind
    remote: RemoteEntry | None = None
    message: str = ""
    retry_after: float | None = None
    permanent: bool = False  # not applied, and retrying will not help (refused credentials)


def lifetime() -> timedelta:
    return timedelta(seconds=settings.SYNC_REMOTE_REQUEST_LIFETIME_SECONDS)


def in_flight_for(record: ExternalRecord, now: datetime | None = None) -> float:
    """Seconds until a pending record's write can no longer land remotely (0: settled)."""
    if record.state not in PENDING_STATES or record.attempt_started_at is None:
        return 0.0
    settles = record.attempt_started_at + lifetime()
    return max(0.0, (settles - (now or timezone.now())).total_seconds())


def _cas(record_id: int, revision: int, **changes) -> int:
    """The one way a record changes: conditional on the revision read. Returns the new one."""
    updated = ExternalRecord.objects.filter(pk=record_id, revision=revision).update(
        revision=revision + 1, updated_at=timezone.now(), **changes
    )
    if not updated:
        raise Conflict(f"Ledger record {record_id} changed since revision {revision}.")
    return revision + 1


# --- Beginning an operation: the intent, committed before the call --------------------------


def op_begin_create(
    *, fence: Fence, integration_id: int, record: ExternalRecord | None, shift: Shift,
    project: Project, entry: TimecardEntry,
) -> RemoteOp:
    """Commit the intent to create `entry` (a new record, or a deleted one written again under
    a new key generation) in the run's own transaction, then hand back the op to send."""
    now = timezone.now()
    where = {"project": project, "remote_project_id": entry.project_remote_id,
             "work_date": entry.work_date, "shift_version": shift.version,
             "hours": entry.hours, "payload_hash": entry.payload_hash(),
             "last_run_id": fence.run_id, "last_op": OpKind.CREATE}
    with transaction.atomic():
        runs.heartbeat(fence)
        if record is None:
            try:
                with transaction.atomic():
                    record = ExternalRecord.objects.create(
                        organization_id=shift.organization_id,
                        integration_id=integration_id, shift=shift,
                        idempotency_key=entry.idempotency_key, state=RecordState.PENDING_CREATE,
                        remote_id="", attempt_started_at=now, revision=1, **where,
                    )
            except IntegrityError as error:
                raise Conflict(f"Another run recorded shift {shift.pk} first.") from error
            revision = 1
        else:
            generation = record.generation
            if record.idempotency_key != entry.idempotency_key:
                generation += 1  # written again after a delete: a key never seen before
            revision = _cas(record.pk, record.revision, state=RecordState.PENDING_CREATE,
                            idempotency_key=entry.idempotency_key, generation=generation,
                            remote_id="", attempt_started_at=now, **where)
    return RemoteOp(kind=OpKind.CREATE, record_id=record.pk, revision=revision,
                    shift_id=shift.pk, idempotency_key=entry.idempotency_key, entry=entry,
                    project_remote_id=entry.project_remote_id, work_date=entry.work_date)


def op_begin_update(*, fence: Fence, record: ExternalRecord, entry: TimecardEntry) -> RemoteOp:
    """Commit the intent to send `entry` over the synced entry. What the record says the
    remote holds (hash, hours) changes only when the update is confirmed."""
    with transaction.atomic():
        runs.heartbeat(fence)
        revision = _cas(record.pk, record.revision, state=RecordState.PENDING_UPDATE,
                        attempt_started_at=timezone.now(), last_run_id=fence.run_id,
                        last_op=OpKind.UPDATE)
    return RemoteOp(kind=OpKind.UPDATE, record_id=record.pk, revision=revision,
                    shift_id=record.shift_id, idempotency_key=record.idempotency_key,
                    remote_id=record.remote_id, entry=entry,
                    project_remote_id=entry.project_remote_id, work_date=entry.work_date)


def op_begin_delete(*, fence: Fence, record: ExternalRecord) -> RemoteOp:
    """Commit the intent to remove the record's entry where it was written."""
    with transaction.atomic():
        runs.heartbeat(fence)
        revision = _cas(record.pk, record.revision, state=RecordState.PENDING_DELETE,
                        attempt_started_at=timezone.now(), last_run_id=fence.run_id,
                        last_op=OpKind.DELETE)
    return RemoteOp(kind=OpKind.DELETE, record_id=record.pk, revision=revision,
                    shift_id=record.shift_id, idempotency_key=record.idempotency_key,
                    remote_id=record.remote_id, project_remote_id=record.remote_project_id,
                    work_date=record.work_date)


def op_begin_find(*, fence: Fence, record: ExternalRecord) -> RemoteOp:
    """Take a pending create, settled (its lifetime passed), to look its key up. Taking it
    moves the revision, so two runs never reconcile the same record at once."""
    with transaction.atomic():
        runs.heartbeat(fence)
        revision = _cas(record.pk, record.revision)
    return RemoteOp(kind=OpKind.FIND, record_id=record.pk, revision=revision,
                    shift_id=record.shift_id, idempotency_key=record.idempotency_key,
                    project_remote_id=record.remote_project_id, work_date=record.work_date)


# --- Completing an operation: what came back -----------------------------------------------


def op_complete(result: OpResult) -> None:
    """Record what the remote answered. Not fenced by the run: what the remote did is a fact
    worth keeping whoever owns the run now; conditional on the record's revision only.
    A refused or unsent update or delete goes back to the op's `previous_state`; an UNKNOWN
    result leaves the record pending with the time it was sent."""
    op, kind = result.op, result.kind
    previous_state = op.previous_state
    if kind == ResultKind.UNKNOWN:
        return
    with transaction.atomic():
        if op.kind == OpKind.CREATE:
            if kind == ResultKind.APPLIED:
                _cas(op.record_id, op.revision, state=RecordState.SYNCED,
                     remote_id=result.remote.remote_id, remote_version=result.remote.version,
                     attempt_started_at=None)
            else:  # refused or never sent: nothing remote to remember
                _cas(op.record_id, op.revision, state=RecordState.DELETED,
                     attempt_started_at=None)
        elif op.kind == OpKind.UPDATE:
            if kind == ResultKind.APPLIED:
                entry = op.entry
                record = ExternalRecord.objects.only("shift__version").select_related(
                    "shift").get(pk=op.record_id)
                _cas(op.record_id, op.revision, state=RecordState.SYNCED,
                     payload_hash=entry.payload_hash(), hours=entry.hours,
                     shift_version=record.shift.version, attempt_started_at=None,
                     **({"remote_version": result.remote.version} if result.remote else {}))
            elif kind == ResultKind.NOT_FOUND:  # deleted remotely by someone else
                _cas(op.record_id, op.revision, state=RecordState.DELETED,
                     attempt_started_at=None)
            else:
                _cas(op.record_id, op.revision, state=previous_state, attempt_started_at=None)
        elif op.kind == OpKind.DELETE:
            if kind in (ResultKind.APPLIED, ResultKind.NOT_FOUND):
                _cas(op.record_id, op.revision, state=RecordState.DELETED,
                     attempt_started_at=None)
            else:
                _cas(op.record_id, op.revision, state=previous_state, attempt_started_at=None)
        elif op.kind == OpKind.FIND:
            if kind == ResultKind.APPLIED:
                _cas(op.record_id, op.revision, state=RecordState.SYNCED,
                     remote_id=result.remote.remote_id, remote_version=result.remote.version,
                     attempt_started_at=None)
            elif kind == ResultKind.NOT_FOUND:
                _cas(op.record_id, op.revision, state=RecordState.DELETED,
                     attempt_started_at=None)


def still_current(*, record: ExternalRecord, shift_version: int) -> None:
    """An edit that changes nothing remote (an approval, say) still moves the version: the
    ledger records that the remote holds this version, so the cell turns green."""
    if record.shift_version != shift_version:
        _cas(record.pk, record.revision, shift_version=shift_version)
