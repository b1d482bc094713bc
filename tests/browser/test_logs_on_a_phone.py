"""The Logs page on a phone (390 px): its filters wrap inside the page, whatever the length of a
project's name in the project filter; only the table scrolls sideways, in its own box."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.helpers import screenshot
from timesync.models import Role

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_logs_filters_fit_a_phone_with_a_long_project_name(sign_in, live_server, page):
    organization = factories.OrganizationFactory(name="Northwind Builders")
    integration = factories.ProcoreIntegrationFactory(organization=organization)
    factories.ProjectFactory(organization=organization, code="24-102",
                             name="Etobicoke Transit Maintenance Facility, Phase 2 Expansion")
    sign_in(factories.MembershipFactory(organization=organization, role=Role.ADMIN))
    page.set_viewport_size({"width": 390, "height": 844})

    page.goto(f"{live_server.url}/o/{organization.slug}/integrations/{integration.pk}/logs/")

    project_filter = page.get_by_label("Project")
    expect(project_filter).to_be_visible()
    box = project_filter.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= 390
    assert page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    screenshot(page, "logs-filters-390")
