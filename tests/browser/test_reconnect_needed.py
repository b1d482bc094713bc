""""Reconnect needed" as a person sees it, on a wide screen (1440 px) and a phone (390 px): the
Sync Dashboard's banner says why, an admin gets the link to Procore's connect page and a
payroll admin does not, no waiting cell is a button, and nothing overflows the phone's width."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.browser.helpers import screenshot
from timesync.models import ApprovalState, Role

pytestmark = pytest.mark.django_db(transaction=True)

WORK_DATE = date(2026, 6, 3)
REASON = ("Procore no longer accepts this connection's authorization: it was revoked, it "
          "expired or it was already used. Connect to Procore again.")
WIDTHS = [pytest.param(1440, id="1440px"), pytest.param(390, id="390px")]


@pytest.fixture
def reconnect_needed():
    """A Procore integration in "reconnect needed", a linked project with a shift waiting."""
    organization = factories.OrganizationFactory(name="Northwind Builders")
    integration = factories.ProcoreIntegrationFactory(organization=organization,
                                                      reconnect_reason=REASON)
    link = factories.ProjectLinkFactory(integration=integration, project=factories.ProjectFactory(
        organization=organization, name="King Street Tower", code="24-101"))
    factories.ShiftFactory(organization=organization, project=link.project,
                           start=datetime(2026, 6, 3, 11, tzinfo=UTC),
                           approval_state=ApprovalState.APPROVED)
    return link


def open_dashboard(page: Page, live_server, link, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/o/{link.organization.slug}/integrations/"
              f"{link.integration.pk}/dashboard/?week={WORK_DATE.isoformat()}")


def assert_fits(page: Page, selector: str, width: int) -> None:
    """The element ends inside the viewport, its text wraps inside it, and the page itself
    does not scroll sideways (the grid scrolls in its own box)."""
    box = page.locator(selector).bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= width
    overflow = page.locator(selector).evaluate("e => e.scrollWidth - e.clientWidth")
    assert overflow <= 0
    page_overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert page_overflow <= 0


@pytest.mark.parametrize("width", WIDTHS)
def test_an_admin_reads_why_and_follows_the_link_to_connect_procore_again(
    reconnect_needed, sign_in, live_server, page, width
):
    admin = factories.MembershipFactory(organization=reconnect_needed.organization,
                                        role=Role.ADMIN)
    sign_in(admin)
    open_dashboard(page, live_server, reconnect_needed, width)

    banner = page.locator(".reconnect-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Reconnect needed.")
    expect(banner).to_contain_text(REASON)
    assert_fits(page, ".reconnect-banner", width)
    screenshot(page, f"reconnect-needed-dashboard-admin-{width}")
    expect(page.locator(".sync-grid button.cell-body")).to_have_count(0)

    banner.get_by_role("link", name="Reconnect to Procore").click()

    expect(page.get_by_role("heading", name="Connect Procore to Procore")).to_be_visible()
    expect(page.get_by_role("button", name="Connect to Procore")).to_be_visible()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_payroll_admin_reads_why_without_a_link(
    reconnect_needed, sign_in, live_server, page, width
):
    payroll = factories.MembershipFactory(organization=reconnect_needed.organization,
                                          role=Role.PAYROLL_ADMIN)
    sign_in(payroll)
    open_dashboard(page, live_server, reconnect_needed, width)

    banner = page.locator(".reconnect-banner")
    expect(banner).to_contain_text(REASON)
    expect(banner).to_contain_text("An admin of Northwind Builders can connect it again.")
    expect(banner.get_by_role("link")).to_have_count(0)
    expect(page.locator(".sync-grid button.cell-body")).to_have_count(0)
    assert_fits(page, ".reconnect-banner", width)
    screenshot(page, f"reconnect-needed-dashboard-payroll-{width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_project_card_says_why_and_fits_without_a_sync_timesheet_button(
    reconnect_needed, sign_in, live_server, page, width
):
    admin = factories.MembershipFactory(organization=reconnect_needed.organization,
                                        role=Role.ADMIN)
    sign_in(admin)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/o/{reconnect_needed.organization.slug}/projects/"
              f"{reconnect_needed.project.pk}/?date={WORK_DATE.isoformat()}")

    card = page.locator(f"#integration-{reconnect_needed.integration.pk}")
    expect(card.locator(".reconnect-banner")).to_contain_text(REASON)
    expect(card.get_by_role("link", name="Reconnect to Procore")).to_be_visible()
    expect(card.get_by_role("button", name="Sync Timesheet")).to_have_count(0)
    assert_fits(page, f"#integration-{reconnect_needed.integration.pk} .reconnect-banner", width)
    screenshot(page, f"reconnect-needed-project-card-{width}", card)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_integrations_list_shows_reconnect_needed_and_fits(
    reconnect_needed, sign_in, live_server, page, width
):
    admin = factories.MembershipFactory(organization=reconnect_needed.organization,
                                        role=Role.ADMIN)
    sign_in(admin)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/o/{reconnect_needed.organization.slug}/integrations/")

    row = page.get_by_role("row", name="Procore")
    expect(row).to_contain_text("Reconnect needed")
    expect(row).to_contain_text(REASON)
    expect(row.get_by_role("link", name="Reconnect to Procore")).to_be_visible()
    # The table scrolls in its own box on a phone; the page does not.
    assert_fits(page, "main", width)
    screenshot(page, f"reconnect-needed-integrations-{width}")
