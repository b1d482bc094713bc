"""Self-service sign-up: a new company's organization and its first admin, created when the
address's owner follows the emailed link. The page answers the same whether or not the address
has an account, as password reset does, so it tells a stranger nothing about who signed up."""

from __future__ import annotations

import json
import time

import pytest
from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.core import mail

from tests import factories
from tests.dashboard.helpers import link_in, sign_up_through_email, visible_text
from timesync.models import Membership, Organization, Role, User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

SIGN_UP = {
    "organization_name": "Northwind Concrete",
    "time_zone": "America/Vancouver",
    "full_name": "Nora North",
    "email": "nora@northwind.example",
    "password": "Tilt-up walls 2026!",
}


def answer_text(response, email: str) -> str:
    return visible_text(response.content).replace(email, "<email>")


def test_sign_up_page_renders_the_form(client):
    response = client.get("/signup/")

    assert response.status_code == 200
    for field in ("organization_name", "time_zone", "full_name", "email", "password"):
        assert f'name="{field}"'.encode() in response.content


# --- A new address -----------------------------------------------------------------------------


def test_sign_up_says_check_your_email_and_creates_nothing_yet(client):
    response = client.post("/signup/", SIGN_UP)

    assert "Check your email" in visible_text(response.content)
    assert not User.objects.filter(email="nora@northwind.example").exists()
    assert not Organization.objects.filter(name="Northwind Concrete").exists()


def test_sign_up_emails_a_link_to_finish_to_the_address(client):
    client.post("/signup/", SIGN_UP)

    assert mail.outbox[-1].to == ["nora@northwind.example"]
    assert link_in(mail.outbox[-1], "/signup/confirm/")


def test_the_link_carries_neither_the_password_nor_the_address_in_clear(client):
    client.post("/signup/", SIGN_UP)

    link = link_in(mail.outbox[-1], "/signup/confirm/")
    assert SIGN_UP["password"] not in mail.outbox[-1].body
    assert "northwind" not in link.lower()


def test_following_the_link_asks_before_creating_anything(client):
    client.post("/signup/", SIGN_UP)

    # A mail scanner that fetches every link in an email must not create the account.
    response = client.get(link_in(mail.outbox[-1], "/signup/confirm/"))

    assert response.status_code == 200
    assert "Finish creating your account" in visible_text(response.content)
    assert not Organization.objects.filter(name="Northwind Concrete").exists()


def test_sign_up_creates_the_organization_with_the_chosen_time_zone(client):
    sign_up_through_email(client, SIGN_UP)

    organization = Organization.objects.get(name="Northwind Concrete")
    assert organization.time_zone == "America/Vancouver"


def test_sign_up_makes_the_person_the_organizations_first_admin(client):
    sign_up_through_email(client, SIGN_UP)

    membership = Membership.objects.get(organization__name="Northwind Concrete")
    assert membership.user.email == "nora@northwind.example"
    assert membership.user.full_name == "Nora North"
    assert membership.role == Role.ADMIN
    assert membership.is_active


def test_sign_up_signs_the_person_in_and_lands_on_the_organization_page(client):
    response = sign_up_through_email(client, SIGN_UP)

    organization = Organization.objects.get(name="Northwind Concrete")
    assert response.redirect_chain[-1][0] == f"/o/{organization.slug}/"
    assert response.status_code == 200
    assert int(client.session["_auth_user_id"]) == organization.memberships.get().user_id
    assert "Welcome to Timesync, Northwind Concrete!" in visible_text(response.content)


def test_signed_up_admin_can_sign_in_again_with_the_chosen_password(client):
    sign_up_through_email(client, SIGN_UP)
    client.post("/accounts/logout/")

    client.post("/accounts/login/", {"username": SIGN_UP["email"], "password": SIGN_UP["password"]})

    assert "_auth_user_id" in client.session


def test_a_link_followed_twice_creates_one_account(client):
    client.post("/signup/", SIGN_UP)
    link = link_in(mail.outbox[-1], "/signup/confirm/")
    client.post(link)
    client.post("/accounts/logout/")

    response = client.post(link, follow=True)

    assert Organization.objects.filter(name="Northwind Concrete").count() == 1
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert "_auth_user_id" not in client.session


def test_an_expired_link_creates_nothing_and_says_so(client):
    payload = {"purpose": "sign_up", "organization_name": "Late Co", "time_zone": "UTC",
               "full_name": "Lee Late", "email": "lee@late.example", "password_hash": "x"}
    keys = MultiFernet([Fernet(key) for key in settings.CREDENTIALS_ENCRYPTION_KEYS])
    a_day_and_an_hour_ago = int(time.time()) - settings.SIGN_UP_CONFIRMATION_MAX_AGE_SECONDS - 3600
    token = keys.encrypt_at_time(json.dumps(payload).encode(), a_day_and_an_hour_ago).decode()

    response = client.post(f"/signup/confirm/{token}/")

    assert response.status_code == 404
    assert "does not work" in visible_text(response.content)
    assert not User.objects.filter(email="lee@late.example").exists()


def test_an_altered_link_creates_nothing(client):
    client.post("/signup/", SIGN_UP)
    link = link_in(mail.outbox[-1], "/signup/confirm/")
    altered = link[:-10] + ("A" if link[-10] != "A" else "B") + link[-9:]

    assert client.post(altered).status_code == 404
    assert not Organization.objects.filter(name="Northwind Concrete").exists()


# --- An address that has an account --------------------------------------------------------------


def test_sign_up_with_an_email_already_used_answers_as_for_a_new_address(client):
    factories.UserFactory(email="nora@northwind.example")

    taken = client.post("/signup/", SIGN_UP)
    new = client.post("/signup/", {**SIGN_UP, "email": "nina@northwind.example"})

    assert taken.status_code == new.status_code == 200
    assert answer_text(taken, "nora@northwind.example") == answer_text(
        new, "nina@northwind.example")
    assert "exists" not in visible_text(taken.content)


def test_sign_up_with_an_email_already_used_creates_nothing(client):
    factories.UserFactory(email="nora@northwind.example")

    client.post("/signup/", SIGN_UP)

    assert not Organization.objects.filter(name="Northwind Concrete").exists()
    assert User.objects.filter(email__iexact="nora@northwind.example").count() == 1
    assert "_auth_user_id" not in client.session


def test_sign_up_with_an_email_already_used_tells_its_owner_how_to_sign_in(client):
    factories.UserFactory(email="nora@northwind.example")

    client.post("/signup/", SIGN_UP)

    message = mail.outbox[-1]
    assert message.to == ["nora@northwind.example"]
    assert "tried to create a new Timesync account" in message.body
    assert "http://testserver/accounts/login/" in message.body
    assert "http://testserver/accounts/password_reset/" in message.body
    assert "/signup/confirm/" not in message.body


def test_sign_up_with_an_email_already_used_leaves_its_password_alone(client):
    owner = factories.UserFactory(email="nora@northwind.example")
    before = owner.password

    client.post("/signup/", SIGN_UP)

    owner.refresh_from_db()
    assert owner.password == before


def test_sign_up_with_an_email_already_used_in_other_capitals_creates_nothing(client):
    factories.UserFactory(email="nora@northwind.example")

    response = client.post("/signup/", {**SIGN_UP, "email": "Nora@Northwind.Example"})

    assert "Check your email" in visible_text(response.content)
    assert "/signup/confirm/" not in mail.outbox[-1].body
    assert not Organization.objects.filter(name="Northwind Concrete").exists()


def test_an_address_that_signs_up_elsewhere_before_the_link_is_followed_gets_nothing_twice(
        client):
    client.post("/signup/", SIGN_UP)
    link = link_in(mail.outbox[-1], "/signup/confirm/")
    factories.UserFactory(email="nora@northwind.example")

    response = client.post(link, follow=True)

    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert not Organization.objects.filter(name="Northwind Concrete").exists()


# --- The form ----------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["12345678", "password", "short"])
def test_sign_up_with_a_weak_password_shows_an_error_on_password(client, password):
    response = client.post("/signup/", {**SIGN_UP, "password": password})

    assert response.status_code == 200
    assert "password" in response.context["form"].errors
    assert not mail.outbox


def test_sign_up_with_a_company_name_taken_by_another_organization_still_works(client):
    factories.OrganizationFactory(name="Northwind Concrete", slug="northwind-concrete")

    response = sign_up_through_email(client, SIGN_UP)

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
    sign_up_through_email(client, {**SIGN_UP, "organization_name": "<b>Bold</b> & Sons"})

    response = client.get("/", follow=True)

    assert b"&lt;b&gt;Bold&lt;/b&gt; &amp; Sons" in response.content
    assert b"<b>Bold</b>" not in response.content
