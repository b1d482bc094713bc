"""The push driver: a Celery worker executes a run by calling the remote itself, one operation
at a time, and ends it with a read-back that repairs what an interrupted attempt left behind.

Safe to call any number of times for the same run: the claim lets one worker in, and the fence
stops a worker that lost its run at its next step. What cannot be decided now (a remote that
asks us to come back, a write whose outcome is unknown, a time limit, a database that dropped
the connection) reschedules the run; only what retrying cannot fix fails it.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.utils import timezone

from connectors.base import (
    Connector,
    ConnectorError,
    PermanentError,
    RejectedEntry,
    RemoteEntry,
    RemoteNotFound,
    TransientError,
)
from timesync.models import ACTIVE_SYNC_STATES, SyncRun
from timesync.sync import runs
from timesync.sync.engine import RunEngine
from timesync.sync.ledger import OpKind, OpResult, RemoteOp, ResultKind
from timesync.sync.remotes import connector_for
from timesync.sync.runs import Fence, RunLost

logger = logging.getLogger(__name__)

NOT_SENT = "Not sent: the attempt stopped before it got to this entry."
UNEXPECTED = ("An unexpected error stopped the sync; support was notified. Nothing was sent "
              "twice: syncing again is safe.")


@dataclass(frozen=True)
class Execution:
    """What the task should do next: nothing, or send the run again after `retry_in` s."""

    run_id: int
    claimed: bool
    retry_in: float | None = None


class _Reschedule(Exception):
    def __init__(self, reason: str, retry_after: float | None, not_before: float = 0.0) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.not_before = not_before


def sync_run_execute(*, run_id: int, connector: Connector | None = None) -> Execution:
    """Execute a run if this worker can claim it."""
    claimed = runs.claim(run_id)
    if claimed.fence is None:
        return Execution(run_id=run_id, claimed=False, retry_in=claimed.busy_for)
    try:
        return _execute(claimed.fence, connector)
    except RunLost:
        _log_lost(run_id, claimed.fence.attempt)
        return Execution(run_id=run_id, claimed=True)


def _log_lost(run_id: int, attempt: int) -> None:
    """Say why this attempt stopped. A run that was ended meanwhile (an integration put in
    "reconnect needed" fails its runs with the reason, logged once where that is decided) was
    not lost to another worker: saying so would send a reader after a race that never was."""
    state = SyncRun.objects.filter(pk=run_id).values_list("state", flat=True).first()
    if state is None or state not in ACTIVE_SYNC_STATES:
        logger.info("Sync run %s: attempt %s stops, the run was ended meanwhile (%s).",
                    run_id, attempt, state or "deleted")
        return
    # Another worker took the run over while this one was stalled; it finishes the run.
    logger.warning("Sync run %s: attempt %s lost the run to another worker; stopping.",
                   run_id, attempt)


def _execute(fence: Fence, connector: Connector | None) -> Execution:
    run = SyncRun.objects.select_related("integration", "project__organization").get(
        pk=fence.run_id)
    try:
        connector = connector or connector_for(run.integration)
    except PermanentError as error:
        runs.fail(fence, str(error))
        return Execution(run_id=run.pk, claimed=True)
    beat = _Beat(fence)
    connector.set_request_hook(beat)
    try:
        runs.forget_non_writes(fence)
        engine = RunEngine(run=run, fence=fence)
        _drive(engine, connector, beat)
        _read_back(engine, connector)
    except _Reschedule as wait:
        return _reschedule(fence, str(wait), wait.retry_after, wait.not_before)
    except TransientError as error:
        return _reschedule(fence, str(error), error.retry_after)
    except SoftTimeLimitExceeded:
        return _reschedule(fence, "The sync took longer than one attempt may; it goes on.", 1.0)
    except (OperationalError, InterfaceError) as error:
        # A dropped connection or a serialization failure: the next attempt gets a new one.
        logger.warning("Sync run %s: database error %s; rescheduling.", run.pk, error)
        connection.close()
        return _reschedule(fence, "The database connection dropped; the sync goes on.", None)
    except RunLost:
        raise
    except PermanentError as error:
        runs.fail(fence, str(error))
    except Exception:
        logger.exception("Sync run %s crashed", run.pk)
        runs.fail(fence, UNEXPECTED)
    finally:
        connector.set_request_hook(None)
        connector.close()
    return Execution(run_id=run.pk, claimed=True)


def _reschedule(
    fence: Fence, reason: str, retry_after: float | None, not_before: float = 0.0
) -> Execution:
    try:
        delay = runs.reschedule(fence, reason=reason, retry_after=retry_after,
                                not_before=not_before)
    except DatabaseError:
        # Still no database: leave the run running; its heartbeat goes quiet and recovery
        # sends it again. Nothing is lost.
        logger.exception("Sync run %s could not be rescheduled", fence.run_id)
        return Execution(run_id=fence.run_id, claimed=True)
    return Execution(run_id=fence.run_id, claimed=True, retry_in=delay)


def _drive(engine: RunEngine, connector: Connector, beat: _Beat) -> None:
    # A connector that creates in bulk gets that many operations begun at once; its creates
    # go in one request, anything else one by one. Every intent is committed before the call.
    batch_size = max(1, connector.create_batch_size)
    while True:
        batch = engine.next_ops(limit=batch_size)
        if not batch.ops:
            break
        _send(engine, connector, beat, batch.ops)
    if engine.settle_in:
        raise _Reschedule("Waiting for a write sent earlier to settle in the remote before "
                          "checking it.", None, not_before=engine.settle_in)


def _send(engine: RunEngine, connector: Connector, beat: _Beat, ops: list[RemoteOp]) -> None:
    """Updates, deletes and reconciliations one by one, then the creates in one call. When the
    attempt stops half way, the operations begun but never sent are completed as not sent, so
    their records do not wait out the remote's request lifetime for nothing."""
    unsent = list(ops)
    try:
        for op in ops:
            if op.kind != OpKind.CREATE:
                unsent.remove(op)
                _complete(engine, connector, beat, [perform(connector, op)])
        creates = [op for op in ops if op.kind == OpKind.CREATE]
        if creates:
            unsent = []
            _complete(engine, connector, beat, perform_creates(connector, creates))
    except BaseException:
        if unsent:
            with contextlib.suppress(DatabaseError):  # else they settle and are looked up
                engine.apply_results([
                    OpResult(op=op, kind=ResultKind.NOT_APPLIED, message=NOT_SENT)
                    for op in unsent])
        raise


def _complete(engine: RunEngine, connector: Connector, beat: _Beat,
              results: list[OpResult]) -> None:
    orphans = engine.apply_results(results)
    if orphans:
        # What this attempt created after another took its record over: undone even if the
        # run is no longer ours, since nobody else knows it is there.
        connector.set_request_hook(None)
        try:
            for remote_id in orphans:
                _remove(connector, remote_id)
        finally:
            connector.set_request_hook(beat)
    _stop_unless_settled(results)


def _stop_unless_settled(results: list[OpResult]) -> None:
    """Every result is in the ledger already: stop on the first permanent one, else come back
    once the remote asked us to and every write whose answer was lost can no longer land."""
    for result in results:
        if result.permanent:
            raise PermanentError(result.message)
    waiting = [r for r in results if r.kind in (ResultKind.NOT_APPLIED, ResultKind.UNKNOWN)]
    if not waiting:
        return
    # Its answer was lost: the remote may still apply it. Come back once it cannot.
    settle = max(settings.SYNC_REMOTE_REQUEST_LIFETIME_SECONDS
                 if r.kind == ResultKind.UNKNOWN and r.op.kind != OpKind.FIND else 0.0
                 for r in waiting)
    retry_after = max((r.retry_after for r in waiting if r.retry_after is not None),
                      default=None)
    raise _Reschedule(waiting[0].message, retry_after, not_before=settle)


def perform(connector: Connector, op: RemoteOp) -> OpResult:
    """Make one call; every outcome becomes a result, nothing is raised but RunLost."""
    try:
        if op.kind == OpKind.CREATE:
            return OpResult(op=op, kind=ResultKind.APPLIED,
                            remote=connector.create_entry(op.entry))
        if op.kind == OpKind.UPDATE:
            return OpResult(op=op, kind=ResultKind.APPLIED,
                            remote=connector.update_entry(op.remote_id, op.entry))
        if op.kind == OpKind.DELETE:
            connector.delete_entry(op.remote_id)
            return OpResult(op=op, kind=ResultKind.APPLIED)
        found = connector.find_entry(idempotency_key=op.idempotency_key,
                                     project_remote_id=op.project_remote_id,
                                     work_date=op.work_date)
        return OpResult(op=op, kind=ResultKind.APPLIED if found else ResultKind.NOT_FOUND,
                        remote=found)
    except (RemoteNotFound, RejectedEntry, TransientError, PermanentError) as error:
        return _failed(op, error)


def perform_creates(connector: Connector, ops: list[RemoteOp]) -> list[OpResult]:
    """Many creates in one call where the connector can (`create_entries`), each entry's
    outcome its own result: created, rejected, or unknown (a lost answer to the request
    leaves every entry of it unknown, reconciled by its key like a single create)."""
    if len(ops) == 1:
        return [perform(connector, ops[0])]
    outcomes = connector.create_entries([op.entry for op in ops])
    if len(outcomes) != len(ops):  # a connector's bug: trust none of its answers
        outcomes = [TransientError(f"{connector.label} answered {len(outcomes)} outcomes for "
                                   f"{len(ops)} entries; each is checked by its key.")] * len(ops)
    results = []
    for op, outcome in zip(ops, outcomes, strict=True):
        if isinstance(outcome, RemoteEntry):
            results.append(OpResult(op=op, kind=ResultKind.APPLIED, remote=outcome))
        else:
            results.append(_failed(op, outcome))
    return results


def _failed(op: RemoteOp, error: ConnectorError) -> OpResult:
    """What a connector's error means for the op it was met by."""
    if isinstance(error, RemoteNotFound):
        if op.kind == OpKind.CREATE:
            # Not the entry (it does not exist yet) but where it goes: the remote has no such
            # project or company. Nothing was written, and every entry of the day would meet the
            # same answer: the run stops with the reason instead of a crash or a retry loop.
            return OpResult(op=op, kind=ResultKind.NOT_APPLIED, permanent=True, message=(
                f"{error} The remote system has no such project or company: check the "
                "project's link on the Mappings page and the integration's settings. Nothing "
                "was sent for this entry."))
        return OpResult(op=op, kind=ResultKind.NOT_FOUND)
    if isinstance(error, RejectedEntry):
        return OpResult(op=op, kind=ResultKind.REJECTED, message=str(error))
    if isinstance(error, TransientError):
        kind = ResultKind.UNKNOWN if error.maybe_applied else ResultKind.NOT_APPLIED
        return OpResult(op=op, kind=kind, message=str(error), retry_after=error.retry_after)
    if isinstance(error, PermanentError):  # refused credentials, say: nothing was written
        return OpResult(op=op, kind=ResultKind.NOT_APPLIED, message=str(error), permanent=True)
    raise error


def _remove(connector: Connector, remote_id: str) -> None:
    with contextlib.suppress(RemoteNotFound):
        connector.delete_entry(remote_id)


def _read_back(engine: RunEngine, connector: Connector) -> None:
    """Every run ends by reading the job and day back: strays carrying our keys are removed
    (a duplicate never survives a run) and the totals compared."""
    entries = connector.list_entries(project_remote_id=engine.remote_project_id,
                                     work_date=engine.run.work_date)
    strays = engine.strays(entries)
    for entry in strays:
        _remove(connector, entry.remote_id)
    engine.finish(entries=entries, removed=strays)


class _Beat:
    """Called before every HTTP request: beats the heartbeat well inside the stale window and
    raises RunLost in a worker that lost its run, before it sends anything more."""

    def __init__(self, fence: Fence) -> None:
        self.fence = fence
        self.every = timedelta(seconds=min(5.0, settings.SYNC_RUN_STALE_SECONDS / 4))
        self.last = timezone.now() - self.every

    def __call__(self) -> None:
        now = timezone.now()
        if now - self.last >= self.every:
            runs.heartbeat(self.fence)
            self.last = now

