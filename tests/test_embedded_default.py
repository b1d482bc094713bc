"""`make run`'s embedded default works on its own database: SQLite, not the PostgreSQL the
rest of the suite runs on (a PostgreSQL-only statement once broke the Sync Dashboard there and
no other test could see it). Migrates and loads the demo into an SQLite file, then opens every
page of the sync workflow and syncs a ready day (tests/embedded_smoke.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_the_demo_on_sqlite_serves_every_sync_page_and_syncs_a_day(tmp_path):
    env = {
        **os.environ,
        "DJANGO_READ_DOT_ENV_FILE": "false", "DEBUG": "true", "VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'timesync.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://", "CACHE_URL": "locmemcache://",
        "ALLOWED_HOSTS": "testserver", "CONNECTOR_PRIVATE_HOSTS_ALLOWED": "127.0.0.1",
    }
    run(["manage.py", "migrate", "--noinput"], env)
    run(["manage.py", "load_demo"], env)
    report = json.loads(run(["-m", "tests.embedded_smoke"], env).strip().splitlines()[-1])

    assert {path: status for path, status in report["statuses"].items() if status != 200} == {}
    assert report["cell_before"]["status"] == "ready"
    assert report["run"]["state"] == "succeeded", report["run"]
    assert report["run"]["created"] == report["cell_before"]["shifts"] == report["remote_entries"]
    assert report["run"]["hours_sent"] == report["cell_before"]["hours"]
    assert report["cell_after"] == "synced"
    procore = report["procore"]  # the "Procore (demo)" integration, against its emulator
    assert procore["dashboard"] == 200
    assert procore["run"]["state"] == "succeeded", procore["run"]
    assert procore["run"]["created"] == procore["shifts"] == procore["remote_entries"]
    assert procore["run"]["hours_sent"] == procore["hours"] == procore["remote_hours"]
