"""Signing in to the API: tokens for devices and scripts, and which organizations a caller
reaches (only their own, only while their membership is active)."""

from __future__ import annotations

import itertools

import pytest
from rest_framework.test import APIClient

from tests import factories
from tests.timesync.api.helpers import PASSWORD, errors_of, ids, url
from timesync.models import Role

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
ORGANIZATIONS_URL = "/api/v1/organizations/"
ORG_PATHS = ["projects/", "workers/", "cost-codes/", "shifts/"]

_addresses = itertools.count(1)


def device() -> APIClient:
    """An anonymous client from its own address, so sign-in throttling of one test does not
    reach another."""
    n = next(_addresses)
    return APIClient(REMOTE_ADDR=f"10.20.{n // 250}.{n % 250 + 1}")


def get_token(email: str, password: str):
    return device().post(TOKEN_URL, {"email": email, "password": password})


# --- Not signed in -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ORG_PATHS)
def test_an_anonymous_caller_is_not_authenticated(organization, path):
    response = device().get(url(organization, path))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Token")


def test_an_anonymous_caller_cannot_list_organizations():
    assert device().get(ORGANIZATIONS_URL).status_code == 401


def test_an_anonymous_caller_cannot_create_a_shift(organization, worker, project):
    response = device().post(url(organization, "shifts/"),
                             {"worker": worker.pk, "project": project.pk,
                              "start": "2026-06-03T07:00:00-04:00"}, format="json")
    assert response.status_code == 401


def test_an_unknown_token_is_not_authenticated(organization):
    client = device()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert client.get(url(organization, "shifts/")).status_code == 401


# --- Tokens --------------------------------------------------------------------------------


def test_the_right_password_gets_a_token(admin):
    response = get_token(admin.user.email, PASSWORD)
    assert response.status_code == 200, response.content
    assert response.json()["token"]


def test_the_email_is_not_case_sensitive(admin):
    response = get_token(admin.user.email.upper(), PASSWORD)
    assert response.status_code == 200, response.content


def test_a_wrong_password_gets_no_token(admin):
    response = get_token(admin.user.email, "wrong horse battery")
    body = errors_of(response)
    assert "token" not in body


def test_an_unknown_email_gets_no_token():
    assert "token" not in errors_of(get_token("nobody@example.com", PASSWORD))


def test_a_deactivated_account_gets_no_token(admin):
    admin.user.is_active = False
    admin.user.save()
    assert "token" not in errors_of(get_token(admin.user.email, PASSWORD))


@pytest.mark.parametrize("missing", ["email", "password"])
def test_a_token_request_without_credentials_is_refused_naming_the_field(admin, missing):
    body = {"email": admin.user.email, "password": PASSWORD}
    del body[missing]
    assert missing in errors_of(device().post(TOKEN_URL, body))


def test_repeated_sign_in_attempts_from_one_address_are_refused(admin):
    client = device()
    attempts = [client.post(TOKEN_URL, {"email": admin.user.email, "password": f"guess {n}"})
                for n in range(11)]
    # The tenth wrong password locks the account and the address out (sign-in lockout); the
    # address's throttle (10 a minute) would refuse the eleventh anyway.
    assert [a.status_code for a in attempts[:9]] == [400] * 9
    assert [a.status_code for a in attempts[9:]] == [429, 429]


def test_a_token_works_on_the_api(admin, organization, worker):
    token = get_token(admin.user.email, PASSWORD).json()["token"]
    client = device()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert ids(client.get(url(organization, "workers/"))) == [worker.pk]


def test_a_token_can_write_through_the_api(admin, organization):
    token = get_token(admin.user.email, PASSWORD).json()["token"]
    client = device()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.post(url(organization, "workers/"), {"name": "Ana Silva"}, format="json")
    assert response.status_code == 201, response.content


def test_signing_in_again_gives_a_token_that_works(admin, organization):
    get_token(admin.user.email, PASSWORD)
    token = get_token(admin.user.email, PASSWORD).json()["token"]
    client = device()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(url(organization, "shifts/")).status_code == 200


# --- Organizations and memberships ---------------------------------------------------------


def test_organizations_lists_the_callers_organizations_with_their_roles(api, member,
                                                                        organization):
    mine = member(Role.PAYROLL_ADMIN)
    other = factories.OrganizationFactory(name="Zed Concrete", time_zone="America/Vancouver")
    factories.MembershipFactory(organization=other, user=mine.user, role=Role.VIEWER)
    factories.MembershipFactory(organization=factories.OrganizationFactory())  # someone else's
    response = api(mine).get(ORGANIZATIONS_URL)
    assert response.status_code == 200
    assert sorted(response.json(), key=lambda row: row["slug"]) == sorted([
        {"slug": organization.slug, "name": organization.name, "time_zone": "America/Toronto",
         "role": "payroll_admin"},
        {"slug": other.slug, "name": "Zed Concrete", "time_zone": "America/Vancouver",
         "role": "viewer"},
    ], key=lambda row: row["slug"])


def test_organizations_leaves_out_deactivated_memberships(api, member, organization):
    mine = member(Role.ADMIN)
    left = factories.OrganizationFactory()
    factories.MembershipFactory(organization=left, user=mine.user, is_active=False)
    slugs = [row["slug"] for row in api(mine).get(ORGANIZATIONS_URL).json()]
    assert slugs == [organization.slug]


@pytest.mark.parametrize("path", ORG_PATHS)
def test_a_deactivated_member_gets_404_for_that_organization(api, member, organization, path):
    membership = member(Role.ADMIN, is_active=False)
    assert api(membership).get(url(organization, path)).status_code == 404


def test_a_deactivated_members_token_gets_404_for_that_organization(member, organization):
    membership = member(Role.ADMIN)
    token = get_token(membership.user.email, PASSWORD).json()["token"]
    membership.is_active = False
    membership.save()
    client = device()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(url(organization, "shifts/")).status_code == 404


def test_a_deactivated_member_keeps_access_to_their_other_organizations(api, member,
                                                                         organization):
    membership = member(Role.ADMIN, is_active=False)
    other = factories.OrganizationFactory()
    factories.MembershipFactory(organization=other, user=membership.user)
    assert api(membership).get(url(other, "shifts/")).status_code == 200


# --- Tenancy -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ORG_PATHS)
def test_another_organizations_urls_answer_404(api, admin, other_organization, path):
    factories.ShiftFactory(organization=other_organization)
    assert api(admin).get(url(other_organization, path)).status_code == 404


def test_an_organization_that_does_not_exist_answers_404_too(api, admin):
    response = api(admin).get("/api/v1/orgs/no-such-builders/shifts/")
    assert response.status_code == 404


def test_another_organizations_urls_refuse_writes_with_404(api, admin, other_organization):
    response = api(admin).post(url(other_organization, "workers/"), {"name": "Intruder"})
    assert response.status_code == 404
    assert not other_organization.workers.exists()
