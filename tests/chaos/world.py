"""One trial's world (an organization with a Plexxis or a Procore integration on its emulator,
a linked project, workers, shifts on a few days) and the judge: what the remote, the ledger and
the run logs must say once the dust has settled.

The judge computes the desired state from the shifts themselves (start, end, break), not from
the engine's planning code, so a bug there cannot hide from it.

Two-way (a Procore integration in direction `both`), the desired state is the last writer's,
as Procore decides it: Procore has no conditional writes, so whatever reached Procore last is
what it holds, and the receiving side (webhooks, then the sweep) makes our shift say the same;
our edits reach Procore through the next sync. Once everything has settled the judge wants:
our shifts and Procore's entries one to one (each eligible shift of ours in Procore exactly
once with its hours, no entry that no shift of ours holds: an entry entered in Procore is a
shift of ours), and a deletion made in Procore, when it was the last word on that entry (no
request of ours named the entry afterwards and nobody edited the shift afterwards), ends
with the shift deleted in Timesync, not sent back.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from connectors.procore import oauth
from connectors.procore.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests import factories
from timesync import crypto, services
from timesync.models import (
    ApprovalState,
    ExternalRecord,
    InboundEvent,
    Integration,
    IntegrationKind,
    Membership,
    OAuthToken,
    Project,
    ProjectLink,
    RecordState,
    Role,
    Shift,
    SyncLogEntry,
    SyncOutcome,
    SyncRun,
    Worker,
    WorkerLink,
)
from timesync.sync import procore, procore_receive
from timesync.sync import services as sync_services

from .stack import CountingEmulator, CountingProcoreEmulator

TORONTO = ZoneInfo("America/Toronto")
DAYS = (date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3))
JOB = "24-101"
API_KEY = "chaos-plexxis-key"
KNOWN = [("1001", "Ana", "Silva"), ("1002", "Ben", "Okafor"), ("1003", "Chen", "Li"),
         ("1004", "Dara", "Nowak"), ("1005", "Eli", "Haddad"), ("1006", "Fay", "Moreau"),
         ("1007", "Gus", "Tran"), ("1008", "Hana", "Sato"), ("1009", "Ivo", "Petrov"),
         ("1010", "Jo", "Mensah")]
UNKNOWN = ("9999", "Cy", "Unknown")  # not in Plexxis: its shifts are skipped, never sent
# Procore: one company, one project (total hours), a person per known worker.
PROCORE_COMPANY = 8_000_000_001
PROCORE_PROJECT = 7_100_000_001
PROCORE_COST_CODE = 7_300_000_001
PARTIES = {code: 9_100_000_001 + n for n, (code, _first, _last) in enumerate(KNOWN)}
OUR_APP = "timesync-app"  # the emulator's application id for our client: our own webhooks
COUNTS = {SyncOutcome.CREATED: "created_count", SyncOutcome.UPDATED: "updated_count",
          SyncOutcome.DELETED: "deleted_count", SyncOutcome.UNCHANGED: "unchanged_count",
          SyncOutcome.SKIPPED: "skipped_count"}


@dataclass
class ProcoreAction:
    """A change made in Procore's own screens while the trial runs (webhooks fire)."""

    kind: str  # "create" | "edit" | "delete"
    entry_id: int
    at: float  # time.time(), as the emulator's request log stamps requests
    shift_id: int | None = None  # the shift of ours that held the entry then, if known


@dataclass
class World:
    emulator: CountingEmulator | CountingProcoreEmulator
    admin: Membership
    payroll: Membership
    integration: Integration
    project: Project
    link: ProjectLink
    workers: list[Worker]
    days: list[date]
    touched: set[date] = field(default_factory=set)
    remote: str = "plexxis"  # or "procore"
    direction: str = "send"  # Procore's: "send" or "both"
    procore_actions: list[ProcoreAction] = field(default_factory=list)
    our_edits: list[tuple[int, float]] = field(default_factory=list)  # (shift, time.time())

    @property
    def system(self) -> str:
        return "Procore" if self.remote == "procore" else "Plexxis"

    @property
    def two_way(self) -> bool:
        return self.remote == "procore" and self.direction == "both"

    @property
    def key_prefix(self) -> str:
        return f"timesync-{self.integration.organization_id}-{self.integration.pk}-"

    def shifts(self) -> list[Shift]:
        return list(Shift.objects.filter(project=self.project).select_related("worker"))

    def runs(self) -> list[SyncRun]:
        return list(SyncRun.objects.filter(integration=self.integration).order_by("pk"))


def build_world(emulator: CountingEmulator | CountingProcoreEmulator, rng: random.Random,
                *, direction: str = "send") -> World:
    """A fresh organization each trial (the emulator is reset too), so no trial sees
    another's entries, records or runs."""
    procore = isinstance(emulator, CountingProcoreEmulator)
    emulator.reset()
    if procore:
        emulator.seed(
            companies=[{"id": PROCORE_COMPANY, "name": "Northwind Builders"}],
            people=[{"id": PARTIES[code], "company_id": PROCORE_COMPANY, "first_name": first,
                     "last_name": last, "is_employee": True, "employee_id": code}
                    for code, first, last in KNOWN],
            projects=[{"id": PROCORE_PROJECT, "company_id": PROCORE_COMPANY,
                       "name": "King Street Tower", "project_number": JOB}],
            cost_codes=[{"id": PROCORE_COST_CODE, "project_id": PROCORE_PROJECT,
                         "full_code": "03.100", "name": "Concrete Formwork"}],
            standard_cost_codes=[{"company_id": PROCORE_COMPANY, "full_code": "03.100",
                                  "name": "Concrete Formwork"}],
        )
    else:
        emulator.seed(
            employees=[{"code": code, "first_name": first, "last_name": last}
                       for code, first, last in KNOWN],
            jobs=[{"job_number": JOB, "name": "King Street Tower"}],
            cost_codes=[{"code": "03.100", "description": "Concrete Formwork"}],
        )
    organization = factories.OrganizationFactory(time_zone="America/Toronto")
    admin = factories.MembershipFactory(organization=organization, role=Role.ADMIN)
    payroll = factories.MembershipFactory(organization=organization, role=Role.PAYROLL_ADMIN)
    project = factories.ProjectFactory(organization=organization, code=JOB,
                                       name="King Street Tower")
    workers = [factories.WorkerFactory(organization=organization, name=f"{first} {last}",
                                       employee_number=code)
               for code, first, last in [*KNOWN, UNKNOWN]]
    cost_code = factories.CostCodeFactory(organization=organization, code="03.100",
                                          name="Concrete Formwork")
    if procore:
        integration = _procore_integration(organization, emulator, direction)
    else:
        integration = sync_services.integration_create(
            actor=admin, kind="plexxis", name="Plexxis V2",
            settings={"base_url": emulator.base_url}, credentials={"api_key": API_KEY},
        )
    sync_services.integration_refresh_links(actor=admin, integration=integration)
    link = sync_services.project_link_set(
        actor=admin, integration=integration, project=project,
        sync_only_approved=rng.random() < 0.4,
    )
    if procore and direction == "both":
        receiver = procore_receive.procore_receiving_enable(integration=integration)
        if receiver is None or receiver.hook_id is None:
            raise RuntimeError(f"no Procore hook: {receiver and receiver.hook_error}")
    days = list(DAYS[: rng.choice((2, 3))])
    for day in days:
        for worker in rng.sample(workers, rng.randint(4, 9)):
            start = datetime(day.year, day.month, day.day, 7, tzinfo=TORONTO)
            # Whole quarter hours: the judge's hours are exact, whatever the rounding.
            hours = Decimal(rng.randint(24, 40)) / 4
            shift = services.shift_create(
                actor=payroll, worker=worker, project=project, start=start,
                end=start + timedelta(hours=float(hours)), break_minutes=30,
                cost_code=cost_code,
            )
            decision = rng.random()
            if decision < 0.65:
                services.shift_decide(actor=payroll, shift=shift, approve=True)
            elif decision < 0.75:
                services.shift_decide(actor=payroll, shift=shift, approve=False,
                                      reason="Not on site")
    return World(emulator=emulator, admin=admin, payroll=payroll, integration=integration,
                 project=project, link=link, workers=workers, days=days, touched=set(days),
                 remote="procore" if procore else "plexxis", direction=direction)


def _procore_integration(organization, emulator: CountingProcoreEmulator,
                         direction: str) -> Integration:
    """Connected with client credentials (a service account), its tokens in the token store
    as connecting leaves them; our app's id set so that our own writes' webhooks are ours."""
    integration = Integration.objects.create(
        organization=organization, kind=IntegrationKind.PROCORE, name="Procore",
        settings={"api_base_url": emulator.api_base_url,
                  "login_base_url": emulator.login_base_url,
                  "company_id": PROCORE_COMPANY, "grant": "client_credentials",
                  "direction": direction, "application_id": OUR_APP},
        credentials_encrypted=crypto.encrypt_json({"client_id": DEFAULT_CLIENT_ID,
                                                   "client_secret": DEFAULT_CLIENT_SECRET}))
    issued = emulator.issue_tokens()
    OAuthToken.objects.create(
        organization=organization, integration=integration,
        access_token_encrypted=crypto.encrypt_json({"token": issued["access_token"]}),
        refresh_token_encrypted=crypto.encrypt_json({"token": issued["refresh_token"]}),
        expires_at=datetime.now(tz=TORONTO) + timedelta(seconds=issued["expires_in"]))
    return integration


def procore_reconnect_if_needed(world: World) -> str | None:
    """A worker killed (or its database session ended) between Procore's answer to a refresh
    and the commit of the new pair loses the grant: refresh tokens are single-use, and the new
    one died with the process. The integration is then "reconnect needed" (runs stop with the
    reason, admins are emailed): the trial does what the admin would, connect again, before
    the clean syncs. Returns the reason, or None when the grant held."""
    integration = Integration.objects.get(pk=world.integration.pk)
    if not integration.reconnect_reason:
        return None
    issued = world.emulator.issue_tokens()
    grant = oauth.TokenGrant(
        access_token=issued["access_token"], refresh_token=issued["refresh_token"],
        expires_at=timezone.now() + timedelta(seconds=issued["expires_in"]))
    procore.procore_connected(actor=world.admin.user, integration=integration,
                              grant=procore.ProcoreGrant(tokens=grant,
                                                         company_name="Northwind Builders"),
                              note="Connected again after the grant was lost (chaos).")
    return integration.reconnect_reason


def procore_entry_owner(world: World, entry: dict) -> int | None:
    """The shift of ours an entry in Procore stands for: ours by the key we wrote in it, one
    entered in Procore by the ledger record receiving it made."""
    reference = entry.get("origin_data") or ""
    if reference.startswith(world.key_prefix) and len(reference.split("-")) == 5:
        return int(reference.split("-")[3])
    return ExternalRecord.objects.filter(
        integration=world.integration, remote_id=str(entry["id"]),
    ).order_by("-pk").values_list("shift_id", flat=True).first()


def now() -> float:
    return time.time()


# --- The judge ------------------------------------------------------------------------------


@dataclass
class Verdict:
    duplicates: int = 0
    losses: int = 0
    wrong: int = 0
    notes: list[str] = field(default_factory=list)

    def note(self, kind: str, text: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        self.notes.append(f"{kind}: {text}")


def _expected_hours(shift: Shift) -> Decimal:
    worked = shift.end - shift.start - timedelta(minutes=shift.break_minutes)
    return (Decimal(int(worked.total_seconds())) / 3600).quantize(Decimal("0.01"))


def should_be_remote(shift: Shift, link: ProjectLink, known_workers: set[int]) -> bool:
    return (
        shift.deleted_at is None and shift.end is not None
        and shift.project_id == link.project_id
        and shift.approval_state != ApprovalState.REJECTED
        and (not link.sync_only_approved or shift.approval_state == ApprovalState.APPROVED)
        and shift.worker_id in known_workers
    )


def judge(world: World) -> Verdict:
    """Each eligible shift exactly once in the remote, with its hours, on the job and its day;
    nothing for the others; the ledger saying the same; each run's counts equal to its lines.
    Two-way, also: every entry in Procore is a shift of ours, and Procore's last word on an
    entry (a deletion) is what our shifts say."""
    verdict = Verdict()
    link = ProjectLink.objects.get(pk=world.link.pk)
    known = set(WorkerLink.objects.filter(integration=world.integration)
                .values_list("worker_id", flat=True))
    numbers = {w.pk: w.employee_number for w in world.workers}
    by_shift = _procore_entries(world, verdict) if world.remote == "procore" \
        else _plexxis_entries(world, verdict)
    records = {r.shift_id: r for r in ExternalRecord.objects.filter(integration=world.integration)}
    system = world.system

    for shift in world.shifts():
        entries = by_shift.pop(shift.pk, [])
        record = records.get(shift.pk)
        if len(entries) > 1:
            verdict.duplicates += len(entries) - 1
            verdict.notes.append(f"duplicates: shift {shift.pk} is in {system} {len(entries)} "
                                 f"times: {[e['id'] for e in entries]}")
        if not should_be_remote(shift, link, known):
            if entries:
                verdict.note("wrong", f"shift {shift.pk} ({_why_not(shift, link, known)}) is "
                                      f"still in {system} as {[e['id'] for e in entries]}")
            elif record is not None and record.state != RecordState.DELETED:
                verdict.note("wrong", f"shift {shift.pk} is gone from {system} but its ledger "
                                      f"record says {record.state} {record.remote_id}")
            continue
        if not entries:
            verdict.note("losses", f"shift {shift.pk} ({shift.worker.name}, {shift.work_date}, "
                                   f"{_expected_hours(shift)} h) is not in {system}; ledger: "
                                   f"{record.state if record else 'no record'}")
            continue
        entry = entries[0]
        if world.remote == "procore":
            want = {"party": PARTIES[numbers[shift.worker_id]],
                    "project": int(link.remote_project_id),
                    "date": shift.work_date.isoformat(),
                    "hours": f"{_expected_hours(shift):.2f}"}
            got = {"party": entry["party"]["id"], "project": entry["project"]["id"],
                   "date": entry["date"], "hours": entry["hours"]}
        else:
            want = {"employee_code": numbers[shift.worker_id],
                    "job_number": link.remote_project_id, "sub_job_code": None,
                    "work_date": shift.work_date.isoformat(),
                    "hours": f"{_expected_hours(shift):.2f}"}
            got = {name: entry.get(name) for name in want}
        if got != want:
            verdict.note("wrong", f"shift {shift.pk} is in {system} as {got}, should be {want}")
        elif record is None or record.state != RecordState.SYNCED or (
            len(entries) == 1 and str(record.remote_id) != str(entry["id"])
        ) or record.hours != _expected_hours(shift) or record.work_date != shift.work_date:
            verdict.note("wrong", f"shift {shift.pk}: the ledger ({_describe(record)}) disagrees "
                                  f"with {system} ({entry['id']}, {entry['hours']} h, "
                                  f"{got.get('date') or got.get('work_date')})")
    for shift_id, entries in by_shift.items():
        verdict.note("wrong", f"entries for shift {shift_id}, not one of this project's: "
                              f"{[e['id'] for e in entries]}")
    if world.two_way:
        _judge_procore_deletions(world, verdict)
    _judge_run_logs(world, verdict)
    return verdict


def _plexxis_entries(world: World, verdict: Verdict) -> dict[int, list[dict]]:
    by_shift: dict[int, list[dict]] = defaultdict(list)
    for entry in world.emulator.entries():
        reference = entry.get("external_reference") or ""
        parts = reference.split("-")
        if not reference.startswith(world.key_prefix) or len(parts) != 5:
            verdict.note("wrong", f"an entry nobody should have written: {entry}")
            continue
        by_shift[int(parts[3])].append(entry)
    return by_shift


def _procore_entries(world: World, verdict: Verdict) -> dict[int, list[dict]]:
    """Procore's live entries by the shift of ours each stands for. One that no shift holds
    was entered in Procore and never became ours (a loss), or nobody should have written it."""
    by_shift: dict[int, list[dict]] = defaultdict(list)
    for entry in world.emulator.entries():
        owner = procore_entry_owner(world, entry)
        if owner is not None:
            by_shift[owner].append(entry)
        elif not entry.get("origin_data") and world.two_way:
            verdict.note("losses", f"entry {entry['id']} entered in Procore ({entry['date']}, "
                                   f"{entry['hours']} h, person {entry['party']['id']}) is no "
                                   f"shift of ours")
        else:
            verdict.note("wrong", f"an entry nobody should have written: {entry['id']} "
                                  f"{entry.get('origin_data')!r}")
    return by_shift


def _judge_procore_deletions(world: World, verdict: Verdict) -> None:
    """A deletion made in Procore that was the last word on its entry (no request of ours
    named the entry afterwards, nobody edited the shift afterwards, no later change in
    Procore) leaves the shift deleted in Timesync: not kept, not sent back."""
    log = world.emulator.request_log()
    for n, action in enumerate(world.procore_actions):
        if action.kind != "delete":
            continue
        suffix = f"/timecard_entries/{action.entry_id}"
        if any(a.entry_id == action.entry_id for a in world.procore_actions[n + 1:]) or any(
                logged.path.endswith(suffix) and logged.method in ("PATCH", "DELETE")
                and logged.at > action.at for logged in log):
            continue
        owners = set(ExternalRecord.objects.filter(
            integration=world.integration, remote_id=str(action.entry_id),
        ).values_list("shift_id", flat=True))
        if action.shift_id is not None:
            owners.add(action.shift_id)
        for shift in Shift.objects.filter(pk__in=owners, deleted_at__isnull=True):
            if any(shift_id == shift.pk and at > action.at for shift_id, at in world.our_edits):
                continue  # edited here afterwards: our edit is the later word
            record = ExternalRecord.objects.filter(integration=world.integration,
                                                   shift=shift).first()
            received = list(InboundEvent.objects.filter(
                integration=world.integration, resource_id=str(action.entry_id),
            ).order_by("pk").values_list("source", "event_type", "state", "outcome"))
            verdict.note("wrong", f"entry {action.entry_id} was deleted in Procore, but shift "
                                  f"{shift.pk} ({shift.worker.name}, {shift.work_date}) is "
                                  f"still live here; ledger: {_describe(record)}; received: "
                                  f"{received}")


def _judge_run_logs(world: World, verdict: Verdict) -> None:
    lines = Counter(SyncLogEntry.objects.filter(run__integration=world.integration)
                    .values_list("run_id", "outcome"))
    per_shift = Counter(SyncLogEntry.objects.filter(run__integration=world.integration)
                        .values_list("run_id", "shift_id"))
    for run in world.runs():
        counted = {field_: getattr(run, field_) for field_ in COUNTS.values()}
        logged = {field_: lines.get((run.pk, outcome), 0) for outcome, field_ in COUNTS.items()}
        if run.state in ("succeeded", "succeeded_with_warnings", "failed") and counted != logged:
            verdict.note("wrong", f"run {run.pk} ({run.state}) counts {counted} but its log "
                                  f"has {logged}")
    for (run_id, shift_id), n in per_shift.items():
        if shift_id is not None and n > 1:
            verdict.note("wrong", f"run {run_id} logged shift {shift_id} {n} times")


def _why_not(shift: Shift, link: ProjectLink, known: set[int]) -> str:
    if shift.deleted_at is not None:
        return "deleted"
    if shift.approval_state == ApprovalState.REJECTED:
        return "rejected"
    if shift.worker_id not in known:
        return "worker unknown to the remote"
    if link.sync_only_approved and shift.approval_state != ApprovalState.APPROVED:
        return "not approved"
    return "not eligible"


def _describe(record: ExternalRecord | None) -> str:
    if record is None:
        return "no record"
    return (f"{record.state} {record.remote_id or '-'} {record.hours} h {record.work_date} "
            f"rev {record.revision}")
