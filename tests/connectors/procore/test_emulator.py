"""The Procore emulator's own promises (what the connect flow and the tests rely on): OAuth as
Procore answers it, pagination headers, 64-bit ids, webhook faults."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connectors.procore.emulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    ProcoreEmulator,
)
from tests.connectors.procore.fixtures import AARON, COMPANY_ID, PROJECT_ID

REDIRECT_URI = "http://127.0.0.1:9/integrations/procore/callback"


def token(emulator: ProcoreEmulator, **fields: str) -> requests.Response:
    return requests.post(f"{emulator.login_base_url}/oauth/token", data={
        "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET, **fields,
    }, timeout=5)


def authorize(emulator: ProcoreEmulator, state: str = "st4te") -> dict[str, list[str]]:
    answer = requests.get(f"{emulator.login_base_url}/oauth/authorize", params={
        "response_type": "code", "client_id": DEFAULT_CLIENT_ID, "redirect_uri": REDIRECT_URI,
        "state": state}, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return parse_qs(urlsplit(location).query)


def api_get(emulator: ProcoreEmulator, access_token: str, path: str) -> requests.Response:
    return requests.get(f"{emulator.api_base_url}{path}", headers={
        "Authorization": f"Bearer {access_token}", "Procore-Company-Id": str(COMPANY_ID)},
        timeout=5)


def test_authorize_redirects_back_with_a_code_and_the_state(procore_emulator):
    answer = authorize(procore_emulator)

    assert answer["state"] == ["st4te"]
    assert answer["code"][0]


def test_a_code_is_exchanged_once_for_tokens_that_live_5400_seconds(procore_emulator):
    code = authorize(procore_emulator)["code"][0]

    first = token(procore_emulator, grant_type="authorization_code", code=code,
                  redirect_uri=REDIRECT_URI)
    again = token(procore_emulator, grant_type="authorization_code", code=code,
                  redirect_uri=REDIRECT_URI)

    assert first.status_code == 200
    body = first.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 5400
    assert body["refresh_token"]
    assert isinstance(body["created_at"], int)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_an_unknown_app_is_not_redirected_anywhere(procore_emulator):
    answer = requests.get(f"{procore_emulator.login_base_url}/oauth/authorize", params={
        "response_type": "code", "client_id": "someone-else", "redirect_uri": REDIRECT_URI},
        allow_redirects=False, timeout=5)

    assert answer.status_code == 400


def test_a_denied_authorization_redirects_with_access_denied(procore_emulator):
    procore_emulator.deny_authorization = True

    assert authorize(procore_emulator)["error"] == ["access_denied"]


def test_a_refresh_token_works_once(procore_emulator):
    tokens = procore_emulator.issue_tokens()

    first = token(procore_emulator, grant_type="refresh_token",
                  refresh_token=tokens["refresh_token"])
    second = token(procore_emulator, grant_type="refresh_token",
                   refresh_token=tokens["refresh_token"])

    assert first.status_code == 200
    assert first.json()["refresh_token"] != tokens["refresh_token"]
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"


def test_a_failed_refresh_attempt_spends_the_refresh_token_too(procore_emulator):
    tokens = procore_emulator.issue_tokens()
    wrong_secret = requests.post(f"{procore_emulator.login_base_url}/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": DEFAULT_CLIENT_ID, "client_secret": "wrong"}, timeout=5)

    retry = token(procore_emulator, grant_type="refresh_token",
                  refresh_token=tokens["refresh_token"])

    assert wrong_secret.status_code == 401
    assert retry.status_code == 400


def test_client_credentials_give_an_access_token_without_refresh(procore_emulator):
    answer = token(procore_emulator, grant_type="client_credentials")

    assert answer.status_code == 200
    assert "refresh_token" not in answer.json()
    assert api_get(procore_emulator, answer.json()["access_token"],
                   f"/rest/v1.0/companies/{COMPANY_ID}/projects").status_code == 200


def test_client_credentials_need_a_service_account(procore_emulator):
    procore_emulator.register_client("plain-app", "plain-secret")

    answer = requests.post(f"{procore_emulator.login_base_url}/oauth/token", json={
        "grant_type": "client_credentials", "client_id": "plain-app",
        "client_secret": "plain-secret"}, timeout=5)

    assert answer.status_code == 400
    assert answer.json()["error"] == "unauthorized_client"


def test_a_revoked_refresh_token_ends_the_grant_and_its_access_tokens(procore_emulator):
    tokens = procore_emulator.issue_tokens()

    revoked = requests.post(f"{procore_emulator.login_base_url}/oauth/revoke", data={
        "token": tokens["refresh_token"], "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET}, timeout=5)

    assert revoked.status_code == 200
    assert token(procore_emulator, grant_type="refresh_token",
                 refresh_token=tokens["refresh_token"]).status_code == 400
    assert api_get(procore_emulator, tokens["access_token"],
                   f"/rest/v1.0/companies/{COMPANY_ID}/projects").status_code == 401


def test_an_access_token_expires_with_the_clock(procore_emulator):
    tokens = procore_emulator.issue_tokens()
    path = f"/rest/v1.0/companies/{COMPANY_ID}/projects"
    assert api_get(procore_emulator, tokens["access_token"], path).status_code == 200

    procore_emulator.advance_clock(5401)

    assert api_get(procore_emulator, tokens["access_token"], path).status_code == 401


def test_a_call_without_a_token_is_refused(procore_emulator):
    answer = requests.get(f"{procore_emulator.api_base_url}/rest/v1.0/companies/{COMPANY_ID}/"
                          "projects", headers={"Procore-Company-Id": str(COMPANY_ID)}, timeout=5)

    assert answer.status_code == 401


def test_lists_answer_with_link_total_and_per_page(procore_emulator):
    procore_emulator.seed(people=[{"company_id": COMPANY_ID} for _ in range(5)])
    tokens = procore_emulator.issue_tokens()

    answer = requests.get(
        f"{procore_emulator.api_base_url}/rest/v1.0/companies/{COMPANY_ID}/people",
        params={"page": 2, "per_page": 3}, timeout=5,
        headers={"Authorization": f"Bearer {tokens['access_token']}",
                 "Procore-Company-Id": str(COMPANY_ID)})

    assert answer.headers["Total"] == "8"
    assert answer.headers["Per-Page"] == "3"
    assert 'page=3>; rel="next"' in answer.headers["Link"]
    assert 'rel="last"' in answer.headers["Link"]
    assert len(answer.json()) == 3
    assert int(answer.headers["X-Rate-Limit-Remaining"]) < int(
        answer.headers["X-Rate-Limit-Limit"])


def test_entry_ids_are_past_32_bits_and_origin_id_must_be_an_integer(procore_emulator):
    tokens = procore_emulator.issue_tokens()
    url = f"{procore_emulator.api_base_url}/rest/v1.0/projects/{PROJECT_ID}/timecard_entries"
    headers = {"Authorization": f"Bearer {tokens['access_token']}",
               "Procore-Company-Id": str(COMPANY_ID)}
    entry = {"party_id": AARON, "date": "2025-03-10", "hours": "8"}

    created = requests.post(url, json={"timecard_entry": {**entry, "origin_id": 2**62}},
                            headers=headers, timeout=5)
    refused = requests.post(url, json={"timecard_entry": {**entry, "origin_id": "abc"}},
                            headers=headers, timeout=5)

    assert created.status_code == 201
    assert created.json()["id"] > 2**32
    assert created.json()["party"] == {"id": AARON, "name": "Aaron Abbott"}
    assert refused.status_code == 422
    assert "origin_id" in refused.json()["errors"]


def test_a_dropped_delivery_never_arrives(procore_emulator):
    procore_emulator.inject_delivery("drop")
    tokens = procore_emulator.issue_tokens()
    headers = {"Authorization": f"Bearer {tokens['access_token']}",
               "Procore-Company-Id": str(COMPANY_ID)}
    hook = requests.post(f"{procore_emulator.api_base_url}/rest/v1.0/webhooks/hooks", json={
        "company_id": COMPANY_ID, "hook": {"namespace": "t", "destination_url":
                                           "http://127.0.0.1:9/nowhere"}},
        headers=headers, timeout=5).json()
    requests.post(f"{procore_emulator.api_base_url}/rest/v1.0/webhooks/hooks/{hook['id']}/"
                  "triggers", json={"company_id": COMPANY_ID, "trigger": {
                      "resource_name": "Timecard Entries", "event_type": "create"}},
                  headers=headers, timeout=5)

    procore_emulator.create_in_procore(PROJECT_ID, party_id=AARON, date="2025-03-10",
                                       hours="8")

    [delivery] = procore_emulator.wait_for_deliveries()
    assert delivery.dropped is True
    assert delivery.status is None


@pytest.mark.parametrize("path", ["/_emulator/entries", "/_emulator/hooks"])
def test_the_control_api_answers(procore_emulator, path):
    assert requests.get(f"{procore_emulator.url}{path}", timeout=5).status_code == 200
