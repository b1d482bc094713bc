"""What a trial does to the stack: a seeded list of timed events (clicks, faults, edits) and
the code that carries each one out while the runs are in flight."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection

from timesync import services
from timesync.models import (
    ACTIVE_SYNC_STATES,
    ApprovalState,
    Shift,
    SyncRun,
    SyncState,
    SyncTrigger,
)
from timesync.sync import dispatch, procore_receive
from timesync.sync import runs as sync_runs

from .stack import PrivateRedis, Worker
from .world import (
    KNOWN,
    PARTIES,
    PROCORE_PROJECT,
    TORONTO,
    ProcoreAction,
    World,
    now,
    procore_entry_owner,
)

REMOTE_FAULTS = ("apply_late", "lose_response", "rate_limit", "server_error", "timeout")
# Procore's own on top: every access token expiring at once (two workers then refresh with a
# single-use refresh token).
PROCORE_FAULTS = (*REMOTE_FAULTS, "token_expiry")
# Webhook deliveries that repeat, arrive newest first, or never arrive (the sweep's to catch).
DELIVERY_FAULTS = ("repeat", "reorder", "drop")
WRITES = ("POST", "PATCH", "DELETE")


@dataclass(frozen=True)
class Timing:
    """The engine's windows, shortened so a trial takes seconds (the workers get the same)."""

    stale: int = 3  # SYNC_RUN_STALE_SECONDS
    lifetime: float = 2.0  # SYNC_REMOTE_REQUEST_LIFETIME_SECONDS
    read_timeout: float = 0.5  # PLEXXIS_READ_TIMEOUT_SECONDS and PROCORE_READ_TIMEOUT_SECONDS
    lost: int = 2  # SYNC_RUN_LOST_SECONDS
    retry_base: float = 0.2
    retry_max: float = 1.5
    chaos_window: float = 2.5  # events happen within this many seconds of the first click

    def environment(self) -> dict[str, str]:
        return {
            "SYNC_RUN_STALE_SECONDS": str(self.stale),
            "SYNC_REMOTE_REQUEST_LIFETIME_SECONDS": str(self.lifetime),
            "PLEXXIS_READ_TIMEOUT_SECONDS": str(self.read_timeout),
            "PROCORE_READ_TIMEOUT_SECONDS": str(self.read_timeout),
            "SYNC_RUN_LOST_SECONDS": str(self.lost),
            "SYNC_RETRY_BASE_SECONDS": str(self.retry_base),
            "SYNC_RETRY_MAX_SECONDS": str(self.retry_max),
            # A task hung for good is ended and delivered again instead of holding a worker.
            "CELERY_TASK_SOFT_TIME_LIMIT": "30",
            "CELERY_TASK_TIME_LIMIT": "40",
        }


@dataclass(order=True)
class Event:
    at: float
    seq: int
    kind: str = field(compare=False)
    params: dict = field(compare=False, default_factory=dict)

    def label(self) -> str:
        shown = ",".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.kind}({shown})@{self.at:.1f}s" if shown else f"{self.kind}@{self.at:.1f}s"


def pick_events(rng: random.Random, world: World, *, timing: Timing, workers: int,
                broker_restart: bool, database_kill: bool) -> tuple[int, list[Event]]:
    """The trial's plan: a latency for the remote, then timed events. Reproducible from the
    seed (what the stack does in between is not: processes race)."""
    events: list[Event] = []

    def add(at: float, what: str, **params) -> None:
        events.append(Event(round(at, 2), len(events), what, params))

    for day in world.days:
        if rng.random() < 0.3:
            add(rng.uniform(0, 0.3), "double_click", day=day.isoformat())
        else:
            add(rng.uniform(0, 0.3), "click", day=day.isoformat(),
                trigger=rng.choice((SyncTrigger.DASHBOARD, SyncTrigger.PROJECT_BUTTON)))
    window = timing.chaos_window
    process = ["kill", "kill", "freeze", "duplicate"]
    if broker_restart:
        process.append("broker_restart")
    if database_kill:
        process.append("pg_terminate")
    for kind in rng.sample(process, rng.choice((0, 1, 1, 2))):
        at = rng.uniform(0.1, window * 0.8)  # while the first runs are still going
        if kind == "kill":
            add(at, "kill", worker=rng.randrange(workers),
                part=rng.choice(("main", "pool", "both")))
        elif kind == "freeze":
            add(at, "freeze", worker=rng.randrange(workers), seconds=timing.stale + 1)
        elif kind == "duplicate":
            add(at, "duplicate", day=rng.choice(world.days).isoformat())
        elif kind == "broker_restart":
            add(at, "broker_restart", down=round(rng.uniform(0.2, 1.5), 1))
        else:
            add(at, "pg_terminate")
    procore = world.remote == "procore"
    for kind in rng.sample(PROCORE_FAULTS if procore else REMOTE_FAULTS,
                           rng.choice((0, 1, 1, 2, 3))):
        if kind == "token_expiry":
            add(rng.uniform(0, window), "token_expiry")
        else:
            add(rng.uniform(0, window), "remote", **_remote_fault(rng, kind, timing, procore))
    for _ in range(rng.choice((0, 0, 1, 2, 3, 4))):
        add(rng.uniform(0.1, window), "edit",
            action=rng.choice(("hours", "move", "move", "reject", "approve", "delete", "add")),
            resync=rng.random() < 0.7)
    if world.two_way:
        # People at work in Procore meanwhile, their webhooks misdelivered, beat's sweep.
        for _ in range(rng.choice((1, 2, 3, 4))):
            add(rng.uniform(0.1, window), "procore_edit",
                action=rng.choice(("create", "edit", "edit", "delete")))
        for kind in rng.sample(DELIVERY_FAULTS, rng.choice((0, 1, 1, 2))):
            add(rng.uniform(0, window), "delivery", fault=kind, count=rng.randint(1, 2))
        if rng.random() < 0.5:
            add(rng.uniform(0.5, window), "sweep")
    latency = rng.choice((10, 30, 60, 100))
    return latency, sorted(events)


def _remote_fault(rng: random.Random, kind: str, timing: Timing, procore: bool = False) -> dict:
    if kind == "apply_late":
        # Held past the client's read timeout, landed within the remote's request lifetime:
        # the contract the ledger relies on (SYNC_REMOTE_REQUEST_LIFETIME_SECONDS).
        return {"fault": kind, "count": rng.randint(1, 2), "method": rng.choice(WRITES),
                "seconds": round(rng.uniform(timing.read_timeout + 0.3, timing.lifetime - 0.5),
                                 2)}
    if kind == "lose_response":
        return {"fault": kind, "count": rng.randint(1, 2),
                "method": rng.choice((*WRITES, "POST", None))}
    if kind == "rate_limit":
        # Procore's storms: a reset within the call's wait (slept there) or beyond it (the run
        # is rescheduled).
        return {"fault": kind, "count": rng.randint(2, 8 if procore else 6),
                "seconds": rng.choice((1, 1, 3)) if procore else 1}
    if kind == "server_error":
        if procore and rng.random() < 0.6:  # Procore under load: 503 with Retry-After
            return {"fault": kind, "count": rng.randint(2, 6), "status": 503,
                    "retry_after": rng.choice((1, 1, 3))}
        return {"fault": kind, "count": rng.randint(2, 6), "status": rng.choice((500, 502, 503)),
                "retry_after": rng.choice((0, 0, 1))}
    return {"fault": kind, "count": rng.randint(1, 2), "method": rng.choice((*WRITES, None)),
            "seconds": timing.read_timeout + 0.5}


class Chaos:
    """Carries out a trial's events against the stack, and keeps what it saw."""

    def __init__(self, *, world: World, rng: random.Random, workers: list[Worker],
                 redis: PrivateRedis | None, timing: Timing) -> None:
        self.world = world
        self.rng = rng
        self.workers = workers
        self.redis = redis
        self.timing = timing
        self.seen: list[str] = []
        self.process_faults = 0
        self.mid_run = 0  # process faults that found a run executing
        self.reconnected = False  # the Procore grant was lost, and connected again
        self.later: list[Event] = []  # follow-ups: bring Redis back
        # A frozen worker is thawed by a timer of its own: frozen inside a transaction, it
        # holds row locks that may block this process until it thaws.
        self.timers: list[threading.Timer] = []

    def do(self, event: Event) -> None:
        try:
            getattr(self, f"_{event.kind}")(event.at, **event.params)
        except Exception as error:  # a lock held by a frozen worker, a broker that is down
            # A deadlock's DETAIL (which statements, which rows) is what a fix needs.
            shown = " | ".join(str(error).splitlines()) if "deadlock" in str(error) \
                else str(error)[:80]
            self.seen.append(f"{event.kind} raised {type(error).__name__}: {shown}")

    # --- Clicks ---------------------------------------------------------------------------

    def click(self, day, trigger: str = SyncTrigger.API):
        began = time.monotonic()
        try:
            return sync_runs.sync_run_start(
                integration=self.world.integration, project=self.world.project,
                work_date=day, trigger=trigger, actor=self.world.payroll,
            )
        except Exception as error:  # the broker may be down: the run stands
            self.seen.append(f"click on {day} raised {type(error).__name__}")
            return None
        finally:
            waited = time.monotonic() - began
            if waited > 1.0:
                self.seen.append(f"click on {day} took {waited:.1f}s (waiting on a lock)")

    def _click(self, at: float, day: str, trigger: str) -> None:
        self.click(datetime.fromisoformat(day).date(), trigger)

    def _double_click(self, at: float, day: str) -> None:
        """A payroll admin's cell and a project manager's button, at the same instant."""
        barrier = threading.Barrier(2)
        started = []

        def press(trigger: str) -> None:
            try:
                barrier.wait(timeout=5)
                started.append(self.click(datetime.fromisoformat(day).date(), trigger))
            finally:
                connection.close()

        threads = [threading.Thread(target=press, args=(t,))
                   for t in (SyncTrigger.DASHBOARD, SyncTrigger.PROJECT_BUTTON)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        made = [s for s in started if s is not None and s.created]
        if len(made) > 1:
            self.seen.append(f"two clicks on {day} started two runs {[s.run.pk for s in made]}")

    def _duplicate(self, at: float, day: str) -> None:
        run = SyncRun.objects.filter(integration=self.world.integration, work_date=day,
                                     state__in=ACTIVE_SYNC_STATES).first()
        if run is None:
            return
        for _ in range(2):
            try:
                dispatch.run_enqueue(run.pk)
            except Exception as error:  # a broker that is down
                self.seen.append(f"duplicate delivery of run {run.pk} raised "
                                 f"{type(error).__name__}")

    # --- Processes ------------------------------------------------------------------------

    def _landed(self) -> str:
        """Counts a process fault, and whether it found a run executing."""
        running = SyncRun.objects.filter(integration=self.world.integration,
                                         state=SyncState.RUNNING).count()
        self.process_faults += 1
        self.mid_run += bool(running)
        return f" ({running} running)" if running else " (no run executing)"

    def _kill(self, at: float, worker: int, part: str) -> None:
        target = self.workers[worker]
        if target.frozen:
            target = self.workers[1 - worker] if len(self.workers) > 1 else target
        if target.frozen:
            return
        landed = self._landed()
        self.seen.append(f"killed {target.name}: {target.kill(part, self.rng)}{landed}")

    def _freeze(self, at: float, worker: int, seconds: float) -> None:
        target = self.workers[worker]
        if not target.alive or target.frozen:
            return
        self.seen.append(f"froze {target.name}{self._landed()}")
        target.freeze()
        timer = threading.Timer(seconds, target.thaw)
        timer.start()
        self.timers.append(timer)

    def _broker_restart(self, at: float, down: float) -> None:
        self.seen.append(f"Redis down{self._landed()}")
        self.redis.crash()
        self.later.append(Event(at + down, 0, "broker_up"))

    def _broker_up(self, at: float) -> None:
        if not self.redis.up:
            self.redis.start()

    def _pg_terminate(self, at: float) -> None:
        landed = self._landed()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name LIKE %s", ["chaos-%"],
            )
            self.seen.append(f"terminated {cursor.fetchone()[0]} worker database "
                             f"sessions{landed}")

    # --- The remote -----------------------------------------------------------------------

    def _remote(self, at: float, fault: str, count: int, method: str | None = None,
                **params) -> None:
        self.world.emulator.inject(fault, count=count, method=method, **params)

    def _token_expiry(self, at: float) -> None:
        expired = self.world.emulator.expire_access_tokens()
        running = SyncRun.objects.filter(integration=self.world.integration,
                                         state=SyncState.RUNNING).count()
        self.seen.append(f"expired {expired} Procore access tokens ({running} running)")

    # --- Procore: people at work there, webhooks, the sweep -----------------------------------

    def _procore_edit(self, at: float, action: str) -> None:
        """A change made in Procore's own screens: its webhooks go to our live server."""
        world, rng = self.world, self.rng
        live = [e for e in world.emulator.entries() if e["project"]["id"] == PROCORE_PROJECT]
        if action != "create" and not live:
            action = "create"
        hours = f"{Decimal(rng.randint(16, 40)) / 4:.2f}"
        if action == "create":
            day = rng.choice(world.days)
            code = rng.choice(KNOWN)[0]
            entry = world.emulator.create_in_procore(
                PROCORE_PROJECT, party_id=PARTIES[code], date=day.isoformat(), hours=hours)
            world.touched.add(day)
            world.procore_actions.append(ProcoreAction("create", entry["id"], now()))
            self.seen.append(f"created entry {entry['id']} in Procore")
            return
        entry = rng.choice(live)
        owner = procore_entry_owner(world, entry)
        world.touched.add(datetime.fromisoformat(entry["date"]).date())
        stamp = now()
        try:
            if action == "edit":
                world.emulator.edit_in_procore(entry["id"], hours=hours)
            else:
                world.emulator.delete_in_procore(entry["id"])
        except KeyError:  # deleted meanwhile
            return
        world.procore_actions.append(ProcoreAction(action, entry["id"], stamp, owner))
        done = {"edit": "edited", "delete": "deleted"}[action]
        self.seen.append(f"{done} entry {entry['id']} (shift {owner}) in Procore")

    def _delivery(self, at: float, fault: str, count: int) -> None:
        self.world.emulator.inject_delivery(fault, count=count, times=self.rng.choice((2, 3)))

    def _sweep(self, at: float) -> None:
        caught = procore_receive.procore_sweep(integration_id=self.world.integration.pk)
        self.seen.append(f"the sweep caught {caught}")

    # --- People editing shifts ------------------------------------------------------------

    def _edit(self, at: float, action: str, resync: bool) -> None:
        world = self.world
        live = [s for s in world.shifts() if s.deleted_at is None]
        if not live:
            return
        shift = self.rng.choice(live)
        before = shift.work_date
        try:
            shift = self._apply(action, shift)
        except ValidationError as error:
            self.seen.append(f"edit {action} of shift {shift.pk} refused: "
                             f"{'; '.join(error.messages)[:80]}")
            return
        world.our_edits.append((shift.pk, now()))
        days = {before, shift.work_date}
        world.touched |= days
        if resync:
            for day in sorted(days):
                self.click(day, SyncTrigger.PROJECT_BUTTON)

    def _apply(self, action: str, shift: Shift) -> Shift:
        actor = self.world.payroll
        if action == "hours":
            delta = timedelta(minutes=self.rng.choice((-60, -30, -15, 15, 30, 45)))
            return services.shift_update(actor=actor, shift=shift, end=shift.end + delta)
        if action == "move":
            day = self.rng.choice([d for d in self.world.days if d != shift.work_date]
                                  or self.world.days)
            hour = self.rng.choice((6, 7, 8, 16))
            start = datetime(day.year, day.month, day.day, hour, tzinfo=TORONTO)
            return services.shift_update(actor=actor, shift=shift, start=start,
                                         end=start + (shift.end - shift.start))
        if action == "reject":
            return services.shift_decide(actor=actor, shift=shift, approve=False,
                                         reason="Left early")
        if action == "approve":
            if shift.approval_state == ApprovalState.APPROVED:
                return shift
            return services.shift_decide(actor=actor, shift=shift, approve=True)
        if action == "delete":
            return services.shift_delete(actor=actor, shift=shift)
        day = self.rng.choice(self.world.days)
        start = datetime(day.year, day.month, day.day, 17, tzinfo=TORONTO)
        return services.shift_create(
            actor=actor, worker=self.rng.choice(self.world.workers), project=self.world.project,
            start=start, end=start + timedelta(hours=self.rng.choice((4, 5.5, 6))),
            break_minutes=30, cost_code=shift.cost_code,
        )
