"""Self-service sign-up: a new company's organization and its first admin."""

from __future__ import annotations

import pytest

from tests import factories
from tests.dashboard.helpers import visible_text
from timesync.models import Membership, Organization, Role, User

pytestmark = pytest.mark.django_db

SIGN_UP = {
    "organization_name": "Northwind Concrete",
    "time_zone": "America/Vancouver",
    "full_name": "Nora North",
    "email": "nora@northwind.example",
    "password": "Tilt-up walls 2026!",
}


def test_sign_up_page_renders_the_form(client):
    response = client.get("/signup/")

    assert response.status_code == 200
    for field in ("organization_name", "time_zone", "full_name", "email", "password"):
        assert f'name="{field}"'.encode() in response.content


def test_sign_up_creates_the_organization_with_the_chosen_time_zone(client):
    client.post("/signup/", SIGN_UP)

    organization = Organization.objects.get(name="Northwind Concrete")
    assert organization.time_zone == "America/Vancouver"


def test_sign_up_makes_the_person_the_organizations_first_admin(client):
    client.post("/signup/", SIGN_UP)

    membership = Membership.objects.get(organization__name="Northwind Concrete")
    assert membership.user.email == "nora@northwind.example"
    assert membership.user.full_name == "Nora North"
    assert membership.role == Role.ADMIN
    assert membership.is_active


def test_sign_up_signs_the_person_in_and_lands_on_the_organization_page(client):
    response = client.post("/signup/", SIGN_UP, follow=True)

    organization = Organization.objects.get(name="Northwind Concrete")
    assert response.redirect_chain[-1][0] == f"/o/{organization.slug}/"
    assert response.status_code == 200
    assert int(client.session["_auth_user_id"]) == organization.memberships.get().user_id
    assert "Welcome to Timesync, Northwind Concrete!" in visible_text(response.content)


def test_signed_up_admin_can_sign_in_again_with_the_chosen_password(client):
    client.post("/signup/", SIGN_UP)
    client.post("/accounts/logout/")

    client.post("/accounts/login/", {"username": SIGN_UP["email"], "password": SIGN_UP["password"]})

    assert "_auth_user_id" in client.session


def test_sign_up_with_an_email_already_used_shows_an_error_on_email(client):
    factories.UserFactory(email="nora@northwind.example")

    response = client.post("/signup/", SIGN_UP)

    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert "An account with this email exists already" in visible_text(response.content)


def test_sign_up_with_an_email_already_used_creates_nothing(client):
    factories.UserFactory(email="nora@northwind.example")

    client.post("/signup/", SIGN_UP)

    assert not Organization.objects.filter(name="Northwind Concrete").exists()
    assert User.objects.filter(email__iexact="nora@northwind.example").count() == 1
    assert "_auth_user_id" not in client.session


def test_sign_up_with_an_email_already_used_in_other_capitals_is_refused(client):
    factories.UserFactory(email="nora@northwind.example")

    response = client.post("/signup/", {**SIGN_UP, "email": "Nora@Northwind.Example"})

    assert "email" in response.context["form"].errors
    assert not Organization.objects.filter(name="Northwind Concrete").exists()


@pytest.mark.parametrize("password", ["12345678", "password", "short"])
def test_sign_up_with_a_weak_password_shows_an_error_on_password(client, password):
    response = client.post("/signup/", {**SIGN_UP, "password": password})

    assert response.status_code == 200
    assert "password" in response.context["form"].errors
    assert not User.objects.filter(email="nora@northwind.example").exists()
    assert not Organization.objects.filter(name="Northwind Concrete").exists()


def test_sign_up_with_a_company_name_taken_by_another_organization_still_works(client):
    factories.OrganizationFactory(name="Northwind Concrete", slug="northwind-concrete")

    response = client.post("/signup/", SIGN_UP, follow=True)

    mine = Organization.objects.get(memberships__user__email="nora@northwind.example")
    assert mine.slug != "northwind-concrete"
    assert response.redirect_chain[-1][0] == f"/o/{mine.slug}/"


def test_signed_in_user_can_start_another_organization(client, admin):
    client.force_login(admin.user)

    response = client.post(
        "/organizations/new/", {"name": "Second Site Co", "time_zone": "Europe/London"},
        follow=True,
    )

    created = Organization.objects.get(name="Second Site Co")
    assert created.time_zone == "Europe/London"
    assert created.memberships.get(user=admin.user).role == Role.ADMIN
    assert response.redirect_chain[-1][0] == f"/o/{created.slug}/"


def test_an_organization_name_is_shown_as_text_not_markup(client):
    client.post("/signup/", {**SIGN_UP, "organization_name": "<b>Bold</b> & Sons"})

    response = client.get("/", follow=True)

    assert b"&lt;b&gt;Bold&lt;/b&gt; &amp; Sons" in response.content
    assert b"<b>Bold</b>" not in response.content
