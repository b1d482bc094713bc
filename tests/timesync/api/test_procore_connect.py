"""Connecting Procore through the API, against a stub Procore login host over real HTTP: a
service account connects at once, and each failure says what is missing; the authorization
code grant answers with the page to send the admin to."""

from __future__ import annotations

import pytest

from tests.connectors.procore.stub_login import CLIENT_ID, CLIENT_SECRET, COMPANY_ID, stub_login
from timesync.models import AuditEvent, Integration, OAuthToken

__all__ = ["stub_login"]
pytestmark = pytest.mark.django_db


def integrations_url(organization) -> str:
    return f"/api/v1/orgs/{organization.slug}/integrations/"


def body(stub, *, grant: str = "client_credentials", secret: str = CLIENT_SECRET,
         company_id: int = COMPANY_ID) -> dict:
    return {"kind": "procore", "name": "Procore",
            "settings": {"api_base_url": stub.url, "login_base_url": stub.url,
                         "company_id": company_id, "grant": grant},
            "credentials": {"client_id": CLIENT_ID, "client_secret": secret}}


def test_client_credentials_connect_at_once(api, admin, stub_login):
    response = api(admin).post(integrations_url(admin.organization), body(stub_login),
                               format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["is_connected"] is True
    assert data["authorize_url"] is None
    assert data["settings"]["company_name"] == "Acme"
    assert "credentials" not in data
    integration = Integration.objects.get(pk=data["id"])
    assert OAuthToken.objects.filter(integration=integration).exists()
    assert integration.audit_entries.filter(event=AuditEvent.CONNECTED).exists()
    # The company check carried the company header.
    people = [headers for method, path, headers in stub_login.calls if path.endswith("/people")]
    assert people[0]["Procore-Company-Id"] == str(COMPANY_ID)


@pytest.mark.parametrize(("arrange", "expected"), [
    (lambda stub: stub.companies.clear(), "not installed in any Procore company"),
    (lambda stub: stub.companies.__setitem__(0, {"id": 1, "name": "Other Co"}),
     f"company {COMPANY_ID} was not found"),
    (lambda stub: setattr(stub, "people_forbidden", True), "may not read the company directory"),
])
def test_a_connect_that_cannot_work_says_what_is_missing_and_creates_nothing(
    api, admin, stub_login, arrange, expected
):
    arrange(stub_login)
    response = api(admin).post(integrations_url(admin.organization), body(stub_login),
                               format="json")

    assert response.status_code == 502
    assert expected in response.json()["detail"]
    assert not Integration.objects.filter(organization=admin.organization).exists()
    assert not OAuthToken.objects.exists()


def test_a_wrong_client_secret_is_refused_and_creates_nothing(api, admin, stub_login):
    response = api(admin).post(integrations_url(admin.organization),
                               body(stub_login, secret="wrong"), format="json")

    assert response.status_code == 502
    assert "client ID or client secret" in response.json()["detail"]
    assert not Integration.objects.filter(organization=admin.organization).exists()


def test_the_authorization_code_grant_answers_with_the_page_to_send_the_admin_to(
    api, admin, stub_login
):
    response = api(admin).post(integrations_url(admin.organization),
                               body(stub_login, grant="authorization_code"), format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["is_connected"] is False
    assert data["authorize_url"].endswith(
        f"/o/{admin.organization.slug}/integrations/{data['id']}/procore/authorize/")
    assert stub_login.calls == []  # Procore is asked only once the admin allows the app


def test_a_procore_integration_without_a_company_is_refused(api, admin, stub_login):
    data = body(stub_login)
    del data["settings"]["company_id"]
    response = api(admin).post(integrations_url(admin.organization), data, format="json")

    assert response.status_code == 400
    assert "company_id" in response.json()["errors"]
    assert stub_login.calls == []


def test_disconnecting_deletes_the_tokens_and_revokes_them_at_procore(api, admin, stub_login):
    created = api(admin).post(integrations_url(admin.organization), body(stub_login),
                              format="json").json()

    response = api(admin).post(f"{integrations_url(admin.organization)}{created['id']}"
                               "/disconnect/")

    assert response.status_code == 200
    assert not OAuthToken.objects.exists()
    assert stub_login.revoked == ["access-1"]
    entry = Integration.objects.get(pk=created["id"]).audit_entries.get(
        event=AuditEvent.DISCONNECTED)
    assert "Procore tokens" in entry.note


def test_a_client_credentials_connect_is_one_connected_entry_in_the_audit_trail(
    api, admin, stub_login
):
    response = api(admin).post(integrations_url(admin.organization), body(stub_login),
                               format="json")

    integration = Integration.objects.get(pk=response.json()["id"])
    (entry,) = integration.audit_entries.filter(event=AuditEvent.CONNECTED)
    assert "Acme" in entry.note
