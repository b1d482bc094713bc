"""Procore's prerequisites (ExakTime's checklist), checked on connect and on demand against the
emulator over HTTP: a line each for the Timecard tool, projects visible to the app, people
marked as employees and time types, kept for the integration's page."""

from __future__ import annotations

import pytest

from connectors.procore.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests import factories
from tests.connectors.procore.fixtures import COMPANY_ID, procore_emulator
from timesync.models import Integration, Role
from timesync.sync import procore

from .conftest import procore_integration_for

__all__ = ["procore_emulator"]
pytestmark = pytest.mark.django_db

LABELS = ["Timecard tool reachable", "Projects visible to the app",
          "People marked as employees", "Time types present"]


@pytest.fixture
def admin():
    return factories.MembershipFactory(role=Role.ADMIN)


def test_connecting_checks_the_prerequisites_and_keeps_the_lines(api, admin, procore_emulator):
    response = api(admin).post(f"/api/v1/orgs/{admin.organization.slug}/integrations/", {
        "kind": "procore", "name": "Procore",
        "settings": {"api_base_url": procore_emulator.api_base_url,
                     "login_base_url": procore_emulator.login_base_url,
                     "company_id": COMPANY_ID, "grant": "client_credentials"},
        "credentials": {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET},
    }, format="json")

    assert response.status_code == 201, response.content
    integration = Integration.objects.get(pk=response.json()["id"])
    assert [(line["label"], line["ok"]) for line in integration.prerequisites] == [
        (label, True) for label in LABELS]
    assert integration.prerequisites[2]["detail"] == "2 employees."
    assert integration.prerequisites_checked_at is not None


def test_a_company_without_employees_says_so_and_the_other_lines_stand(admin, procore_emulator):
    procore_emulator.seed(companies=[{"id": 8_000_000_002, "name": "Empty Co"}],
                          projects=[{"id": 7_100_000_009, "company_id": 8_000_000_002,
                                     "name": "Lone Job"}])
    integration = procore_integration_for(admin.organization, procore_emulator)
    Integration.objects.filter(pk=integration.pk).update(
        settings={**integration.settings, "company_id": 8_000_000_002})

    lines = procore.procore_prerequisites_check(actor=admin, integration=integration)

    assert [(line.label, line.ok) for line in lines] == [
        (LABELS[0], True), (LABELS[1], True), (LABELS[2], False), (LABELS[3], True)]
    assert "Is Employee" in lines[2].detail


def test_an_app_not_installed_fails_every_line_with_procores_reason(admin, procore_emulator):
    integration = procore_integration_for(admin.organization, procore_emulator)
    procore_emulator.set_app_installed(COMPANY_ID, False)

    lines = procore.procore_prerequisites_check(actor=admin, integration=integration)

    assert [line.ok for line in lines] == [False] * 4
    assert all(line.detail for line in lines)


def test_the_settings_page_shows_the_lines_and_checks_again_on_demand(
    browser_client, admin, procore_emulator
):
    integration = procore_integration_for(admin.organization, procore_emulator)
    settings_url = f"/o/{admin.organization.slug}/integrations/{integration.pk}/settings/"
    assert b"Not checked yet." in browser_client(admin).get(settings_url).content

    response = browser_client(admin).post(
        f"/o/{admin.organization.slug}/integrations/{integration.pk}/procore/prerequisites/",
        follow=True)

    text = response.content.decode()
    assert "Procore has everything a sync needs." in text
    for label in LABELS:
        assert label in text


def test_the_api_checks_on_demand_for_admins_only(api, admin, procore_emulator):
    integration = procore_integration_for(admin.organization, procore_emulator)
    url = (f"/api/v1/orgs/{admin.organization.slug}/integrations/{integration.pk}/"
           "prerequisites/")
    payroll = factories.MembershipFactory(organization=admin.organization,
                                          role=Role.PAYROLL_ADMIN)

    assert api(payroll).post(url).status_code == 403
    response = api(admin).post(url)
    assert response.status_code == 200
    assert [line["label"] for line in response.json()] == LABELS
