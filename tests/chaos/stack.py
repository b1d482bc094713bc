"""The real processes a chaos trial breaks: a private Redis, Celery workers, the emulator.

Each worker runs in its own session (process group), so "freeze the worker" stops its main
process and its pool together, and a pool process left behind by a killed main process can be
found and ended. Everything here is started by the harness and ended by it, by process id.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis

from connectors.plexxis.emulator import PlexxisEmulator
from connectors.procore.emulator import ProcoreEmulator
from tests.processes import descendants, free_port, running
from timesync.management.supervisor import Supervisor


def wait_until(condition: Callable[[], bool], timeout: float, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll)
    return condition()


class _CountsInFlight:
    """Counts the requests an emulator is still holding (API and OAuth): a trial is judged only
    once nothing sent during it can still land."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._flight_lock = threading.Lock()
        self._in_flight = 0

    def _counted(self, serve, *args) -> None:
        with self._flight_lock:
            self._in_flight += 1
        try:
            serve(*args)
        finally:
            with self._flight_lock:
                self._in_flight -= 1

    @property
    def in_flight(self) -> int:
        with self._flight_lock:
            return self._in_flight


class CountingEmulator(_CountsInFlight, PlexxisEmulator):
    """The Plexxis emulator, counting the API requests it is still holding."""

    def _serve_api(self, *args) -> None:
        self._counted(super()._serve_api, *args)


class CountingProcoreEmulator(_CountsInFlight, ProcoreEmulator):
    """The Procore emulator, counting every request it is still holding."""

    def _serve_request(self, *args) -> None:
        self._counted(super()._serve_request, *args)


class PrivateRedis:
    """A throwaway redis-server on its own port: restarting it disturbs nobody else. Nothing
    is saved, so a restart loses every message it held, as a crashed broker would."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments; redis-server from PATH
            command, stdout=self.log.open("a"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        if not wait_until(lambda: _pings(client), 10):
            raise RuntimeError(f"redis-server did not start on port {self.port}; see {self.log}")

    def crash(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    @property
    def up(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class Worker:
    """One Celery worker as a trial sees it: parts to kill, a process group to freeze. The
    harness restarts it when it dies (it is its supervisor); `argv` is its command."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path,
                 cwd: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_dir = log_dir
        self.cwd = cwd
        self.process: subprocess.Popen | None = None
        self.incarnation = 0
        self.frozen_pid: int | None = None
        self.killed = False  # by us: a death we did not cause is worth a line
        self.orphans: list[int] = []  # pool processes whose main process was killed
        self.log: Path | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.alive else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def frozen(self) -> bool:
        return self.frozen_pid is not None

    def start(self) -> None:
        self.incarnation += 1
        self.log = self.log_dir / f"{self.name}-{self.incarnation}.log"
        argv = [arg.replace("{incarnation}", str(self.incarnation)) for arg in self.argv]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter
            argv, cwd=self.cwd, env=self.env, stdout=self.log.open("w"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.killed = False

    def ready(self) -> bool:
        return self.alive and " ready." in self.log.read_text(errors="replace")

    def ensure_running(self) -> str | None:
        """Start it again if it died; says so (and whether we had killed it)."""
        if self.alive or self.frozen:
            return None
        why = "" if self.killed else f" after it died by itself (see {self.log.name})"
        self.start()
        return f"restarted {self.name}{why}"

    def pool(self) -> list[int]:
        return sorted(descendants(self.pid)) if self.alive else []

    def kill(self, part: str, rng: random.Random) -> str:
        """SIGKILL the main process, one pool process, or all of them. Returns what was hit."""
        if not self.alive:
            return "nothing (it was down)"
        pool = self.pool()
        if part == "pool":
            if not pool:
                return "nothing (no pool process)"
            victim = rng.choice(pool)
            os.kill(victim, signal.SIGKILL)
            return f"pool process {victim}"
        if part == "both":
            for pid in pool:
                os.kill(pid, signal.SIGKILL)
        else:
            self.orphans.extend(pool)  # they finish what they hold, then notice
        main = self.pid
        self.killed = True
        os.kill(main, signal.SIGKILL)
        self.process.wait(timeout=10)
        return f"main {main}" + (f" + pool {pool}" if part == "both" else "")

    def freeze(self) -> None:
        if self.alive:
            self.frozen_pid = self.pid
            os.killpg(self.frozen_pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.frozen_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.frozen_pid, signal.SIGCONT)
        self.frozen_pid = None

    def end_orphans(self) -> int:
        """Pool processes left running by a killed main process finish what they hold and
        then die; any still here when the trial is judged is ended."""
        ended = 0
        for pid in self.orphans:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
                ended += 1
        self.orphans = []
        return ended

    def stop(self) -> None:
        self.thaw()
        if self.alive:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.end_orphans()


class SupervisedWorker(Worker):
    """The embedded default's worker, started and restarted by run_local's own supervisor:
    the harness only kills and freezes it. One process (the threads pool)."""

    PROGRAM = "celery worker"

    def __init__(self, supervisor: Supervisor, log: Path) -> None:
        super().__init__("worker", [], {}, log.parent, log.parent)
        self.supervisor = supervisor
        self.log = log
        self.starts_seen = 1

    @property
    def pid(self) -> int | None:
        return self.supervisor.pid(self.PROGRAM)

    @property
    def alive(self) -> bool:
        return self.pid is not None

    def ready(self) -> bool:
        """The latest worker's banner (beat prints none with a concurrency line) is followed
        by its ready line. Counting ready lines against starts would not do: a worker killed
        before it was ready never prints one."""
        text = self.log.read_text(errors="replace")
        banner = text.rfind(".> concurrency:")
        return self.alive and banner >= 0 and " ready." in text[banner:]

    def ensure_running(self) -> str | None:
        """run_local's supervisor restarts it: this only says when it did."""
        starts = self.supervisor.starts(self.PROGRAM)
        if starts == self.starts_seen:
            return None
        self.starts_seen = starts
        return "run_local restarted the worker"

    def kill(self, part: str, rng: random.Random) -> str:
        main = self.pid
        if main is None:
            return "nothing (it was down)"
        os.kill(main, signal.SIGKILL)
        return f"the worker {main} (threads pool: one process)"

    def stop(self) -> None:
        self.thaw()  # the supervisor stops it


def celery_worker_argv(name: str) -> list[str]:
    """Prefork with one pool process: the production pool (a main process that supervises
    the process running the task), so each part can be killed on its own; one process each
    keeps two workers within this machine's two cores. Every queue, whatever routes say."""
    return [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork",
        "--concurrency", "1", "-Q", "sync,reference,mail,celery",
        "-n", f"chaos-{name}-{{incarnation}}@%h", "--loglevel", "INFO",
        "--without-heartbeat", "--without-gossip", "--without-mingle",
    ]
