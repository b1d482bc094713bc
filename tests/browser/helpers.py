"""What the browser tests share: the Sync Dashboard's address and cells, waiting, screenshots."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# The grid polls every 2 s; a sync against the in-process emulator takes well under a second.
SETTLE_MS = 20_000


def dashboard_url(live_server, world, week: date | None = None) -> str:
    url = (f"{live_server.url}/o/{world.project.organization.slug}/integrations/"
           f"{world.integration.pk}/dashboard/")
    return f"{url}?week={week.isoformat()}" if week else url


def cell(page: Page, project, day: date) -> Locator:
    return page.locator(f"#cell-{project.pk}-{day:%Y%m%d}")


def open_dialog(page: Page, project, day: date) -> Locator:
    """Click a cell and wait for its preview dialog to be open."""
    cell(page, project, day).locator("button.cell-body").click()
    dialog = page.locator("dialog#sync-dialog")
    expect(dialog).to_be_visible()
    return dialog


def settle(page: Page) -> None:
    """Wait until no cell is syncing and the grid's poller has stopped, then leave the page, so
    no request is in flight when the live server's database is flushed."""
    expect(page.locator("#grid .cell-in_progress")).to_have_count(0, timeout=SETTLE_MS)
    expect(page.locator("#sync-poller[hx-trigger]")).to_have_count(0, timeout=SETTLE_MS)
    page.goto("about:blank")


def screenshot(page: Page, name: str, locator: Locator | None = None) -> Path:
    """Save a screenshot under test-artifacts/: the whole page, or one element."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if locator is None:
        page.screenshot(path=str(path), full_page=True)
    else:
        locator.screenshot(path=str(path))
    return path


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    """Poll the database or the emulator (for the page, use Playwright's expect)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
