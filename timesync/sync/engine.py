"""The engine: a run's plan turned into operations on the remote (`next_ops`), and what the
remote answered taken back into the ledger (`apply_results`). One engine for every connector;
the drivers differ only in who calls the remote: push.py (a Celery worker calls it) or, for a
pulled connector, the remote itself when it polls us.

An item whose record has a write still in flight (sent by another attempt, within the remote's
request lifetime) is not touched: the run waits `settle_in` seconds and comes back. A record
changed under us (`ledger.Conflict`) makes the engine plan again from the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from decimal import Decimal

from django.db.models import Sum

from connectors.base import PermanentError, RemoteEntry
from timesync.models import ExternalRecord, RecordState, SyncLogEntry, SyncOutcome, SyncRun
from timesync.sync import ledger, runs
from timesync.sync.ledger import Conflict, OpKind, OpResult, RemoteOp, ResultKind
from timesync.sync.planning import (
    Action,
    Plan,
    PlanItem,
    build_plan,
    key_prefix,
    key_shift_id,
    why_not_eligible,
)
from timesync.sync.runs import Fence

logger = logging.getLogger(__name__)

HOURS = Decimal("0.01")
_EARLIER_ATTEMPT = "Sent by an earlier attempt of this run, stopped before it could log it."


@dataclass
class Batch:
    ops: list[RemoteOp]
    settle_in: float = 0.0  # some items wait for a write still in flight: come back after this


class RunEngine:
    """One attempt of one run. Plans once, walks the plan, plans again when something changed
    under it. Every log line is written once per shift and run."""

    def __init__(self, *, run: SyncRun, fence: Fence) -> None:
        self.run = run
        self.fence = fence
        self.plan: Plan | None = None
        self.cursor = 0
        self.settle_in = 0.0
        lines = SyncLogEntry.objects.filter(run=run).values_list("shift_id", "outcome")
        self.logged = {shift_id for shift_id, _ in lines}
        # Refused or skipped in this attempt: not sent again by it (a re-plan, or the next call
        # of a pulled remote, walks the day from the start again); the next attempt retries.
        self.skipped = {shift_id for shift_id, outcome in lines
                        if outcome == SyncOutcome.SKIPPED}
        self.adopted: set[int] = set()  # shifts whose lost create was found remotely
        self.begun: dict[str, PlanItem] = {}

    # --- Operations out ---------------------------------------------------------------------

    def next_ops(self, limit: int) -> Batch:
        ops: list[RemoteOp] = []
        taken: set[int] = set()  # shifts begun in this batch: a re-plan must not wait on them
        while len(ops) < limit:
            if self.plan is None:
                self._plan()
            if self.cursor >= len(self.plan.items):
                break
            item = self.plan.items[self.cursor]
            self.cursor += 1
            if item.shift.pk in taken:
                continue
            try:
                op = self._step(item)
            except Conflict:
                self.plan = None  # someone else changed a record: read the day again
                continue
            if op is not None:
                ops.append(op)
                taken.add(op.shift_id)
        return Batch(ops=ops, settle_in=self.settle_in)

    def _plan(self) -> None:
        self.plan = build_plan(integration=self.run.integration, project=self.run.project,
                               work_date=self.run.work_date)
        if self.plan.error:
            raise PermanentError(self.plan.error)
        self.cursor = 0
        self.settle_in = 0.0
        self._log_deletes_of_lost_attempts()

    def _log_deletes_of_lost_attempts(self) -> None:
        """A delete this run completed in an attempt that lost the run before logging it: the
        record is gone from the plan, but the run's log still tells it."""
        for record in ExternalRecord.objects.filter(
            integration=self.run.integration, project=self.run.project,
            work_date=self.run.work_date, state=RecordState.DELETED, last_run=self.run,
            last_op=OpKind.DELETE,
        ).exclude(shift_id__in=self.logged).select_related("shift__worker"):
            item = PlanItem(action=Action.DELETE, worker=record.shift.worker,
                            shift=record.shift, hours=record.hours, record=record,
                            reason=why_not_eligible(record.shift, self.plan.link,
                                                    self.run.work_date))
            self._log(item, SyncOutcome.DELETED, remote_id=record.remote_id,
                      message=f"{item.reason} {_EARLIER_ATTEMPT}")

    def _step(self, item: PlanItem) -> RemoteOp | None:
        record = item.record
        if item.shift.pk in self.skipped:
            return None
        if item.action == Action.SKIP:
            self._log(item, SyncOutcome.SKIPPED, message=item.reason)
            return None
        if record is not None:
            wait = ledger.in_flight_for(record)
            if wait:
                self.settle_in = max(self.settle_in, wait)
                return None
        if item.action == Action.UNCHANGED:
            ledger.still_current(record=record, shift_version=item.shift.version)
            if item.shift.pk in self.adopted:  # the create went through; its reply was lost
                self._log(item, SyncOutcome.CREATED, remote_id=record.remote_id,
                          message="Confirmed in the remote after a lost reply.")
            elif record.last_run_id == self.run.pk and record.last_op in (OpKind.CREATE,
                                                                            OpKind.UPDATE):
                outcome = (SyncOutcome.CREATED if record.last_op == OpKind.CREATE
                           else SyncOutcome.UPDATED)
                self._log(item, outcome, remote_id=record.remote_id, message=_EARLIER_ATTEMPT)
            else:
                self._log(item, SyncOutcome.UNCHANGED, remote_id=record.remote_id)
            return None
        if record is not None and record.state == RecordState.PENDING_CREATE:
            return self._begin(item, "reconcile", ledger.op_begin_find(fence=self.fence,
                                                                        record=record))
        if item.action == Action.DELETE:
            return self._begin(item, "delete", ledger.op_begin_delete(fence=self.fence,
                                                                       record=record))
        if record is not None and item.moved:
            return self._begin(item, "move", ledger.op_begin_delete(fence=self.fence,
                                                                     record=record))
        if record is None or record.state == RecordState.DELETED:
            return self._begin(item, "write", ledger.op_begin_create(
                fence=self.fence, integration_id=self.run.integration_id, record=record,
                shift=item.shift, project=self.run.project, entry=item.entry,
            ))
        return self._begin(item, "write", ledger.op_begin_update(
            fence=self.fence, record=record, entry=item.entry))

    def _begin(self, item: PlanItem, purpose: str, op: RemoteOp) -> RemoteOp:
        previous = item.record.state if item.record is not None else RecordState.DELETED
        op = replace(op, purpose=purpose, previous_state=previous)
        self.begun[op.op_id] = item
        return op

    # --- Results in -------------------------------------------------------------------------

    def apply_results(self, results: list[OpResult]) -> list[str]:
        """Record each result in the ledger and the log. Returns the remote ids of entries
        this attempt created but the ledger does not hold (another run got the record first):
        the driver removes them."""
        orphans = []
        for result in results:
            item = self.begun.pop(result.op.op_id, None) or self._item_for(result.op)
            try:
                ledger.op_complete(result)
            except Conflict:
                if result.op.kind == OpKind.CREATE and result.kind == ResultKind.APPLIED:
                    held = ExternalRecord.objects.filter(
                        pk=result.op.record_id, remote_id=result.remote.remote_id).exists()
                    if not held:
                        orphans.append(result.remote.remote_id)
                self.plan = None
                continue
            self._after(item, result)
        return orphans

    def _item_for(self, op: RemoteOp) -> PlanItem:
        """The plan item an op was begun for, when it was begun by another engine (a pulled
        connector's earlier request): the day's plan as it stands, by shift."""
        if self.plan is None:
            self._plan()
        for item in self.plan.items:
            if item.shift.pk == op.shift_id:
                return item
        raise Conflict(f"Shift {op.shift_id} is no longer part of this run's day.")

    def _after(self, item: PlanItem, result: OpResult) -> None:
        op, kind = result.op, result.kind
        if kind in (ResultKind.UNKNOWN, ResultKind.NOT_APPLIED):
            return  # the driver decides when to come back
        if kind == ResultKind.REJECTED:
            self._log(item, SyncOutcome.SKIPPED, message=result.message)
        elif op.purpose == "delete" or (
            op.kind == OpKind.FIND and kind == ResultKind.NOT_FOUND
            and item.action == Action.DELETE
        ):
            self._log(item, SyncOutcome.DELETED, remote_id=op.remote_id, message=item.reason)
        elif op.kind == OpKind.CREATE:
            self._log(item, SyncOutcome.CREATED, remote_id=result.remote.remote_id)
        elif op.kind == OpKind.UPDATE and kind == ResultKind.APPLIED:
            self._log(item, SyncOutcome.UPDATED, remote_id=op.remote_id)
        else:
            # A move's first half, a lost create found (or not), an update of an entry deleted
            # remotely: the item's next step depends on the new state; plan the day again.
            if op.kind == OpKind.FIND and kind == ResultKind.APPLIED:
                self.adopted.add(item.shift.pk)
            self.plan = None

    def _log(self, item: PlanItem, outcome: str, *, remote_id: str = "", message: str = "") -> None:
        if item.shift.pk in self.logged:
            return  # this run told this shift's story already (an earlier attempt, or a re-plan)
        runs.log_line(self.fence, shift=item.shift, worker=item.worker, outcome=outcome,
                      hours=item.hours, remote_id=remote_id, message=message)
        self.logged.add(item.shift.pk)
        if outcome == SyncOutcome.SKIPPED:
            self.skipped.add(item.shift.pk)

    # --- The end of a run: read back, repair, count -----------------------------------------

    def strays(self, entries: list[RemoteEntry]) -> list[RemoteEntry]:
        """Entries on the remote job and day that carry one of our keys but that the ledger
        does not hold: a duplicate left by a write applied after we gave up on it, or by a
        worker that lost its run. Entries whose record has a write in flight are left to the
        run that owns it; entries made by others (no key of ours) are never touched."""
        prefix = key_prefix(self.run.integration)
        ours = [e for e in entries if (e.idempotency_key or "").startswith(prefix)]
        if not ours:
            return []
        records = {
            record.shift_id: record
            for record in ExternalRecord.objects.filter(
                integration=self.run.integration,
                shift_id__in={key_shift_id(e.idempotency_key) for e in ours},
            )
        }
        strays = []
        for entry in ours:
            record = records.get(key_shift_id(entry.idempotency_key))
            if record is not None and (
                record.remote_id == entry.remote_id
                or record.state == RecordState.PENDING_CREATE
                or ledger.in_flight_for(record)
            ):
                continue
            strays.append(entry)
        return strays

    def finish(self, *, entries: list[RemoteEntry], removed: list[RemoteEntry]) -> SyncRun:
        """End the run with what the remote holds after the repair."""
        system = self.run.integration.name
        warnings = []
        if removed:
            warnings.append(
                f"Removed {len(removed)} duplicate entr{'y' if len(removed) == 1 else 'ies'} "
                f"from {system} that an interrupted earlier attempt had left there "
                f"({', '.join(e.remote_id for e in removed)})."
            )
            logger.warning("Run %s removed strays %s", self.run.pk,
                           [e.remote_id for e in removed])
        sent = ExternalRecord.objects.filter(
            integration=self.run.integration, project=self.run.project,
            work_date=self.run.work_date, state=RecordState.SYNCED,
        ).aggregate(total=Sum("hours"))["total"] or Decimal(0)
        # SQLite sums decimals as floats: the figures a payroll admin reads keep two places.
        sent = Decimal(str(sent)).quantize(HOURS)
        removed_ids = {e.remote_id for e in removed}
        remote = sum((e.hours for e in entries if e.remote_id not in removed_ids),
                     Decimal(0)).quantize(HOURS)
        if sent != remote:
            warnings.append(
                f"{system} holds {remote} hours for this job and day; Timesync sent {sent}. "
                "Entries made elsewhere (or by hand) may be the difference."
            )
        return runs.finish(self.fence, hours_sent=sent, hours_remote=remote, warnings=warnings)

    @property
    def remote_project_id(self) -> str:
        if self.plan is None:
            self._plan()
        return self.plan.link.remote_project_id


# --- For a driver that keeps no engine between calls (a pulled connector's requests) --------


def next_ops(*, run: SyncRun, fence: Fence, limit: int) -> Batch:
    """Plan the run and begin up to `limit` operations, to hand to the remote."""
    return RunEngine(run=run, fence=fence).next_ops(limit)


def apply_results(*, run: SyncRun, fence: Fence, results: list[OpResult]) -> list[str]:
    """Take the remote's answers to operations begun earlier back into the ledger and log."""
    return RunEngine(run=run, fence=fence).apply_results(results)
