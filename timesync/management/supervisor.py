"""Keeps `manage.py run_local`'s background processes (Celery worker, Celery beat, the Plexxis
emulator) running: a program that dies is started again after a short backoff, and none of them
outlives run_local.

Outliving: every program is started through this module (`python -m
timesync.management.supervisor [--lock FILE] MODULE ARGS...`), which runs MODULE as `__main__`
in the same process with a watchdog thread that stops it once the supervisor is gone, even when
the supervisor was killed with SIGKILL and had no chance to clean up. We chose a parent watchdog
over Linux's PR_SET_PDEATHSIG: prctl fires when the *thread* that forked the child ends (our
restarts come from the monitor thread, so a finished thread would kill healthy programs), it
must be set between fork and exec (preexec_fn, unsafe in a threaded parent), and it exists on
Linux only, while `make run` also runs on macOS. Polling getppid() twice a second is portable,
and half a second is a fine delay for a development tool.

Exactly one beat: `--lock FILE` takes an exclusive flock before the program starts; a second
beat (another run_local on the same var/, or an orphan) finds it taken and exits, and its
supervisor tries again later. The kernel releases the lock when its holder dies however it
dies, so unlike a pidfile there is no stale file to judge (celery beat's own --pidfile refuses
to start when the stale pid has been reused by any other process, as after a reboot).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import runpy
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

logger = logging.getLogger("timesync.run_local")

# Every program is started through this module's main().
LAUNCHER = "timesync.management.supervisor"

# The supervisor's pid, given to every program it starts: a program whose parent is no longer
# this process has been orphaned.
SUPERVISOR_PID_ENV = "TIMESYNC_SUPERVISOR_PID"
# Exit statuses of a program started through this module (sysexits.h values).
EXIT_LOCKED = 75  # EX_TEMPFAIL: another process holds the lock; try again later
EXIT_ORPHANED = 70  # the program did not stop within the grace period after its parent died


@dataclass(frozen=True)
class Program:
    """A background program: a Python module run as `python -m module *args`."""

    name: str
    module: str
    args: Sequence[str] = ()
    # Held for the program's whole life; a second program with the same lock does not start.
    lock: Path | None = None


@dataclass
class _Child:
    program: Program
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    starts: int = 0
    failures: int = 0
    restart_at: float | None = None


@dataclass
class Backoff:
    """Delay before restarting a program: first, doubling per failure, capped at most. A
    program that ran for `settled` seconds before it died starts again from `first`."""

    first: float = 1.0
    most: float = 30.0
    settled: float = 60.0

    def delay(self, failures: int) -> float:
        return min(self.first * 2 ** failures, self.most)


@dataclass
class Supervisor:
    """Starts the programs and restarts any that exits, until stop()."""

    programs: Sequence[Program]
    # The programs' environment; None: this process's.
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    # Where the programs write (a log file in tests); None: this process's stdout and stderr.
    output: IO[bytes] | None = None
    backoff: Backoff = field(default_factory=Backoff)
    stop_timeout: float = 15.0
    poll_interval: float = 0.2

    def __post_init__(self) -> None:
        self._children = {program.name: _Child(program) for program in self.programs}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._monitor = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def __enter__(self) -> Supervisor:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        with self._lock:
            for child in self._children.values():
                self._spawn(child)
        self._monitor.start()

    def stop(self) -> None:
        """Ask every program to stop (SIGTERM), kill what is still running after stop_timeout."""
        self._stopping.set()
        with self._lock:  # no restart can be under way once we hold it
            processes = [c.process for c in self._children.values() if c.process is not None]
        for process in processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + self.stop_timeout
        for process in processes:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("pid %s did not stop within %.0f s; killing it", process.pid,
                               self.stop_timeout)
                process.kill()
                process.wait()
        if self._monitor.is_alive():
            self._monitor.join()

    def pid(self, name: str) -> int | None:
        """The running pid of a program, None while it is down."""
        with self._lock:
            process = self._children[name].process
            return process.pid if process is not None and process.poll() is None else None

    def starts(self, name: str) -> int:
        """How many times the program was started, the first start included."""
        with self._lock:
            return self._children[name].starts

    def _watch(self) -> None:
        while not self._stopping.wait(self.poll_interval):
            with self._lock:
                if self._stopping.is_set():
                    return
                for child in self._children.values():
                    self._tend(child, time.monotonic())

    def _tend(self, child: _Child, now: float) -> None:
        if child.process is not None:
            returncode = child.process.poll()
            if returncode is None:
                return
            if now - child.started_at >= self.backoff.settled:
                child.failures = 0
            delay = self.backoff.delay(child.failures)
            child.failures += 1
            child.restart_at = now + delay
            logger.warning("%s (pid %s) %s; starting it again in %.1f s", child.program.name,
                           child.process.pid, _describe(returncode), delay)
            child.process = None
        elif child.restart_at is not None and now >= child.restart_at:
            try:
                self._spawn(child)
            except OSError:
                # Out of processes or memory, say: try again later rather than stop watching.
                child.restart_at = now + self.backoff.most
                logger.exception("%s could not be started; trying again in %.1f s",
                                 child.program.name, self.backoff.most)

    def _spawn(self, child: _Child) -> None:
        program = child.program
        command = [sys.executable, "-m", LAUNCHER]
        if program.lock is not None:
            command += ["--lock", str(program.lock)]
        command += [program.module, *program.args]
        env = {**(os.environ if self.env is None else self.env),
               SUPERVISOR_PID_ENV: str(os.getpid())}
        # A session of its own: Ctrl+C in the terminal reaches run_local only, which then stops
        # the programs itself (SIGTERM, then SIGKILL after stop_timeout), instead of each one
        # getting SIGINT at the same moment as run_local and racing its restarts.
        child.process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            command, cwd=self.cwd, env=env, stdout=self.output,
            stderr=subprocess.STDOUT if self.output is not None else None,
            start_new_session=True,
        )
        child.started_at = time.monotonic()
        child.starts += 1
        child.restart_at = None
        logger.info("%s started (pid %s)", program.name, child.process.pid)


def _describe(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-returncode).name}"
    if returncode == EXIT_LOCKED:
        return "found its lock taken by another process"
    return f"exited with status {returncode}"


def exit_with_parent(parent_pid: int, *, grace: float = 10.0, poll: float = 0.5) -> None:
    """Stop this process once `parent_pid` is no longer its parent: SIGTERM to itself (the
    program's own clean shutdown), and a hard exit if that has not finished after `grace`."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll)
        print(f"[supervisor] parent process {parent_pid} is gone; stopping pid {os.getpid()}",
              file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def hold_lock(path: Path) -> IO[str] | None:
    """Take an exclusive lock on `path` for as long as the returned file stays open; None when
    another process holds it. The file names the holder's pid, for the message of the next."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def main(argv: list[str]) -> None:
    """Run a module as `__main__` under the supervisor's watch (see the module docstring)."""
    parser = argparse.ArgumentParser(prog=f"python -m {LAUNCHER}")
    parser.add_argument("--lock", type=Path, help="hold this lock for the program's life")
    parser.add_argument("module")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    parent = os.environ.get(SUPERVISOR_PID_ENV)
    if parent is not None:
        exit_with_parent(int(parent))
    if options.lock is not None:
        held = hold_lock(options.lock)
        if held is None:
            holder = options.lock.read_text().strip() or "?"
            print(f"[supervisor] {options.module}: another process (pid {holder}) holds "
                  f"{options.lock}; not starting a second one", file=sys.stderr, flush=True)
            sys.exit(EXIT_LOCKED)
    sys.argv = [options.module, *options.args]
    runpy.run_module(options.module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
