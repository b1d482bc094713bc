"""Signing in and out, where a signed-in person lands, the organization switcher, password
reset, and what every page links (stylesheet, favicon) and refuses (POST without CSRF)."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.core import mail
from django.test import Client

from tests import factories
from tests.dashboard.helpers import PASSWORD, link_in, sign_up_through_email, visible_text
from timesync.models import Invitation, Role, User

pytestmark = pytest.mark.django_db


def sign_in(client: Client, email: str, password: str = PASSWORD):
    return client.post(
        "/accounts/login/", {"username": email, "password": password}, follow=True
    )


def is_signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- Sign in and out ------------------------------------------------------------------------


def test_login_page_renders_a_form_for_email_and_password(client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    assert "Sign in" in visible_text(response.content)
    assert b'name="username"' in response.content
    assert b'name="password"' in response.content


def test_signing_in_with_email_and_password_lands_on_the_users_organization(client, admin):
    response = sign_in(client, admin.user.email)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == f"/o/{admin.organization.slug}/"
    assert admin.organization.name in visible_text(response.content)


def test_wrong_password_shows_an_error_and_does_not_sign_in(client, admin):
    response = sign_in(client, admin.user.email, "not the password")

    assert response.status_code == 200
    assert "Please enter a correct email and password" in visible_text(response.content)
    assert not is_signed_in(client)


def test_signing_in_works_with_the_email_typed_as_at_sign_up(client, eager_celery):
    # People type their address with capitals (phones capitalise the first letter); sign-up
    # accepts it, so signing in with the very same text must work too.
    sign_up_through_email(client, {
        "organization_name": "Capital Framing", "time_zone": "America/Toronto",
        "full_name": "Cora Capital", "email": "Cora.Capital@Example.com",
        "password": "Tilt-up walls 2026!",
    })
    client.post("/accounts/logout/")
    assert User.objects.filter(email__iexact="Cora.Capital@Example.com").exists()

    response = sign_in(client, "Cora.Capital@Example.com", "Tilt-up walls 2026!")

    assert is_signed_in(client)
    assert response.redirect_chain[-1][0] == "/o/capital-framing/"


def test_logout_by_get_is_refused_and_keeps_the_user_signed_in(client, admin):
    client.force_login(admin.user)

    response = client.get("/accounts/logout/")

    assert response.status_code == 405
    assert is_signed_in(client)


def test_logout_by_post_signs_out_and_returns_to_the_login_page(client, admin):
    client.force_login(admin.user)

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert not is_signed_in(client)
    assert client.get(f"/o/{admin.organization.slug}/").status_code == 302


def test_home_redirects_an_anonymous_visitor_to_the_login_page(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"


def test_organization_page_sends_an_anonymous_visitor_to_login_and_back(client, organization):
    response = client.get(f"/o/{organization.slug}/members/")

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/o/{organization.slug}/members/"


def test_signing_in_from_a_next_link_returns_to_that_page(client, admin):
    members_page = f"/o/{admin.organization.slug}/members/"

    response = client.post(
        f"/accounts/login/?next={members_page}",
        {"username": admin.user.email, "password": PASSWORD, "next": members_page},
    )

    assert response.status_code == 302
    assert response["Location"] == members_page


# --- Organizations of the signed-in user ----------------------------------------------------


@pytest.fixture
def two_organizations():
    """One user, admin of Alpha Paving and viewer in Beta Drywall."""
    user = factories.UserFactory()
    alpha = factories.MembershipFactory(
        user=user, role=Role.ADMIN,
        organization=factories.OrganizationFactory(name="Alpha Paving", slug="alpha-paving"),
    )
    beta = factories.MembershipFactory(
        user=user, role=Role.VIEWER,
        organization=factories.OrganizationFactory(name="Beta Drywall", slug="beta-drywall"),
    )
    return alpha, beta


def test_user_in_two_organizations_lands_on_the_one_visited_last(client, two_organizations):
    _alpha, beta = two_organizations
    client.force_login(beta.user)
    client.get("/o/beta-drywall/")

    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/o/beta-drywall/"


def test_user_in_two_organizations_lands_on_the_first_after_a_fresh_sign_in(
    client, two_organizations
):
    alpha, _beta = two_organizations

    response = sign_in(client, alpha.user.email)

    assert response.redirect_chain[-1][0] == "/o/alpha-paving/"


def test_switcher_in_the_header_lists_every_organization_with_a_link(client, two_organizations):
    alpha, _beta = two_organizations
    client.force_login(alpha.user)

    response = client.get("/o/alpha-paving/")

    assert b'href="/o/alpha-paving/"' in response.content
    assert b'href="/o/beta-drywall/"' in response.content
    text = visible_text(response.content)
    assert "Alpha Paving" in text
    assert "Beta Drywall" in text


def test_switcher_links_lead_to_the_other_organization(client, two_organizations):
    alpha, _beta = two_organizations
    client.force_login(alpha.user)

    response = client.get("/o/beta-drywall/")

    assert response.status_code == 200
    assert "Projects Beta Drywall" in visible_text(response.content)


def test_user_without_an_organization_sees_the_not_in_an_organization_page(client):
    client.force_login(factories.UserFactory())

    response = client.get("/")

    assert response.status_code == 200
    assert "You are not in an organization yet" in visible_text(response.content)
    assert b'href="/organizations/new/"' in response.content


def test_user_cannot_open_an_organization_they_are_not_in(client, admin):
    stranger = factories.MembershipFactory()
    client.force_login(stranger.user)

    assert client.get(f"/o/{admin.organization.slug}/").status_code == 404


# --- Password reset -------------------------------------------------------------------------


def request_reset(client: Client, email: str):
    return client.post("/accounts/password_reset/", {"email": email}, follow=True)


def test_password_reset_sends_one_email_with_a_reset_link(client, admin):
    request_reset(client, admin.user.email)

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [admin.user.email]
    assert link_in(mail.outbox[0], "/accounts/reset/")


def test_password_reset_link_lets_the_user_choose_a_password_and_sign_in_with_it(client, admin):
    request_reset(client, admin.user.email)
    link = link_in(mail.outbox[0], "/accounts/reset/")

    form_page = client.get(link, follow=True)
    assert form_page.redirect_chain[-1][0].endswith("/set-password/")
    assert "Choose a new password" in visible_text(form_page.content)
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "Poured concrete 77!", "new_password2": "Poured concrete 77!"},
        follow=True,
    )
    assert "Password changed" in visible_text(done.content)

    fresh = Client()
    response = sign_in(fresh, admin.user.email, "Poured concrete 77!")
    assert is_signed_in(fresh)
    assert response.redirect_chain[-1][0] == f"/o/{admin.organization.slug}/"


def test_password_reset_link_works_only_once(client, admin):
    request_reset(client, admin.user.email)
    link = link_in(mail.outbox[0], "/accounts/reset/")
    set_password_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(
        set_password_url,
        {"new_password1": "Poured concrete 77!", "new_password2": "Poured concrete 77!"},
    )

    again = Client().get(link, follow=True)

    assert "This link has expired" in visible_text(again.content)


def test_password_reset_for_an_unknown_email_sends_nothing_but_says_the_same(client, admin):
    known = request_reset(Client(), admin.user.email)
    mail.outbox.clear()

    unknown = request_reset(client, "nobody-here@example.com")

    assert mail.outbox == []
    assert unknown.status_code == 200
    assert unknown.redirect_chain == known.redirect_chain
    assert "Check your email" in visible_text(unknown.content)


# --- Static files and CSRF ------------------------------------------------------------------


def test_favicon_ico_redirects_to_the_svg_favicon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"] == "/static/favicon.svg"
    assert finders.find("favicon.svg") is not None


def test_pages_link_the_stylesheet(client):
    response = client.get("/accounts/login/")

    assert b'href="/static/css/app.css"' in response.content
    assert finders.find("css/app.css") is not None


def test_post_without_csrf_token_is_refused(admin):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin.user)

    response = browser.post(
        f"/o/{admin.organization.slug}/members/",
        {"email": "forged@example.com", "role": Role.ADMIN},
    )

    assert response.status_code == 403
    assert not Invitation.objects.filter(email="forged@example.com").exists()


def test_post_with_the_pages_csrf_token_is_accepted(admin):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin.user)
    page = browser.get(f"/o/{admin.organization.slug}/members/")
    token = page.context["csrf_token"]

    response = browser.post(
        f"/o/{admin.organization.slug}/members/",
        {"email": "real@example.com", "role": Role.VIEWER, "csrfmiddlewaretoken": str(token)},
    )

    assert response.status_code == 302
    assert Invitation.objects.filter(email="real@example.com").exists()
