"""Helpers for tests that start real processes: the embedded default in a temporary folder, and
the process table (Linux /proc) to find what a process started and whether it still runs."""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Where the test suite's own services are named; the embedded default must not inherit them.
_SERVICE_VARIABLES = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "CACHE_URL")


def embedded_env(var_dir: Path, **overrides: str) -> dict[str, str]:
    """The environment of `make run` with its state in `var_dir`: SQLite and kombu's filesystem
    broker there, DEBUG on, the local emulators allowed; the suite's secrets are kept."""
    env = {name: value for name, value in os.environ.items() if name not in _SERVICE_VARIABLES}
    env.update({
        "VAR_DIR": str(var_dir),
        "DJANGO_READ_DOT_ENV_FILE": "false",
        "DEBUG": "true",
        "CONNECTOR_PRIVATE_HOSTS_ALLOWED": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(overrides)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sync_run_state(database: Path, run_id: int) -> str:
    """A run's state read straight from the embedded SQLite file (the test runs on PostgreSQL)."""
    with sqlite3.connect(database, timeout=20) as db:
        (state,) = db.execute("SELECT state FROM timesync_syncrun WHERE id = ?",
                              (run_id,)).fetchone()
    return state


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name, in parentheses, may hold spaces
    return fields[0], int(fields[1])


def running(pid: int) -> bool:
    """The process exists and is not a zombie (dead, waiting to be reaped)."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def descendants(pid: int) -> set[int]:
    """Every running process below `pid`: its children, theirs, and so on."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[0] != "Z":
            parents[int(entry.name)] = stat[1]
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def programs_below(pid: int, markers: Mapping[str, str]) -> dict[str, list[int]]:
    """The running processes below `pid` by kind: a kind's marker appears in the command line."""
    found: dict[str, list[int]] = {kind: [] for kind in markers}
    for child in descendants(pid):
        line = command_line(child)
        for kind, marker in markers.items():
            if marker in line:
                found[kind].append(child)
    return found
