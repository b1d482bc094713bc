"""Run the product locally: the web server, a Celery worker, Celery beat and the Plexxis and
Procore emulators.

`make run` calls this after migrating and loading the demo. On the embedded default the broker
is kombu's filesystem transport (folders under var/broker), so nothing else needs to run.

The worker, beat and the emulator are supervised (timesync/management/supervisor.py): one that
dies is started again after a short backoff, none outlives this command even when it is killed
with SIGKILL, and beat holds a lock in var/ so that there is never a second one. A sync that was
running in a killed worker finishes by itself: beat's recovery re-sends runs whose heartbeat
went quiet (SYNC_RUN_STALE_SECONDS), and the restarted worker picks them up.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from config.celery import all_queues
from connectors.plexxis import demo as plexxis_demo
from timesync.management import procore_demo
from timesync.management.supervisor import (
    SUPERVISOR_PID_ENV,
    Program,
    Supervisor,
    exit_with_parent,
)


def queues() -> str:
    """One local worker does the work of all of production's."""
    return ",".join(all_queues())


def programs(*, plexxis_port: int, procore_port: int = procore_demo.DEMO_PORT) -> list[Program]:
    """The background programs of the local run. The pool comes from the settings (threads on
    the embedded default, see CELERY_WORKER_POOL). Gossip, mingle and event heartbeats are off:
    nothing here uses them, and they are the parts that fail on a broker reconnect."""
    var = settings.VAR_DIR
    return [
        Program("celery worker", "celery", (
            "-A", "config", "worker", "--loglevel", "INFO", "--queues", queues(),
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        )),
        Program("celery beat", "celery", (
            "-A", "config", "beat", "--loglevel", "INFO",
            "--schedule", str(var / "celerybeat-schedule"),
        ), lock=var / "celerybeat.lock"),
        # The demo's Plexxis, with its state in var/ so the entries outlive a restart.
        Program("plexxis emulator", "connectors.plexxis.emulator", (
            "--port", str(plexxis_port), "--state-file", str(plexxis_demo.state_file()),
        )),
        # The demo's Procore, its companies seeded by load_demo (none before it ran), with
        # what was sent to it in var/ so the entries outlive a restart.
        Program("procore emulator", "connectors.procore.emulator", (
            "--port", str(procore_port), "--state-file", str(procore_demo.state_file()),
            *(("--seed-file", str(procore_demo.seed_file()))
              if procore_demo.seed_file().exists() else ()),
        )),
    ]


class Command(BaseCommand):
    help = ("Run the web server, a Celery worker, Celery beat and the Plexxis and Procore "
            "emulators until Ctrl+C.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addrport", default="127.0.0.1:8000")
        parser.add_argument("--noreload", action="store_true",
                            help="Do not restart the web server when code changes.")
        parser.add_argument("--plexxis-port", type=int, default=plexxis_demo.DEMO_PORT,
                            help="Port of the Plexxis emulator (the demo's integrations use "
                                 f"{plexxis_demo.DEMO_PORT}).")
        parser.add_argument("--procore-port", type=int, default=procore_demo.DEMO_PORT,
                            help="Port of the Procore emulator (the demo's integrations use "
                                 f"{procore_demo.DEMO_PORT}).")

    def handle(self, *args: Any, addrport: str, noreload: bool, plexxis_port: int,
               procore_port: int, **options: Any) -> None:
        # With the autoreloader this command runs twice: a watcher process and the server it
        # restarts (RUN_MAIN set). Only the watcher supervises, so there is one of each program;
        # the server stops with the watcher, however the watcher ends.
        if os.environ.get("RUN_MAIN") == "true":
            if SUPERVISOR_PID_ENV in os.environ:
                exit_with_parent(int(os.environ[SUPERVISOR_PID_ENV]))
            call_command("runserver", addrport, use_reloader=True)
            return
        os.environ[SUPERVISOR_PID_ENV] = str(os.getpid())
        # WhiteNoise warns at every start when STATIC_ROOT is missing, even in DEBUG.
        settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
        supervisor = Supervisor(programs(plexxis_port=plexxis_port, procore_port=procore_port))
        # A plain `kill` must stop the programs too, not only Ctrl+C.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        supervisor.start()
        try:
            host = addrport if ":" in addrport else f"127.0.0.1:{addrport}"
            self.stdout.write(self.style.SUCCESS(
                f"\nTimesync is running at http://{host}/  (API docs: http://{host}/api/docs/)\n"
                f"Celery worker pid {supervisor.pid('celery worker')} (queues {queues()}), beat "
                f"pid {supervisor.pid('celery beat')}, broker {settings.CELERY_BROKER_URL}. "
                f"Plexxis emulator at http://127.0.0.1:{plexxis_port}/api/v1, Procore emulator "
                f"at http://127.0.0.1:{procore_port}. "
                "Ctrl+C stops everything.\n"
            ))
            call_command("runserver", addrport, use_reloader=not noreload)
        finally:
            supervisor.stop()
