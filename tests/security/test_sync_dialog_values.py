"""The sync dialog's Confirm posts the project and day the dialog shows, whatever text the
query string carried (finding 5 of issue 8: `source` was written into the JSON of `hx-vals`
unescaped, so a crafted link made Confirm sync another project and day)."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from tests import factories
from tests.timesync.sync.conftest import WORK_DATE
from tests.timesync.sync.conftest import emulator as emulator
from tests.timesync.sync.conftest import world as world
from timesync.models import SyncRun, SyncTrigger

pytestmark = pytest.mark.django_db
DAY = WORK_DATE.isoformat()


class _ConfirmButton(HTMLParser):
    """The Confirm button's attributes as a browser reads them (entities decoded)."""

    def __init__(self) -> None:
        super().__init__()
        self.attrs: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "button" and "confirm" in (values.get("class") or "").split():
            self.attrs = {name: value or "" for name, value in values.items()}


def confirm_values(response) -> dict[str, str]:
    """What htmx posts on Confirm: the button's hx-vals, parsed as JSON (a repeated key: the
    last wins, in JavaScript as in Python)."""
    parser = _ConfirmButton()
    parser.feed(response.content.decode())
    assert parser.attrs is not None, "no Confirm button in the dialog"
    return json.loads(parser.attrs["hx-vals"])


def preview_url(world) -> str:
    return (f"/o/{world.project.organization.slug}/integrations/{world.integration.pk}"
            "/dashboard/preview/")


def open_dialog(client, world, source: str):
    client.force_login(world.payroll.user)
    response = client.get(preview_url(world),
                          {"project": world.project.pk, "date": DAY, "source": source})
    assert response.status_code == 200
    return response


def hostile_source(project_id: int) -> str:
    return f'x", "project": "{project_id}", "date": "2026-11-01'


def test_a_source_carrying_json_cannot_change_the_project_confirm_posts(world, client):
    elsewhere = factories.ProjectFactory(organization=world.project.organization, code="24-999")

    values = confirm_values(open_dialog(client, world, hostile_source(elsewhere.pk)))

    assert values["project"] == str(world.project.pk)


def test_a_source_carrying_json_cannot_change_the_day_confirm_posts(world, client):
    values = confirm_values(open_dialog(client, world, hostile_source(world.project.pk)))

    assert values["date"] == DAY


@pytest.mark.parametrize("source", ['x", "project": "1', "</button><script>", "projects", ""])
def test_an_unknown_source_is_the_dashboards(world, client, source):
    values = confirm_values(open_dialog(client, world, source))

    assert values == {"project": str(world.project.pk), "date": DAY, "source": "dashboard"}


def test_the_project_pages_dialog_keeps_its_source(world, client):
    values = confirm_values(open_dialog(client, world, "project"))

    assert values["source"] == "project"


def test_confirming_a_dialog_opened_with_a_hostile_source_syncs_the_dialogs_project_and_day(
    world, client, django_capture_on_commit_callbacks
):
    world.shift("ana")
    elsewhere = factories.ProjectFactory(organization=world.project.organization, code="24-999")
    values = confirm_values(open_dialog(client, world, hostile_source(elsewhere.pk)))

    with django_capture_on_commit_callbacks(execute=False):
        client.post(preview_url(world).replace("/preview/", "/sync/"), values)

    run = SyncRun.objects.get()
    assert (run.project_id, run.work_date, run.trigger) == (world.project.pk, WORK_DATE,
                                                            SyncTrigger.DASHBOARD)
