"""The pages of a Procore integration that only receives: the Sync Dashboard says so and offers
no day to sync, the project card has no Sync Timesheet button, and a sync posted anyway (a
cell's Confirm, the card's) starts nothing and says why."""

from __future__ import annotations

import pytest

from tests.dashboard.helpers import section, visible_text
from tests.timesync.sync.test_procore_export import (
    WORK_DATE,
    ProcoreWorld,
    procore_emulator,
    world,
)
from timesync.models import Integration, SyncRun

__all__ = ["procore_emulator", "world"]
pytestmark = pytest.mark.django_db
DAY = WORK_DATE.isoformat()


def receive_only(integration: Integration) -> None:
    integration.settings = {**integration.settings, "direction": "receive"}
    integration.save(update_fields=["settings"])


def integration_url(world: ProcoreWorld, path: str) -> str:
    return (f"/o/{world.project.organization.slug}/integrations/{world.integration.pk}/"
            f"dashboard/{path}")


def cell_class(page: str, world: ProcoreWorld) -> str:
    cell = page[page.index(f'id="cell-{world.project.pk}-{WORK_DATE:%Y%m%d}"'):]
    cell = cell[cell.index('class="') + 7:]
    return cell[:cell.index('"')]


def test_the_dashboard_of_a_receive_only_integration_says_so_and_offers_no_day(world, client):
    world.shift("aaron")
    receive_only(world.integration)
    client.force_login(world.payroll.user)

    page = client.get(integration_url(world, ""), {"week": DAY}).content.decode()

    assert "only receives time cards from Procore" in visible_text(page)
    assert "cell-ready" not in cell_class(page, world)
    assert "data-preview-url" not in page
    assert '<button type="button" class="cell-body"' not in page


def test_the_same_day_is_ready_while_the_integration_sends(world, client):
    world.shift("aaron")
    client.force_login(world.payroll.user)

    page = client.get(integration_url(world, ""), {"week": DAY}).content.decode()

    assert cell_class(page, world) == "cell cell-ready"
    assert "only receives" not in page


@pytest.mark.parametrize("source", ["dashboard", "project"])
def test_a_sync_posted_to_a_receive_only_integration_starts_nothing(world, client, source):
    world.shift("aaron")
    receive_only(world.integration)
    client.force_login(world.payroll.user)

    response = client.post(integration_url(world, "sync/"),
                           {"project": world.project.pk, "date": DAY, "source": source})

    assert response.status_code == 200
    assert "only receives time cards from Procore" in visible_text(response.content)
    assert not SyncRun.objects.exists()
    assert world.emulator.request_count("POST") == 0  # nothing sent


def test_the_project_card_of_a_receive_only_integration_has_no_sync_button(world, client):
    receive_only(world.integration)
    client.force_login(world.payroll.user)

    page = client.get(f"/o/{world.project.organization.slug}/projects/{world.project.pk}/",
                      {"date": DAY})

    card = section(page.content, "Procore")
    assert "only receives time cards from Procore" in card
    assert "Sync Timesheet" not in card.replace("Sync Timesheet date", "")
    assert ">Sync Timesheet</button>" not in page.content.decode()
