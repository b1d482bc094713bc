"""Run the product locally: the web server and a real Celery worker (with beat), together.

`make run` calls this after migrating and loading the demo. On the embedded default the broker
is kombu's filesystem transport (folders under var/broker), so nothing else needs to run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from connectors.plexxis import demo as plexxis_demo


class Command(BaseCommand):
    help = "Run the web server and a Celery worker (with beat) until Ctrl+C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addrport", default="127.0.0.1:8000")
        parser.add_argument("--noreload", action="store_true",
                            help="Do not restart the web server when code changes.")

    def handle(self, *args: Any, addrport: str, noreload: bool, **options: Any) -> None:
        # With the autoreloader this command runs twice: a watcher process and the server it
        # restarts (RUN_MAIN set). Only the watcher owns the worker, so there is exactly one.
        if os.environ.get("RUN_MAIN") == "true":
            call_command("runserver", addrport, use_reloader=True)
            return
        # WhiteNoise warns at every start when STATIC_ROOT is missing, even in DEBUG.
        settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
        worker = self._start_worker()
        emulator = self._start_plexxis_emulator()
        # A plain `kill` must stop the worker too, not only Ctrl+C.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        host = addrport if ":" in addrport else f"127.0.0.1:{addrport}"
        self.stdout.write(self.style.SUCCESS(
            f"\nTimesync is running at http://{host}/  (API docs: http://{host}/api/docs/)\n"
            f"Celery worker pid {worker.pid}, broker {settings.CELERY_BROKER_URL}. "
            f"Plexxis emulator at {plexxis_demo.DEMO_BASE_URL}. Ctrl+C stops all three.\n"
        ))
        try:
            call_command("runserver", addrport, use_reloader=not noreload)
        finally:
            for process in (worker, emulator):
                process.terminate()
            for process in (worker, emulator):
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()

    def _start_plexxis_emulator(self) -> subprocess.Popen[bytes]:
        # The demo's Plexxis, with its state in var/ so the entries outlive a restart.
        return subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            [sys.executable, "-m", "connectors.plexxis.emulator",
             "--port", str(plexxis_demo.DEMO_PORT),
             "--state-file", str(plexxis_demo.state_file())],
        )

    def _start_worker(self) -> subprocess.Popen[bytes]:
        schedule = settings.VAR_DIR / "celerybeat-schedule"
        return subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            [
                sys.executable, "-m", "celery", "-A", "config", "worker",
                "--loglevel", "INFO", "--concurrency", "2",
                "--beat", "--schedule", str(schedule),
            ],
        )
