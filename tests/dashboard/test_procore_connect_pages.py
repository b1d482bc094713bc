"""Connecting Procore from the pages: out to Procore's sign-in and back through the callback,
whose state is checked before anything (bound to the browser's session and the integration,
used once, expiring), against a stub Procore login host over real HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from tests import factories
from tests.connectors.procore.stub_login import CLIENT_ID, CLIENT_SECRET, COMPANY_ID, stub_login
from tests.dashboard.helpers import visible_text
from timesync.models import AuditEvent, Integration, OAuthToken, Role
from timesync.sync import procore

__all__ = ["stub_login"]
pytestmark = pytest.mark.django_db

CALLBACK = "/procore/callback/"


def connect_form(stub, *, grant: str = "authorization_code") -> dict:
    return {"name": "Procore", "company_id": COMPANY_ID, "grant": grant,
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "api_base_url": stub.url, "login_base_url": stub.url}


def start(client, admin, stub) -> tuple[Integration, str]:
    """Submit the connect form; answer the integration and the state sent to Procore."""
    response = client.post(f"/o/{admin.organization.slug}/integrations/connect/procore/",
                           connect_form(stub))
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{stub.url}/oauth/authorize"
    query = parse_qs(target.query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [procore.redirect_uri()]
    integration = Integration.objects.get(organization=admin.organization, name="Procore")
    return integration, query["state"][0]


def test_the_connect_page_sends_the_admin_to_procore_with_a_state(
    browser_client, admin, stub_login
):
    integration, state = start(browser_client(admin), admin, stub_login)

    assert len(state) >= 40
    assert not integration.is_connected
    assert stub_login.calls == []


def test_coming_back_with_the_state_and_a_code_connects(browser_client, admin, stub_login):
    client = browser_client(admin)
    integration, state = start(client, admin, stub_login)

    response = client.get(CALLBACK, {"state": state, "code": "good-code"}, follow=True)

    assert response.status_code == 200
    assert "Connected to Procore: Procore writes to Acme." in visible_text(response.content)
    integration.refresh_from_db()
    assert integration.is_connected
    assert OAuthToken.objects.filter(integration=integration).exists()
    assert integration.audit_entries.filter(event=AuditEvent.CONNECTED).exists()


def test_an_authorized_connect_is_one_connected_entry_after_its_creation(
    browser_client, admin, stub_login
):
    client = browser_client(admin)
    integration, state = start(client, admin, stub_login)

    client.get(CALLBACK, {"state": state, "code": "good-code"})

    events = list(integration.audit_entries.order_by("created_at", "id")
                  .values_list("event", flat=True))
    assert events == [AuditEvent.CREATED, AuditEvent.CONNECTED]


def test_a_state_is_used_once(browser_client, admin, stub_login):
    client = browser_client(admin)
    _, state = start(client, admin, stub_login)
    client.get(CALLBACK, {"state": state, "code": "good-code"})
    stub_login.codes.add("second-code")

    response = client.get(CALLBACK, {"state": state, "code": "second-code"})

    assert response.status_code == 400
    assert "already used" in visible_text(response.content)
    assert len(stub_login.token_posts()) == 1


def test_a_wrong_state_is_refused_before_procore_is_asked(browser_client, admin, stub_login):
    client = browser_client(admin)
    integration, _ = start(client, admin, stub_login)

    response = client.get(CALLBACK, {"state": "forged", "code": "good-code"})

    assert response.status_code == 400
    assert "does not match a connection started in this browser" in visible_text(
        response.content)
    assert stub_login.token_posts() == []
    integration.refresh_from_db()
    assert not integration.is_connected


def test_a_state_from_another_browser_is_refused(browser_client, admin, stub_login):
    _, state = start(browser_client(admin), admin, stub_login)
    other_browser = Client()
    other_browser.force_login(admin.user)

    response = other_browser.get(CALLBACK, {"state": state, "code": "good-code"})

    assert response.status_code == 400
    assert stub_login.token_posts() == []


def test_an_expired_state_is_refused(browser_client, admin, stub_login, monkeypatch):
    client = browser_client(admin)
    _, state = start(client, admin, stub_login)
    later = procore.time.time() + procore.AUTHORIZATION_MAX_AGE + 1
    monkeypatch.setattr(procore.time, "time", lambda: later)

    response = client.get(CALLBACK, {"state": state, "code": "good-code"})

    assert response.status_code == 400
    assert "expired" in visible_text(response.content)
    assert stub_login.token_posts() == []


def test_an_admin_who_refused_at_procore_is_told_nothing_was_connected(
    browser_client, admin, stub_login
):
    client = browser_client(admin)
    integration, state = start(client, admin, stub_login)

    response = client.get(CALLBACK, {"state": state, "error": "access_denied"})

    assert response.status_code == 400
    assert "did not grant access (access_denied)" in visible_text(response.content)
    integration.refresh_from_db()
    assert not integration.is_connected


def test_a_company_the_app_cannot_see_is_named_on_the_callback_page(
    browser_client, admin, stub_login
):
    client = browser_client(admin)
    _, state = start(client, admin, stub_login)
    stub_login.companies[:] = [{"id": 1, "name": "Other Co"}]

    response = client.get(CALLBACK, {"state": state, "code": "good-code"})

    assert response.status_code == 400
    assert f"company {COMPANY_ID} was not found" in visible_text(response.content)
    assert not OAuthToken.objects.exists()


def test_a_member_who_is_no_longer_admin_cannot_finish_connecting(
    browser_client, admin, stub_login
):
    client = browser_client(admin)
    _, state = start(client, admin, stub_login)
    admin.role = Role.VIEWER
    admin.save()

    response = client.get(CALLBACK, {"state": state, "code": "good-code"})

    assert response.status_code == 400
    assert stub_login.token_posts() == []


def test_a_service_account_connects_at_once_from_the_page(browser_client, admin, stub_login):
    response = browser_client(admin).post(
        f"/o/{admin.organization.slug}/integrations/connect/procore/",
        connect_form(stub_login, grant="client_credentials"), follow=True)

    assert "Connected to Procore: Procore writes to Acme." in visible_text(response.content)
    assert Integration.objects.get(organization=admin.organization).is_connected


def test_a_refused_service_account_stays_on_the_form_saying_why(
    browser_client, admin, stub_login
):
    stub_login.people_forbidden = True
    response = browser_client(admin).post(
        f"/o/{admin.organization.slug}/integrations/connect/procore/",
        connect_form(stub_login, grant="client_credentials"))

    assert response.status_code == 200
    assert "may not read the company directory" in visible_text(response.content)
    assert not Integration.objects.filter(organization=admin.organization).exists()


def test_reconnect_needed_is_shown_with_a_way_to_connect_again(browser_client, admin, stub_login):
    client = browser_client(admin)
    integration, _ = start(client, admin, stub_login)
    Integration.objects.filter(pk=integration.pk).update(
        is_connected=True, reconnect_reason="Procore no longer accepts this connection.")

    page = client.get(f"/o/{admin.organization.slug}/integrations/{integration.pk}/settings/")

    text = visible_text(page.content)
    assert "Reconnect needed. Procore no longer accepts this connection." in text
    assert f"/integrations/{integration.pk}/procore/authorize/" in page.content.decode()


def test_another_organizations_integration_cannot_be_authorized(browser_client, admin,
                                                               stub_login):
    stranger = factories.MembershipFactory(role=Role.ADMIN)
    integration, _ = start(browser_client(admin), admin, stub_login)

    client = Client()
    client.force_login(stranger.user)
    response = client.post(
        f"/o/{stranger.organization.slug}/integrations/{integration.pk}/procore/authorize/")

    assert response.status_code == 404


def test_a_procore_integrations_settings_save_without_an_address_or_key(
    browser_client, admin, stub_login
):
    client = browser_client(admin)
    integration, _ = start(client, admin, stub_login)
    url = f"/o/{admin.organization.slug}/integrations/{integration.pk}/settings/"
    assert 'name="base_url"' not in client.get(url).content.decode()

    response = client.post(url, {
        "name": "Procore (Northwind)", "match_first": "employee_number", "match_second": "",
        "match_third": "", "hours_rounding": integration.hours_rounding,
        "schedule_time": "02:00", "schedule_days_back": 1}, follow=True)

    assert "Settings saved." in visible_text(response.content)
    integration.refresh_from_db()
    assert integration.name == "Procore (Northwind)"
    assert integration.settings["company_id"] == COMPANY_ID
