"""Celery is wired for real: a task enqueued after commit travels through Redis and a real
worker runs it, and the worker as production runs it outlives Redis restarts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
import yaml
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core import mail
from django.db import connection

from config.celery import all_queues, app
from tests.processes import ROOT
from tests.redis_relay import RedisRelay
from tests.timesync.sync.conftest import emulator as emulator
from tests.timesync.sync.conftest import world as world
from tests.timesync.sync.test_worker_killed import wait_for
from timesync import services
from timesync.models import Role, SyncRun, SyncState

pytestmark = pytest.mark.django_db(transaction=True)
# The issue saw a Redis restart end the worker three times.
RESTARTS = 3


def test_broker_is_redis_in_the_test_suite():
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.accept_content == ["json"]


def test_invitation_email_is_sent_by_a_real_worker_through_redis(admin):
    with start_worker(app, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10,
                      queues=all_queues()):
        services.invitation_create(
            actor=admin, email="new.hire@example.com", role=Role.VIEWER,
            accept_url_template="https://timesync.example/invitations/{token}/",
        )
        deadline = time.monotonic() + 20
        while not mail.outbox and time.monotonic() < deadline:
            time.sleep(0.1)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.hire@example.com"]
    assert "https://timesync.example/invitations/" in message.body
    assert admin.organization.name in message.subject


def production_worker_command(service: str) -> list[str]:
    """A worker's command line as docker-compose.yml gives it, on this interpreter."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"][service]["command"]
    assert command[0] == "celery"
    return [sys.executable, "-m", *command]


def test_the_sync_worker_keeps_working_across_redis_restarts(world, tmp_path):
    app.control.purge()  # messages left by earlier tests name runs that no longer exist
    broker = urlsplit(settings.CELERY_BROKER_URL)
    database = connection.settings_dict
    log = tmp_path / "worker.log"
    with RedisRelay(broker.hostname, broker.port or 6379) as relay:
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:"
                            f"{database['PORT']}/{database['NAME']}",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{relay.port}{broker.path}",
        }
        worker = subprocess.Popen(  # noqa: S603 - our interpreter, the compose file's arguments
            production_worker_command("worker-sync"), cwd=ROOT, env=env,
            stdout=log.open("w"), stderr=subprocess.STDOUT,
        )
        try:
            # As docker-compose.yml's health check asks: the worker answers over Redis.
            wait_for(lambda: app.control.ping(timeout=0.5), 60, "the worker to answer")
            for restart in range(1, RESTARTS + 1):
                relay.go_down()
                wait_for(lambda n=restart: log.read_text().count("Cannot connect to redis") >= n,
                         60, "the worker to find Redis down")
                relay.listen()
                wait_for(lambda: app.control.ping(timeout=0.5), 60,
                         f"the worker to answer after restart {restart}")

            run = world.start_run()  # enqueued on commit, to the real Redis behind the relay
            wait_for(lambda: SyncRun.objects.get(pk=run.pk).state not in ("queued", "running"),
                     60, "the worker to run the sync")
            alive = worker.poll() is None
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    output = log.read_text()
    assert alive, output[-3000:]
    assert SyncRun.objects.get(pk=run.pk).state == SyncState.SUCCEEDED, output[-3000:]
    assert "Unrecoverable error" not in output
    assert "Error on restarting" not in output
