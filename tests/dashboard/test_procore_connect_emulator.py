"""Connecting to the Procore emulator over HTTP, as an admin would: the page sends the browser
to Procore's authorize endpoint, Procore sends it back to our callback with a code, and the
integration is connected; a service account connects from the API at once. Every request we
make is checked against the OpenAPI subset (the emulator fixture)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from connectors.procore.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.connectors.procore.fixtures import COMPANY_ID, procore_emulator
from tests.dashboard.helpers import visible_text
from timesync.models import Integration, OAuthToken

__all__ = ["procore_emulator"]
pytestmark = pytest.mark.django_db


def settings_for(emulator, grant: str) -> dict:
    return {"api_base_url": emulator.api_base_url, "login_base_url": emulator.login_base_url,
            "company_id": COMPANY_ID, "grant": grant}


def to_procore_and_back(client, admin, emulator):
    """Submit the connect page, let Procore answer the authorize request, follow it back."""
    form = {"name": "Procore", "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            **settings_for(emulator, "authorization_code")}
    sent = client.post(f"/o/{admin.organization.slug}/integrations/connect/procore/", form)
    assert sent["Location"].startswith(f"{emulator.login_base_url}/oauth/authorize?")
    at_procore = requests.get(sent["Location"], allow_redirects=False, timeout=5)
    assert at_procore.status_code == 302
    back = urlsplit(at_procore.headers["Location"])
    return client.get(f"{back.path}?{back.query}", follow=True)


def test_an_admin_connects_through_procores_sign_in(browser_client, admin, procore_emulator):
    response = to_procore_and_back(browser_client(admin), admin, procore_emulator)

    assert "Connected to Procore: Procore writes to Northwind Builders." in visible_text(
        response.content)
    integration = Integration.objects.get(organization=admin.organization)
    assert integration.is_connected
    assert OAuthToken.objects.get(integration=integration).refresh_token_encrypted
    assert procore_emulator.token_counts()["authorization_code"] == 1


def test_an_admin_who_denies_the_app_at_procore_is_told(browser_client, admin, procore_emulator):
    procore_emulator.deny_authorization = True

    response = to_procore_and_back(browser_client(admin), admin, procore_emulator)

    assert response.status_code == 400
    assert "did not grant access (access_denied)" in visible_text(response.content)
    assert not Integration.objects.get(organization=admin.organization).is_connected


def test_an_app_not_installed_in_the_company_is_named(api, admin, procore_emulator):
    procore_emulator.set_app_installed(COMPANY_ID, False)

    response = api(admin).post(f"/api/v1/orgs/{admin.organization.slug}/integrations/", {
        "kind": "procore", "name": "Procore",
        "settings": settings_for(procore_emulator, "client_credentials"),
        "credentials": {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET},
    }, format="json")

    assert response.status_code == 502
    assert "not installed in the company's App Management" in response.json()["detail"]


def test_a_service_account_connects_from_the_api(api, admin, procore_emulator):
    response = api(admin).post(f"/api/v1/orgs/{admin.organization.slug}/integrations/", {
        "kind": "procore", "name": "Procore",
        "settings": settings_for(procore_emulator, "client_credentials"),
        "credentials": {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET},
    }, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["settings"]["company_name"] == "Northwind Builders"
    assert procore_emulator.token_counts()["client_credentials"] == 1
