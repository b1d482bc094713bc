"""`make run` under kill -9, with real processes on the embedded default (SQLite and kombu's
filesystem broker in a temporary folder): `run_local` starts a dead worker or beat again, never
lets a second beat run, leaves nothing behind when it is killed itself, and a sync that was
running in a killed worker finishes by itself."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.plexxis.emulator import DEFAULT_API_KEY, PlexxisEmulator
from tests import embedded_seed
from tests.processes import (
    ROOT,
    embedded_env,
    free_port,
    programs_below,
    running,
    sync_run_state,
)
from tests.timesync.sync.test_worker_killed import wait_for
from timesync.management.commands import run_local
from timesync.management.supervisor import Backoff, Supervisor

# What a process of `make run` has in its command line.
MARKERS = {
    "worker": "celery -A config worker",
    "beat": "celery -A config beat",
    "emulator": "connectors.plexxis.emulator",
    "web": "manage.py run_local",
}
# What each program prints once it is up.
READY = {
    "celery worker": " ready.",
    "celery beat": "beat: Starting...",
    "plexxis emulator": "Plexxis emulator: API at",
    "procore emulator": "Procore emulator: API and OAuth at",
}
SHIFTS = 24


@pytest.fixture(scope="module")
def migrated_database(tmp_path_factory) -> Path:
    """An SQLite file migrated once for the module; each test works on a copy."""
    var = tmp_path_factory.mktemp("embedded-template")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                   cwd=ROOT, env=embedded_env(var), check=True)
    return var / "timesync.sqlite3"


@pytest.fixture
def var(tmp_path, migrated_database, settings) -> Path:
    """The embedded default's var/ for one test, also seen by this process's settings (the
    programs run_local starts are built from them)."""
    var = tmp_path / "var"
    var.mkdir()
    shutil.copy(migrated_database, var / "timesync.sqlite3")
    settings.VAR_DIR = var
    return var


def text(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""


@pytest.fixture
def supervise(var, tmp_path) -> Iterator:
    """Start run_local's programs under a Supervisor in this process, in the embedded default;
    everything started is stopped at the end."""
    started: list[Supervisor] = []

    def start(*names: str, log_name: str = "programs.log") -> tuple[Supervisor, Path]:
        log = tmp_path / log_name
        chosen = [p for p in run_local.programs(plexxis_port=free_port(),
                                                procore_port=free_port()) if p.name in names]
        supervisor = Supervisor(chosen, env=embedded_env(var), cwd=ROOT, output=log.open("ab"),
                                backoff=Backoff(first=0.2, most=1.0))
        started.append(supervisor)
        supervisor.start()
        return supervisor, log

    yield start
    for supervisor in started:
        supervisor.stop()


class RunLocal:
    """`manage.py run_local` in a subprocess, as `make run` starts it."""

    def __init__(self, var: Path, log: Path, *, reload: bool, **env: str) -> None:
        command = [sys.executable, "manage.py", "run_local",
                   "--addrport", f"127.0.0.1:{free_port()}", "--plexxis-port", str(free_port()),
                   "--procore-port", str(free_port())]
        if not reload:
            command.append("--noreload")
        self.log = log
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
            command, cwd=ROOT, env=embedded_env(var, **env), stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            # Its own process group, like a command started from a terminal's prompt.
            start_new_session=True,
        )

    def programs(self) -> dict[str, list[int]]:
        return programs_below(self.process.pid, MARKERS)

    def wait_until_up(self, *, web_processes: int) -> dict[str, list[int]]:
        def up() -> bool:
            found = self.programs()
            return (len(found["worker"]) == len(found["beat"]) == len(found["emulator"]) == 1
                    and len(found["web"]) == web_processes
                    and text(self.log).count(READY["celery worker"]) == 1)

        wait_for(up, 60, f"run_local's programs to start:\n{text(self.log)[-3000:]}")
        return self.programs()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture
def start_run_local(var, tmp_path) -> Iterator:
    started: list[RunLocal] = []

    def start(*, reload: bool = False, **env: str) -> RunLocal:
        started.append(RunLocal(var, tmp_path / f"run_local-{len(started)}.log", reload=reload,
                                **env))
        return started[-1]

    yield start
    for instance in started:
        instance.stop()


@pytest.mark.parametrize("name", ["celery worker", "celery beat", "plexxis emulator",
                                  "procore emulator"])
def test_a_program_killed_with_sigkill_is_started_again(supervise, name):
    supervisor, log = supervise(name)
    wait_for(lambda: text(log).count(READY[name]) == 1, 60, f"{name} to start")
    first = supervisor.pid(name)

    os.kill(first, signal.SIGKILL)

    wait_for(lambda: supervisor.pid(name) not in (None, first), 30, f"{name} to start again")
    wait_for(lambda: text(log).count(READY[name]) == 2, 60, f"{name} to be up again")
    assert not running(first)


def test_the_procore_emulator_started_again_still_holds_the_entries_sent_to_it(supervise):
    # The demo's ledger says "synced" for what was sent: after a restart the remote must still
    # hold it, or the next change re-sends it and its deletes fail.
    import re

    import requests

    from tests.connectors.procore.fixtures import AARON, COMPANY_ID, PROJECT_ID, SEED
    from timesync.management import procore_demo

    procore_demo.seed_file().write_text(json.dumps(SEED))
    name = "procore emulator"
    supervisor, log = supervise(name)
    wait_for(lambda: text(log).count(READY[name]) == 1, 60, f"{name} to start")
    url = re.search(r"API and OAuth at (http://\S+)", text(log)).group(1)
    token = requests.post(f"{url}/_emulator/tokens", json={}, timeout=5).json()["access_token"]
    created = requests.post(
        f"{url}/rest/v1.0/projects/{PROJECT_ID}/timecard_entries", timeout=5,
        headers={"Authorization": f"Bearer {token}", "Procore-Company-Id": str(COMPANY_ID)},
        json={"timecard_entry": {"party_id": AARON, "date": "2026-06-03", "hours": "8.00"}})
    assert created.status_code == 201
    first = supervisor.pid(name)

    os.kill(first, signal.SIGKILL)
    wait_for(lambda: text(log).count(READY[name]) == 2, 60, f"{name} to be up again")

    held = requests.get(f"{url}/_emulator/entries", timeout=5).json()
    assert [entry["id"] for entry in held] == [created.json()["id"]]


def test_a_second_beat_does_not_start_while_one_runs(supervise):
    first, first_log = supervise("celery beat", log_name="first.log")
    wait_for(lambda: READY["celery beat"] in text(first_log), 60, "the first beat")

    second, second_log = supervise("celery beat", log_name="second.log")
    wait_for(lambda: second.starts("celery beat") >= 2, 60,
             "the second beat to be refused and tried again")

    assert "celerybeat.lock; not starting a second one" in text(second_log)
    assert READY["celery beat"] not in text(second_log)
    assert text(first_log).count(READY["celery beat"]) == 1
    assert running(first.pid("celery beat"))


def test_killing_run_local_with_sigkill_leaves_no_process_behind(start_run_local):
    instance = start_run_local(reload=True)  # as `make run`: a watcher and its server process
    programs = instance.wait_until_up(web_processes=1)
    pids = [pid for kind in programs.values() for pid in kind]

    os.kill(instance.process.pid, signal.SIGKILL)
    instance.process.wait(timeout=10)

    wait_for(lambda: not any(running(pid) for pid in pids), 30,
             "the worker, beat, emulator and web server to stop")


def test_sigterm_stops_run_local_and_everything_it_started(start_run_local):
    instance = start_run_local(reload=True)
    programs = instance.wait_until_up(web_processes=1)
    pids = [pid for kind in programs.values() for pid in kind]

    instance.process.terminate()

    assert instance.process.wait(timeout=30) == 0
    assert not [pid for pid in pids if running(pid)]


def test_ctrl_c_stops_run_local_and_everything_it_started(start_run_local):
    instance = start_run_local(reload=True)
    programs = instance.wait_until_up(web_processes=1)
    pids = [pid for kind in programs.values() for pid in kind]

    os.killpg(instance.process.pid, signal.SIGINT)  # what the terminal does on Ctrl+C

    instance.process.wait(timeout=30)
    assert not [pid for pid in pids if running(pid)]


def test_a_sync_running_when_its_worker_is_killed_finishes_by_itself(start_run_local, var):
    with PlexxisEmulator(api_key=DEFAULT_API_KEY) as emulator:
        emulator.seed(employees=[embedded_seed.employee(n) for n in range(SHIFTS)],
                      jobs=[embedded_seed.JOB])
        instance = start_run_local(
            # Recovery every second takes a run whose heartbeat is 2 s old as lost.
            SYNC_RUN_STALE_SECONDS="2", SYNC_RECOVERY_INTERVAL_SECONDS="1",
            # The emulator applies a write before it answers: nothing lands late.
            SYNC_REMOTE_REQUEST_LIFETIME_SECONDS="0",
        )
        worker = instance.wait_until_up(web_processes=0)["worker"][0]
        emulator.set_latency(300)
        seeded = subprocess.run(  # noqa: S603 - our interpreter and fixed arguments
            [sys.executable, "-m", "tests.embedded_seed", "--plexxis-url", emulator.base_url,
             "--api-key", DEFAULT_API_KEY, "--shifts", str(SHIFTS)],
            cwd=ROOT, env=embedded_env(var), capture_output=True, text=True,
        )
        assert seeded.returncode == 0, seeded.stderr
        run_id = json.loads(seeded.stdout.strip().splitlines()[-1])["run_id"]
        wait_for(lambda: len(emulator.entries()) >= 3, 60, "the run's first writes")

        os.kill(worker, signal.SIGKILL)
        assert len(emulator.entries()) < SHIFTS
        emulator.set_latency(0)

        wait_for(lambda: sync_run_state(var / "timesync.sqlite3", run_id) not in
                 ("queued", "running"), 90, f"the run to finish:\n{text(instance.log)[-3000:]}")
        entries = emulator.entries()
    assert sync_run_state(var / "timesync.sqlite3", run_id) == "succeeded"
    references = Counter(entry["external_reference"] for entry in entries)
    assert len(references) == SHIFTS
    assert set(references.values()) == {1}
