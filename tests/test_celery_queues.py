"""Celery queues by concern: syncs, reference fetches and mail each travel on their own queue,
a worker is there for every queue in production, and a worker that does everything (run_local,
the test workers) consumes them all."""

from __future__ import annotations

import pytest
import redis
import yaml
from django.conf import settings

from config.celery import all_queues, app
from tests.processes import ROOT

ROUTES = {
    "timesync.tasks.execute_sync_run": "sync",
    "timesync.tasks.recover_sync_runs": "sync",
    "timesync.tasks.start_scheduled_syncs": "sync",
    "timesync.tasks.fetch_reference_catalog": "reference",
    "timesync.tasks.send_invitation_email": "mail",
    "timesync.tasks.send_sync_failure_email": "mail",
    "timesync.tasks.send_sign_up_email": "mail",
}


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def compose_services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def celery_role(service: dict) -> str | None:
    command = service.get("command") or []
    return command[3] if command[:3] == ["celery", "-A", "config"] else None


@pytest.mark.parametrize(("task_name", "queue"), ROUTES.items())
def test_each_task_is_routed_to_the_queue_of_its_concern(task_name, queue):
    assert queue_of(task_name) == queue


def test_a_task_without_a_route_goes_to_the_default_queue():
    assert queue_of("timesync.tasks.a_task_nobody_routed") == "sync"


def test_every_task_of_ours_has_a_route():
    app.loader.import_default_modules()
    ours = {name for name in app.tasks if name.startswith("timesync.")}
    assert ours <= set(settings.CELERY_TASK_ROUTES)


def test_a_worker_started_without_queue_options_consumes_every_queue():
    assert sorted(app.amqp.queues) == sorted(all_queues()) == ["mail", "reference", "sync"]


@pytest.mark.parametrize(("task_name", "queue"), ROUTES.items())
def test_a_sent_task_waits_in_its_queue_on_redis(task_name, queue):
    app.control.purge()
    app.send_task(task_name, kwargs={})
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    waiting = {name: broker.llen(name) for name in all_queues()}
    app.control.purge()
    assert waiting == {name: int(name == queue) for name in all_queues()}


def test_production_runs_a_worker_for_every_queue():
    consumed = []
    for service in compose_services().values():
        if celery_role(service) == "worker":
            command = service["command"]
            consumed += command[command.index("--queues") + 1].split(",")
    assert sorted(consumed) == sorted(all_queues())


def test_production_runs_exactly_one_beat():
    beats = [s for s in compose_services().values() if celery_role(s) == "beat"]
    assert len(beats) == 1
    assert "replicas" not in beats[0].get("deploy", {})


def test_production_workers_and_beat_are_health_checked_and_restarted():
    celery_services = {name: s for name, s in compose_services().items() if celery_role(s)}
    assert len(celery_services) == 4
    for name, service in celery_services.items():
        assert service["restart"] in ("unless-stopped", "always"), name
        assert "inspect ping" in " ".join(service["healthcheck"]["test"]), name
