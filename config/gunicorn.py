"""gunicorn's settings for the web role (Dockerfile, docker-compose.yml and the load bench);
the address, worker count and timeouts stay on the command line."""

from __future__ import annotations

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    """Once the app is loaded: Django, the URL patterns and templates live for the worker's
    whole life, so the collector stops walking them (`gc.freeze`), and the youngest generation
    is collected less often, since a page allocates tens of thousands of short-lived strings
    and each full walk paid for them all (a dashboard page spent about 2 ms of its ~20 ms in
    the collector)."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
