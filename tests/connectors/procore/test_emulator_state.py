"""The demo's Procore emulator keeps what was sent to it across a restart (`--state-file`, as
`make run` starts it): killed with SIGKILL and started again, it still holds the entry, its
webhook hook and the token it issued, and never hands an entry id out twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.connectors.procore.fixtures import AARON, COMPANY_ID, PROJECT_ID, SEED

REPOSITORY = Path(__file__).resolve().parents[3]


class Running:
    """An emulator process of its own, on a free port, with the seed and state files."""

    def __init__(self, seed: Path, state: Path) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", "connectors.procore.emulator", "--port", "0",
             "--seed-file", str(seed), "--state-file", str(state)],
            cwd=REPOSITORY, stdout=subprocess.PIPE, text=True)
        banner = self.process.stdout.readline()
        self.url = banner.split("API and OAuth at ", 1)[1].split(" ", 1)[0]

    def api(self, method: str, path: str, token: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.url}/rest/v1.0{path}", timeout=5, headers={
            "Authorization": f"Bearer {token}", "Procore-Company-Id": str(COMPANY_ID)}, **kwargs)

    def control(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.url}/_emulator{path}", timeout=5, **kwargs)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=5)
        self.process.stdout.close()


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path]:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED))
    return seed, tmp_path / "state.json"


@pytest.fixture
def start(files) -> Iterator:
    started: list[Running] = []

    def run() -> Running:
        started.append(Running(*files))
        return started[-1]

    yield run
    for running in started:
        if running.process.poll() is None:
            running.kill()


def create_entry(emulator: Running, token: str, hours: str = "7.50") -> dict:
    response = emulator.api("POST", f"/projects/{PROJECT_ID}/timecard_entries", token, json={
        "timecard_entry": {"party_id": AARON, "date": "2026-06-03", "hours": hours}})
    assert response.status_code == 201, response.text
    return response.json()


def test_an_entry_outlives_a_kill_and_a_restart(start):
    first = start()
    token = first.control("POST", "/tokens", json={}).json()["access_token"]
    created = create_entry(first, token)
    first.kill()

    second = start()

    entries = second.control("GET", "/entries").json()
    assert [(e["id"], e["hours"]) for e in entries] == [(created["id"], "7.50")]


def test_after_a_restart_the_token_still_works_and_a_new_entry_gets_a_new_id(start):
    first = start()
    token = first.control("POST", "/tokens", json={}).json()["access_token"]
    created = create_entry(first, token)
    first.kill()

    second = start()
    listed = second.api("GET", f"/projects/{PROJECT_ID}/timecard_entries", token,
                        params={"log_date": "2026-06-03"})
    another = create_entry(second, token, hours="2.00")

    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()] == [created["id"]]
    assert another["id"] > created["id"]


def test_a_hook_outlives_a_restart(start):
    first = start()
    token = first.control("POST", "/tokens", json={}).json()["access_token"]
    hook = first.api("POST", "/webhooks/hooks", token, json={
        "company_id": COMPANY_ID, "hook": {"api_version": "v2", "namespace": "timesync",
                                           "destination_url": "http://127.0.0.1:9/hook"}})
    assert hook.status_code == 201, hook.text
    first.kill()

    second = start()

    assert [h["id"] for h in second.control("GET", "/hooks").json()] == [hook.json()["id"]]


def test_a_deleted_entry_stays_deleted_after_a_restart(start):
    first = start()
    token = first.control("POST", "/tokens", json={}).json()["access_token"]
    created = create_entry(first, token)
    deleted = first.api("DELETE", f"/companies/{COMPANY_ID}/timecard_entries/{created['id']}",
                        token)
    assert deleted.status_code < 300
    first.kill()

    second = start()

    (entry,) = second.control("GET", "/entries").json()
    assert entry["deleted_at"] is not None
