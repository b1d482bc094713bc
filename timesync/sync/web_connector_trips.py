"""The Web Connector's round trips: the pull driver of the one engine.

A session claims the integration's waiting runs (each with its fence, kept in the session row),
and each sendRequestXML hands QuickBooks the engine's next operations as one qbXML message set
(`blocks_per_trip` work blocks; `continueOnError`, so one refused block costs itself alone).
The operations are saved in the session row before the qbXML leaves (the ledger committed their
intents already); receiveResponseXML ties each answer to its operation by requestID and gives
the results to the engine. An answer that never comes back leaves its operation unknown: the
ledger keeps the record pending, and a later trip or session looks for it by its ExternalGUID
in the employee's day before anything is sent again.

A run ends as a pushed one does: with a read-back of the day (a TimeTrackingQuery of the date,
shared by every run of that date and by every lookup), duplicates carrying our GUID removed,
and the hours compared.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings as django_settings
from django.utils import timezone

from connectors.base import (
    RejectedEntry,
    RemoteCostCode,
    RemoteEntry,
    RemoteProject,
    RemoteWorker,
    TimecardEntry,
)
from connectors.quickbooks import mapping, qbxml
from connectors.quickbooks.qbxml import QbxmlRequest, Response, TimeTrackingRecord
from connectors.quickbooks.settings import QuickBooksSettings
from timesync.models import (
    CatalogFetchState,
    ExternalRecord,
    Integration,
    ProjectLink,
    ReferenceCatalog,
    SyncRun,
    SyncState,
    WebConnectorSession,
)
from timesync.sync import engine, runs
from timesync.sync.catalog import CatalogTimeType, catalog_replace
from timesync.sync.ledger import OpKind, OpResult, RemoteOp, ResultKind
from timesync.sync.planning import key_prefix
from timesync.sync.remotes import settings_spec
from timesync.sync.runs import Fence, RunLost

logger = logging.getLogger(__name__)

# Runs one session takes at most (a week of a few hundred projects fits; the rest wait for the
# next session, which the Web Connector starts on its schedule).
MAX_RUNS_A_SESSION = 500
# A block QuickBooks refuses as locked or busy (3170-3180) is tried again this many trips in one
# session; then it waits for the next session.
MAX_TRIES_A_SESSION = 3
DAY_QUERY = "day."
LIST_QUERY = "list."
STRAY_DELETE = "stray."


@dataclass
class Work:
    """What a session holds between calls (the session row's `work`, as JSON)."""

    runs: dict[str, int] = field(default_factory=dict)  # run id → the fence's attempt
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)  # requestID → operation
    days: dict[str, list[int]] = field(default_factory=dict)  # day query → runs to read back
    # Entries to remove (strays carrying our GUID, or orphans), sent every trip until done.
    deletes: dict[str, dict[str, Any]] = field(default_factory=dict)
    removed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # run → removed
    read_back: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # run → its day
    refresh: list[int] = field(default_factory=list)  # runs waiting for fresh EditSequences
    tries: dict[str, int] = field(default_factory=dict)  # run → "busy, try again" answers
    # Hours typed into QuickBooks by hand, by run: read before the run's first add.
    hand: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # QuickBooks' lists read in this session (kind → rows), and where each list's reading is:
    # absent (to ask), an iteratorID (to continue), or "" (read whole).
    lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    list_iterators: dict[str, str] = field(default_factory=dict)
    lists_read: bool = False
    pre_read: dict[str, list[int]] = field(default_factory=dict)  # day query → runs
    next_delete: int = 0
    blocks_sent: int = 0
    blocks_done: int = 0

    @classmethod
    def of(cls, session: WebConnectorSession) -> Work:
        return cls(**session.work) if session.work else cls()

    def save(self, session: WebConnectorSession) -> None:
        session.work = asdict(self)
        WebConnectorSession.objects.filter(pk=session.pk).update(
            work=session.work, blocks_sent=self.blocks_sent, blocks_done=self.blocks_done)

    def fence(self, run_id: int) -> Fence:
        return Fence(run_id=run_id, attempt=self.runs[str(run_id)])

    def delete(self, run_id: int, entry: RemoteEntry, *, orphan: bool = False) -> None:
        self.next_delete += 1
        self.deletes[f"{STRAY_DELETE}{self.next_delete}"] = {
            "run": run_id, "remote_id": entry.remote_id, "hours": str(entry.hours),
            "orphan": orphan}

    def drop(self, run_id: int) -> None:
        self.runs.pop(str(run_id), None)
        self.hand.pop(str(run_id), None)
        self.read_back.pop(str(run_id), None)
        self.removed.pop(str(run_id), None)
        if run_id in self.refresh:
            self.refresh.remove(run_id)


# --- Out: the next message set -------------------------------------------------------------------


def next_message_set(session: WebConnectorSession) -> str:
    """The qbXML for the next trip, or "" when the session has nothing more to send. The caller
    holds the session's call lock (web_connector.py): one call of a session at a time."""
    session = WebConnectorSession.objects.get(pk=session.pk)
    work = Work.of(session)
    # Sent and never answered (the Web Connector asked again without answering): unknown.
    work.sent.clear()
    work.days.clear()
    work.pre_read.clear()
    spec = _settings(session)
    if not work.lists_read and catalog_due(session.integration):
        # The lists first: links are matched from them before any hours go.
        work.save(session)
        return qbxml.message_set(_list_queries(work))
    _claim_waiting(session, work)
    requests: list[QbxmlRequest] = [mapping.delete_request(request_id, txn_id=d["remote_id"])
                                    for request_id, d in work.deletes.items()]
    days: dict[date, str] = {}
    for run in _held_runs(work):
        capacity = spec.blocks_per_trip - len(requests)
        if capacity <= 0:
            break
        if str(run.pk) in work.read_back:
            continue  # read back; its strays go out above
        if run.pk in work.refresh:
            _day_query(run.work_date, days, requests)
            continue
        if spec.hand_entered_hours == "skip" and str(run.pk) not in work.hand:
            # Before the first add: what QuickBooks holds for the day already.
            request_id = _day_query(run.work_date, days, requests)
            work.pre_read.setdefault(request_id, []).append(run.pk)
            continue
        if work.tries.get(str(run.pk), 0) >= MAX_TRIES_A_SESSION:
            _give_back(work, run.pk, "QuickBooks was busy saving; the next session goes on.")
            continue
        try:
            batch = engine.next_ops(run=run, fence=work.fence(run.pk), limit=capacity)
        except RunLost:
            work.drop(run.pk)
            continue
        except Exception as error:  # a run that cannot be planned fails alone, readably
            _fail_run(work, run, error)
            continue
        rejected: list[OpResult] = []
        for op in batch.ops:
            try:
                _refuse_over_hand_entered(op, work.hand.get(str(run.pk), []))
                request = _request(op, spec)
            except RejectedEntry as refusal:
                rejected.append(OpResult(op=op, kind=ResultKind.REJECTED, message=str(refusal)))
                continue
            if request is None:  # a lookup: the day's query answers it
                _day_query(op.work_date or run.work_date, days, requests)
            else:
                requests.append(request)
            work.sent[op.op_id] = _op_json(op, run.pk)
        if rejected:
            engine.apply_results(run=run, fence=work.fence(run.pk), results=rejected)
        if not batch.ops and not rejected:
            if batch.settle_in:
                # A block sent earlier may still land in QuickBooks: the next session checks.
                _give_back(work, run.pk, "Waiting for QuickBooks to settle a block sent "
                                         "earlier.")
            else:
                request_id = _day_query(run.work_date, days, requests)
                work.days.setdefault(request_id, []).append(run.pk)
    work.blocks_sent += len(work.sent)
    work.save(session)
    if not requests:
        give_back(session)
        return ""
    return qbxml.message_set(requests)


def _claim_waiting(session: WebConnectorSession, work: Work) -> None:
    room = MAX_RUNS_A_SESSION - len(work.runs)
    if room <= 0:
        return
    waiting = SyncRun.objects.filter(
        integration_id=session.integration_id, state=SyncState.WAITING,
    ).order_by("work_date", "created_at").values_list("pk", flat=True)[:room]
    for run_id in waiting:
        fence = runs.claim_waiting(run_id)
        if fence is not None:
            runs.forget_non_writes(fence)
            work.runs[str(run_id)] = fence.attempt


def _held_runs(work: Work) -> list[SyncRun]:
    ids = [int(run_id) for run_id in work.runs]
    return list(SyncRun.objects.filter(pk__in=ids, state=SyncState.RUNNING)
                .select_related("integration__organization", "project")
                .order_by("work_date", "pk"))


def _request(op: RemoteOp, spec: QuickBooksSettings) -> QbxmlRequest | None:
    """The qbXML for an operation; None for a lookup (answered by the day's query)."""
    if op.kind == OpKind.CREATE:
        return mapping.add_request(op.op_id, op.entry, wage_items=spec.wage_items())
    if op.kind == OpKind.UPDATE:
        version = ExternalRecord.objects.filter(pk=op.record_id).values_list(
            "remote_version", flat=True).first() or ""
        return mapping.mod_request(op.op_id, op.entry, txn_id=op.remote_id,
                                   edit_sequence=version, wage_items=spec.wage_items())
    if op.kind == OpKind.DELETE:
        return mapping.delete_request(op.op_id, txn_id=op.remote_id)
    return None


def _day_query(work_date: date, days: dict[date, str], requests: list[QbxmlRequest]) -> str:
    """The id of this trip's TimeTrackingQuery of `work_date`, asked once per date and trip:
    it answers every lookup of that day and every read-back of a run of that day."""
    if work_date not in days:
        days[work_date] = f"{DAY_QUERY}{work_date.isoformat()}"
        requests.append(qbxml.TimeTrackingQuery(request_id=days[work_date], from_date=work_date,
                                                to_date=work_date))
    return days[work_date]


# --- QuickBooks' lists: the catalog, read in the session itself ---------------------------------


def catalog_due(integration: Integration) -> bool:
    """The lists are read when never read, older than QBWC_CATALOG_MAX_AGE_SECONDS, or asked
    for ("Refresh from QuickBooks" queues a fetch that the next session honours)."""
    catalog = ReferenceCatalog.objects.filter(integration=integration).first()
    if catalog is None or catalog.fetched_at is None:
        return True
    if catalog.fetch_state == CatalogFetchState.QUEUED:
        return True
    age = timezone.now() - catalog.fetched_at
    return age > timedelta(seconds=django_settings.QBWC_CATALOG_MAX_AGE_SECONDS)


def _list_queries(work: Work) -> list[QbxmlRequest]:
    return [qbxml.ListQuery(request_id=f"{LIST_QUERY}{kind}", kind=kind,
                            iterator_id=work.list_iterators.get(kind, ""))
            for kind in qbxml.LIST_KINDS if work.list_iterators.get(kind) != ""]


def _take_lists(session: WebConnectorSession, work: Work, answers: dict[str, Response]) -> None:
    for kind in qbxml.LIST_KINDS:
        answer = answers.get(f"{LIST_QUERY}{kind}")
        if answer is None:
            continue  # asked again next trip
        if not answer.ok:
            # A list this company cannot give (a feature turned off in QuickBooks): read as
            # empty rather than asked forever; what it lacks shows as unmatched on Mappings.
            logger.warning("Web Connector: QuickBooks refused the %s list: %s (%s)", kind,
                           answer.message, answer.status_code)
            work.list_iterators[kind] = ""
            continue
        work.lists.setdefault(kind, []).extend(
            {"id": r.list_id, "name": r.name, "full_name": r.full_name, "active": r.is_active,
             "parent": r.parent.list_id if r.parent else "", "fields": r.fields}
            for r in answer.list_records)
        work.list_iterators[kind] = answer.iterator_id if answer.remaining else ""
    if any(work.list_iterators.get(kind) != "" for kind in qbxml.LIST_KINDS):
        return
    lists = work.lists
    catalog_replace(
        integration=session.integration, fetched_at=session.created_at,
        workers=[RemoteWorker(
            remote_id=row["id"], name=_person_name(row), active=row["active"],
            employee_number=row["fields"].get("AccountNumber", ""),
            email=row["fields"].get("Email", "")) for row in lists.get("Employee", [])],
        projects=[RemoteProject(remote_id=row["id"], name=row["name"],
                                number=row["fields"].get("AccountNumber", ""),
                                parent_remote_id=row["parent"])
                  for row in lists.get("Customer", []) if row["active"]],
        cost_codes=[RemoteCostCode(remote_id=row["id"], code=row["name"],
                                   name=row["full_name"])
                    for row in lists.get("ItemService", []) if row["active"]],
        time_types=[CatalogTimeType(remote_id=row["id"], name=row["name"])
                    for row in lists.get("PayrollItemWage", []) if row["active"]],
    )
    work.lists.clear()
    work.list_iterators.clear()
    work.lists_read = True


def _person_name(row: dict[str, Any]) -> str:
    """QuickBooks keeps "Silva, Ana" or "Ana Silva" as the name; first and last name, when
    given, match our workers' names."""
    first, last = row["fields"].get("FirstName", ""), row["fields"].get("LastName", "")
    return f"{first} {last}".strip() if first and last else row["name"]


# --- In: QuickBooks' answers ---------------------------------------------------------------------


def take_responses(session: WebConnectorSession, response_xml: str) -> int:
    """Every answer to the engine; returns the session's progress in percent. The caller holds
    the session's call lock."""
    session = WebConnectorSession.objects.get(pk=session.pk)
    work = Work.of(session)
    answers = {answer.request_id: answer
               for answer in qbxml.read_responses(response_xml.encode("utf-8"))}
    if any(request_id.startswith(LIST_QUERY) for request_id in answers):
        _take_lists(session, work, answers)
        work.save(session)
        return _progress(session, work)
    day_of = {date.fromisoformat(request_id.removeprefix(DAY_QUERY)): answer.time_tracking
              for request_id, answer in answers.items()
              if request_id.startswith(DAY_QUERY) and answer.ok}
    held = {run.pk: run for run in _held_runs(work)}
    for records in day_of.values():  # once per day answered, whatever the runs of that day
        _keep_versions(session.integration_id, records)
    for run in held.values():
        if run.work_date in day_of and run.pk in work.refresh:
            work.refresh.remove(run.pk)
    results: dict[int, list[OpResult]] = {}
    for op_id, stored in work.sent.items():
        op = _op_from_json(stored)
        result = _result(op, answers.get(op_id), day_of, work, stored["run"])
        if result is not None:
            results.setdefault(stored["run"], []).append(result)
            work.blocks_done += 1
    for run_id, run_results in results.items():
        run = held.get(run_id)
        if run is None:
            continue
        try:
            orphans = engine.apply_results(run=run, fence=work.fence(run_id),
                                           results=run_results)
        except RunLost:
            work.drop(run_id)
            continue
        for remote_id in orphans:  # created after another run took its record: undone
            work.delete(run_id, RemoteEntry(remote_id=remote_id, idempotency_key=None,
                                            worker_remote_id="", project_remote_id="",
                                            work_date=run.work_date, hours=Decimal(0)),
                        orphan=True)
    for request_id in list(work.deletes):
        answer = answers.get(request_id)
        if answer is not None and (answer.ok or answer.missing_reference):
            done = work.deletes.pop(request_id)
            if not done["orphan"]:
                work.removed.setdefault(str(done["run"]), []).append(done)
    for request_id, run_ids in work.pre_read.items():
        answer = answers.get(request_id)
        if answer is not None and answer.ok:
            for run_id in run_ids:
                if run_id in held:
                    work.hand[str(run_id)] = _hand_entered(held[run_id], answer.time_tracking)
    for request_id, run_ids in work.days.items():
        answer = answers.get(request_id)
        if answer is None or not answer.ok:
            continue
        for run_id in run_ids:
            if run_id in held:
                _read_back(held[run_id], work, answer.time_tracking)
    _finish_read_back(held, work)
    work.sent.clear()
    work.days.clear()
    work.pre_read.clear()
    work.save(session)
    return _progress(session, work)


def _result(op: RemoteOp, answer: Response | None, day_of: dict[date, tuple],
            work: Work, run_id: int) -> OpResult | None:
    if op.kind == OpKind.FIND:
        records = day_of.get(op.work_date)
        if records is None:
            return None  # the day's answer did not come back: still unknown
        found = _ours(records, op.idempotency_key)
        if found is None:
            return OpResult(op=op, kind=ResultKind.NOT_FOUND)
        return OpResult(op=op, kind=ResultKind.APPLIED, remote=_remote(found, op))
    if answer is None:
        return None  # no answer: unknown, the ledger keeps it pending
    if answer.ok:
        record = answer.time_tracking[0] if answer.time_tracking else None
        return OpResult(op=op, kind=ResultKind.APPLIED,
                        remote=_remote(record, op) if record is not None else None)
    if op.kind in (OpKind.DELETE, OpKind.UPDATE) and answer.missing_reference \
            and op.remote_id and op.remote_id in answer.message:
        # The transaction itself is gone from QuickBooks (deleted there): a delete is done,
        # an update is written anew.
        return OpResult(op=op, kind=ResultKind.NOT_FOUND)
    if answer.retryable or answer.status_code == qbxml.STATUS_EDIT_SEQUENCE_STALE:
        work.tries[str(run_id)] = work.tries.get(str(run_id), 0) + 1
        if answer.status_code == qbxml.STATUS_EDIT_SEQUENCE_STALE and run_id not in work.refresh:
            # Edited in QuickBooks since we read it: the day's query gives the current
            # EditSequence before the edit is sent again.
            work.refresh.append(run_id)
        return OpResult(op=op, kind=ResultKind.NOT_APPLIED,
                        message=f"QuickBooks could not save it yet: {answer.message}")
    if answer.missing_reference:
        return OpResult(op=op, kind=ResultKind.REJECTED, message=(
            f"QuickBooks does not know someone or something this block names: "
            f"{answer.message} Add it in QuickBooks (or fix the link on the Mappings page); "
            "the hours go with the next sync of this day."))
    return OpResult(op=op, kind=ResultKind.REJECTED,
                    message=f"QuickBooks refused the block: {answer.message} "
                            f"(status {answer.status_code}).")


def _hand_entered(run: SyncRun, records: tuple[TimeTrackingRecord, ...]
                  ) -> list[dict[str, Any]]:
    """The run's customer:job's entries of the day that carry no GUID of ours."""
    job = _job(run)
    keys = _keys_by_guid(run)
    return [{"worker": entry.worker_remote_id, "hours": str(entry.hours),
             "txn": entry.remote_id}
            for entry in (mapping.remote_entry(record, keys_by_guid=keys) for record in records)
            if entry.idempotency_key is None and entry.project_remote_id == job]


def _job(run: SyncRun) -> str:
    """The customer:job (ListID) the run's project is linked to."""
    return ProjectLink.objects.filter(integration_id=run.integration_id,
                                      project_id=run.project_id).values_list(
        "remote_project_id", flat=True).first() or ""


def _refuse_over_hand_entered(op: RemoteOp, hand: list[dict[str, Any]]) -> None:
    """An add for an employee who already has hours typed in by hand for the same day and
    customer:job is reported, not sent: paying them twice is the mistake this prevents."""
    if op.kind != OpKind.CREATE or op.entry is None:
        return
    typed = [h for h in hand if h["worker"] == op.entry.worker_remote_id]
    if typed:
        hours = sum((Decimal(h["hours"]) for h in typed), Decimal(0))
        raise RejectedEntry(
            f"QuickBooks already holds {hours:.2f} h typed in by hand for this employee on "
            f"{op.entry.work_date:%a %d %b} on this job (transaction "
            f"{', '.join(h['txn'] for h in typed)}): not sent, so they are not paid twice. "
            "Delete those hours in QuickBooks, or set the integration to send anyway.")


def _ours(records: tuple[TimeTrackingRecord, ...], key: str) -> TimeTrackingRecord | None:
    guid = mapping.external_guid(key)
    return next((record for record in records
                 if record.external_guid and mapping.same_guid(record.external_guid, guid)),
                None)


def _remote(record: TimeTrackingRecord, op: RemoteOp) -> RemoteEntry:
    entry = mapping.remote_entry(record, keys_by_guid={
        mapping.external_guid(op.idempotency_key): op.idempotency_key})
    return replace(entry, version=record.edit_sequence)


def _keep_versions(integration_id: int, records: tuple[TimeTrackingRecord, ...]) -> None:
    """What QuickBooks says of our entries' EditSequences, kept for the next edit: one read for
    the day, a write only for those that changed (a day holds a thousand entries)."""
    versions = {record.txn_id: record.edit_sequence for record in records
                if record.external_guid and record.edit_sequence}
    held = ExternalRecord.objects.filter(integration_id=integration_id,
                                         remote_id__in=list(versions)).values_list(
        "pk", "remote_id", "remote_version")
    for pk, txn_id, version in held:
        if version != versions[txn_id]:
            ExternalRecord.objects.filter(pk=pk).update(remote_version=versions[txn_id])


def _read_back(run: SyncRun, work: Work, records: tuple[TimeTrackingRecord, ...]) -> None:
    """The day as QuickBooks holds it for the run's customer:job: strays carrying our GUID go
    in the next trip, then the run ends."""
    run_engine = engine.RunEngine(run=run, fence=work.fence(run.pk))
    job = _job(run)
    keys = _keys_by_guid(run)
    entries = [mapping.remote_entry(record, keys_by_guid=keys) for record in records
               if record.customer is not None and record.customer.list_id == job]
    for stray in run_engine.strays(entries):
        work.delete(run.pk, stray)
    work.read_back[str(run.pk)] = [
        {"remote_id": entry.remote_id, "hours": str(entry.hours),
         "key": entry.idempotency_key or "", "worker": entry.worker_remote_id}
        for entry in entries]


def _keys_by_guid(run: SyncRun) -> dict[str, str]:
    keys = ExternalRecord.objects.filter(
        integration_id=run.integration_id, work_date=run.work_date,
        idempotency_key__startswith=key_prefix(run.integration),
    ).values_list("idempotency_key", flat=True)
    return {mapping.external_guid(key): key for key in keys}


def _finish_read_back(held: dict[int, SyncRun], work: Work) -> None:
    """A run read back whose strays are all removed ends now, as a pushed run does."""
    pending = {d["run"] for d in work.deletes.values()}
    for run_key, stored in list(work.read_back.items()):
        run_id = int(run_key)
        run = held.get(run_id)
        if run is None or run_id in pending:
            continue
        entries = [_plain(entry, run) for entry in stored]
        removed = [_plain(entry, run) for entry in work.removed.get(run_key, [])]
        with contextlib.suppress(RunLost):  # another session has it now: it finishes it
            engine.RunEngine(run=run, fence=work.fence(run_id)).finish(entries=entries,
                                                                       removed=removed)
        work.drop(run_id)


def _plain(stored: dict[str, Any], run: SyncRun) -> RemoteEntry:
    return RemoteEntry(remote_id=stored["remote_id"], idempotency_key=stored.get("key") or None,
                       worker_remote_id=stored.get("worker", ""), project_remote_id="",
                       work_date=run.work_date, hours=Decimal(stored["hours"]))


def _progress(session: WebConnectorSession, work: Work) -> int:
    """100 when no held run is left and nothing else waits; else an honest share below 100."""
    if not work.lists_read and work.list_iterators:
        read = sum(1 for kind in qbxml.LIST_KINDS if work.list_iterators.get(kind) == "")
        return max(1, min(99, int(100 * read / (len(qbxml.LIST_KINDS) + 1))))
    if not work.runs and not SyncRun.objects.filter(
            integration_id=session.integration_id, state=SyncState.WAITING).exists():
        return 100
    return max(1, min(99, int(100 * work.blocks_done / (work.blocks_sent + 1))))


def _fail_run(work: Work, run: SyncRun, error: Exception) -> None:
    logger.warning("Web Connector: run %s cannot go on: %s", run.pk, error)
    with contextlib.suppress(RunLost):  # another session has it now: it decides
        runs.fail(work.fence(run.pk), str(error) or "The sync could not be planned.")
    work.drop(run.pk)


def _give_back(work: Work, run_id: int, reason: str) -> None:
    runs.give_back(work.fence(run_id), reason=reason)
    work.drop(run_id)


def give_back(session: WebConnectorSession) -> None:
    """The session ends: every run it holds unfinished waits for the next one."""
    work = Work.of(session)
    for run_id in list(work.runs):
        runs.give_back(work.fence(int(run_id)))
        work.drop(int(run_id))
    work.deletes.clear()
    work.save(session)


def _settings(session: WebConnectorSession) -> QuickBooksSettings:
    spec = settings_spec(session.integration.kind).model_validate(session.integration.settings)
    if not isinstance(spec, QuickBooksSettings):
        raise TypeError("only a QuickBooks integration has Web Connector sessions")
    return spec


# --- Operations as JSON (a session's trips are separate HTTP requests) ---------------------------


def _op_json(op: RemoteOp, run_id: int) -> dict[str, Any]:
    data = asdict(op)
    data["run"] = run_id
    return _jsonable(data)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (date, datetime, Decimal)):
        return value.isoformat() if not isinstance(value, Decimal) else str(value)
    return value


def _op_from_json(data: dict[str, Any]) -> RemoteOp:
    data = {key: value for key, value in data.items() if key != "run"}
    entry = data.pop("entry")
    if entry is not None:
        entry = TimecardEntry(**{
            **entry, "work_date": date.fromisoformat(entry["work_date"]),
            "hours": Decimal(entry["hours"]),
            "start": datetime.fromisoformat(entry["start"]) if entry["start"] else None,
            "end": datetime.fromisoformat(entry["end"]) if entry["end"] else None,
        })
    work_date = data.pop("work_date")
    return RemoteOp(**data, entry=entry,
                    work_date=date.fromisoformat(work_date) if work_date else None)
