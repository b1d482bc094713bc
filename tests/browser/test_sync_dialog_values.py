"""In a real browser, Confirm syncs the project and day its dialog shows, even when the dialog
was asked for with a `source` crafted to carry JSON (finding 5 of issue 8): htmx reads the
button's hx-vals as the browser decodes it, which is what the attack relied on."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.helpers import dashboard_url, wait_until
from tests.timesync.sync.conftest import WORK_DATE
from timesync.models import SyncRun

pytestmark = pytest.mark.django_db(transaction=True)

LOAD_DIALOG = """([project, day, source]) => {
  const table = document.querySelector("table[data-preview-url]");
  const query = new URLSearchParams({project, date: day, source});
  return htmx.ajax("GET", `${table.dataset.previewUrl}?${query}`,
                   {target: table.dataset.dialog, swap: "innerHTML"});
}"""


def test_confirm_in_a_dialog_asked_for_with_a_hostile_source_syncs_what_it_shows(
    world, sign_in, live_server
):
    world.shift("ana")
    elsewhere = factories.ProjectFactory(organization=world.project.organization, code="24-999")
    page = sign_in(world.payroll)
    page.goto(dashboard_url(live_server, world, WORK_DATE))
    hostile = f'x", "project": "{elsewhere.pk}", "date": "2026-11-01'

    page.evaluate(LOAD_DIALOG, [str(world.project.pk), WORK_DATE.isoformat(), hostile])
    dialog = page.locator("dialog#sync-dialog")
    expect(dialog.get_by_role("heading", level=2)).to_have_text(
        "Sync King Street Tower on Wednesday, Jun 3, 2026?")
    dialog.get_by_role("button", name="Confirm").click()

    wait_until(SyncRun.objects.exists, "the run Confirm starts")
    run = SyncRun.objects.get()
    assert (run.project_id, run.work_date) == (world.project.pk, WORK_DATE)
    page.goto("about:blank")  # the grid polls a run no worker takes: stop it
