"""Browser tests: Debian's Chromium driven by Playwright against Django's live server, with a
real Celery worker (in a thread, over the test Redis) running the syncs the pages start.

Playwright's sync API keeps an asyncio loop in the main thread, so Django's ORM calls from
the test body would raise SynchronousOnlyOperation; the flag below allows them, for the
browser tests only. `live_server` makes every test transactional: each test lets its page
settle and leaves it (about:blank) before the database is flushed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from playwright.sync_api import Page, expect

from config.celery import all_queues, app
from tests.browser.helpers import ARTIFACTS
from tests.dashboard.helpers import PASSWORD
from tests.timesync.sync.conftest import emulator as emulator
from tests.timesync.sync.conftest import world as world
from timesync.models import Membership

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def pytest_configure(config: pytest.Config) -> None:
    # pytest-playwright's own artefacts (a screenshot of each failed test) go beside ours,
    # unless asked for elsewhere on the command line.
    if config.option.output == "test-results":
        config.option.output = str(ARTIFACTS / "playwright")
    if config.option.screenshot == "off":
        config.option.screenshot = "only-on-failure"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's Chromium, not a browser Playwright would download (the network is closed)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does).")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture(autouse=True)
def _browser_defaults(page: Page, live_server) -> Iterator[None]:
    """Every browser test runs against the live server and fails on a script error or a
    console error (a missing static file, an htmx request answered 4xx/5xx); whatever a test
    leaves open is closed before the database is flushed."""
    page.set_default_timeout(10_000)
    expect.set_options(timeout=10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"script error: {error}"))
    page.on("console", lambda message: errors.append(f"console: {message.text}")
            if message.type == "error" else None)
    page.on("response", lambda response: errors.append(
        f"{response.status} {response.request.method} {response.url}")
        if response.status >= 400 else None)
    yield
    page.goto("about:blank")
    assert not errors, "the page reported errors:\n" + "\n".join(errors)


@pytest.fixture
def celery_worker(live_server) -> Iterator[object]:
    """A real Celery worker in a thread, consuming every queue of the test Redis, for the
    test's duration.

    It shares the process (so Django settings changed with the `settings` fixture apply to it)
    and the test database, where the live server's requests commit. Messages left in the
    queue by earlier tests name runs that no longer exist: purged first.
    """
    app.control.purge()
    with start_worker(app, perform_ping_check=False, loglevel="WARNING",
                      shutdown_timeout=10, queues=all_queues()) as worker:
        yield worker


@pytest.fixture
def sign_in(page: Page, live_server) -> Callable[[Membership], Page]:
    """Sign in through the real login form as a membership's user; the page lands on home."""

    def login(membership: Membership) -> Page:
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Email").fill(membership.user.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        return page

    return login

