"""The stack `make chaos` breaks: the emulator in this process, a private Redis and two Celery
workers on the test database (main mode), or the embedded default: an SQLite file, kombu's
filesystem broker in a temporary folder and one worker started as `manage.py run_local` starts
it (`make chaos EMBEDDED=1`)."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.db.backends.signals import connection_created

from config.celery import app
from tests.processes import ROOT, free_port
from timesync.management.commands import run_local
from timesync.management.supervisor import Backoff, Supervisor

from .faults import Timing
from .stack import (
    CountingEmulator,
    CountingProcoreEmulator,
    PrivateRedis,
    SupervisedWorker,
    Worker,
    celery_worker_argv,
    wait_until,
)
from .world import API_KEY

EMBEDDED = os.environ.get("CHAOS_EMBEDDED", "") not in ("", "0")
REMOTES = ("plexxis", "procore")
SUMMARY = pytest.StashKey[str]()


def pytest_unconfigure(config: pytest.Config) -> None:
    # The very last line of the output, after pytest's own report.
    line = config.stash.get(SUMMARY, None)
    if line:
        print(line, file=sys.__stdout__, flush=True)


@pytest.fixture(scope="session")
def django_db_modify_db_settings() -> None:
    if EMBEDDED:
        # The workers open the SQLite file named by DATABASE_URL: the test database must be
        # that file, not SQLite's in-memory default.
        database = django_settings.DATABASES["default"]
        database["TEST"]["NAME"] = database["NAME"]


@pytest.fixture(scope="session", autouse=True)
def _require_postgresql(django_db_setup, django_db_blocker) -> None:
    """Main mode runs on PostgreSQL like the suite; the embedded mode on its SQLite file."""
    want = "sqlite" if EMBEDDED else "postgresql"
    if connection.vendor != want:
        pytest.exit(f"make chaos{' EMBEDDED=1' if EMBEDDED else ''} runs on {want}; "
                    f"DATABASE_URL names {connection.vendor}.", returncode=2)


@dataclass
class Stack:
    mode: str  # "main" | "embedded"
    emulator: CountingEmulator
    procore: CountingProcoreEmulator
    remotes: tuple[str, ...]  # what the trials run against, in turn
    redis: PrivateRedis | None
    workers: list[Worker]
    timing: Timing
    logs: Path


def _use_broker(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point this process's Celery app (clicks and recovery enqueue from here) at the private
    Redis (Celery reads CELERY_BROKER_URL from the environment before its settings). Its
    connection pools are made on first use: drop any made before."""
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


def _postgres_url(application_name: str) -> str:
    database = connection.settings_dict
    credentials = quote(database["USER"] or "")
    if database["PASSWORD"]:
        credentials += ":" + quote(database["PASSWORD"])
    # The worker's sessions carry its name, so a trial can terminate exactly those.
    return (f"postgres://{credentials}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}?application_name={application_name}")


def _run_local_worker(env: dict[str, str], logs: Path) -> tuple[Supervisor, SupervisedWorker]:
    """The worker and beat exactly as `manage.py run_local` starts and supervises them (its
    emulator is this process's). A shorter restart backoff than run_local's: trials kill the
    worker every few seconds, and the backoff would otherwise grow to its 30 s cap."""
    # The harness reports restarts itself, in its trial lines.
    logging.getLogger("timesync.run_local").setLevel(logging.ERROR)
    programs = [program for program in run_local.programs(plexxis_port=free_port(),
                                                          procore_port=free_port())
                if program.module not in ("connectors.plexxis.emulator",
                                          "connectors.procore.emulator")]
    log = logs / "run_local.log"
    supervisor = Supervisor(programs, env=env, cwd=ROOT, output=log.open("ab"),
                            backoff=Backoff(first=0.5, most=4.0, settled=10.0))
    return supervisor, SupervisedWorker(supervisor, log)


def _bounded_lock_waits(sender, connection, **kwargs) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '20s'")


def _remotes() -> tuple[str, ...]:
    wanted = os.environ.get("CHAOS_REMOTE", "").strip().lower()
    if not wanted:
        return REMOTES
    if wanted not in REMOTES:
        pytest.exit(f"REMOTE is one of {', '.join(REMOTES)}, not {wanted!r}.", returncode=2)
    return (wanted,)


@pytest.fixture
def stack(transactional_db, live_server, settings, monkeypatch) -> Iterator[Stack]:
    timing = Timing()
    remotes = _remotes()
    settings.SYNC_RUN_STALE_SECONDS = timing.stale
    settings.SYNC_REMOTE_REQUEST_LIFETIME_SECONDS = timing.lifetime
    settings.SYNC_RUN_LOST_SECONDS = timing.lost
    settings.SYNC_RETRY_BASE_SECONDS = timing.retry_base
    settings.SYNC_RETRY_MAX_SECONDS = timing.retry_max
    settings.PLEXXIS_READ_TIMEOUT_SECONDS = timing.read_timeout
    settings.PROCORE_READ_TIMEOUT_SECONDS = timing.read_timeout
    # Procore's webhooks reach this process's live server: its endpoint stores each event and
    # queues its processing for the workers, as gunicorn does in production.
    settings.SITE_URL = live_server.url
    logs = ROOT / "test-artifacts" / "chaos"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    # A worker frozen inside a transaction holds its locks: this process (clicks, edits,
    # recovery) then waits at most this long, and says so, instead of hanging the harness.
    connection_created.connect(_bounded_lock_waits)
    connection.close()
    emulator = CountingEmulator(api_key=API_KEY, rate_limit=100_000)
    emulator.start()
    procore = CountingProcoreEmulator(rate_limit=100_000)
    procore.start()
    env = {**os.environ, **timing.environment()}
    redis = supervisor = None
    if EMBEDDED:
        supervisor, worker = _run_local_worker(env, logs)
        workers = [worker]
    else:
        redis = PrivateRedis(logs / "redis.log")
        redis.start()
        _use_broker(redis.url(0), monkeypatch)
        env.update(CELERY_BROKER_URL=redis.url(0), REDIS_URL=redis.url(0),
                   CACHE_URL=f"rediscache://127.0.0.1:{redis.port}/1")
        workers = [Worker(name, celery_worker_argv(name),
                          {**env, "DATABASE_URL": _postgres_url(f"chaos-{name}")}, logs, ROOT)
                   for name in ("w1", "w2")]
    try:
        if supervisor is not None:
            supervisor.start()
        for worker in workers:
            if supervisor is None:
                worker.start()
        for worker in workers:
            if not wait_until(worker.ready, 90):
                raise RuntimeError(f"worker {worker.name} did not start; see {worker.log}")
        yield Stack(mode="embedded" if EMBEDDED else "main", emulator=emulator,
                    procore=procore, remotes=remotes, redis=redis, workers=workers,
                    timing=timing, logs=logs)
    finally:
        for worker in workers:
            worker.stop()
        if supervisor is not None:
            supervisor.stop()
        if redis is not None:
            redis.stop()
        emulator.stop()
        procore.stop()
        connection_created.disconnect(_bounded_lock_waits)
