"""Guessing passwords: the login page and the API's token endpoint lock out an account and an
address after SIGN_IN_FAILURE_LIMIT wrong passwords (django-axes), the right password
included, and a forged X-Forwarded-For escapes neither the lockout nor the API's throttle."""

from __future__ import annotations

import itertools
import random

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from tests import factories
from tests.dashboard.helpers import PASSWORD, link_in, visible_text

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"
TOKEN_URL = "/api/v1/auth/token/"
LIMIT = settings.AXES_FAILURE_LIMIT

# The API's throttle lives in the shared cache across runs: a fresh block of addresses per run.
_addresses = (f"10.{random.randint(40, 250)}.{n // 250}.{n % 250 + 1}" for n in itertools.count())


def page_client(address: str | None = None) -> Client:
    return Client(REMOTE_ADDR=address or next(_addresses))


def api_client(address: str | None = None) -> APIClient:
    return APIClient(REMOTE_ADDR=address or next(_addresses))


def sign_in_page(client: Client, email: str, password: str):
    return client.post(LOGIN_URL, {"username": email, "password": password})


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def get_token(client: APIClient, email: str, password: str, **extra):
    return client.post(TOKEN_URL, {"email": email, "password": password}, **extra)


@pytest.fixture
def person():
    return factories.UserFactory(email="ana@example.com")


# --- The login page --------------------------------------------------------------------------


def test_the_right_password_after_the_limit_of_wrong_ones_does_not_sign_in(person):
    client = page_client()
    for n in range(LIMIT):
        sign_in_page(client, person.email, f"guess {n}")

    response = sign_in_page(client, person.email, PASSWORD)

    assert response.status_code == 429
    assert not signed_in(client)


def test_a_locked_out_person_reads_when_to_try_again(person):
    client = page_client()
    for n in range(LIMIT):
        sign_in_page(client, person.email, f"guess {n}")

    response = sign_in_page(client, person.email, PASSWORD)

    assert "Try again in 15 minutes" in visible_text(response.content)
    assert response["Retry-After"] == "900"


def test_wrong_passwords_below_the_limit_still_let_the_right_one_in(person):
    client = page_client()
    for n in range(LIMIT - 1):
        sign_in_page(client, person.email, f"guess {n}")

    sign_in_page(client, person.email, PASSWORD)

    assert signed_in(client)


def test_a_successful_sign_in_starts_the_count_again(person):
    client = page_client()
    for n in range(LIMIT - 1):
        sign_in_page(client, person.email, f"guess {n}")
    sign_in_page(client, person.email, PASSWORD)
    client.post("/accounts/logout/")
    for n in range(LIMIT - 1):
        sign_in_page(client, person.email, f"again {n}")

    sign_in_page(client, person.email, PASSWORD)

    assert signed_in(client)


def test_an_account_is_locked_whatever_addresses_the_guesses_come_from(person):
    for n in range(LIMIT):
        sign_in_page(page_client(), person.email, f"guess {n}")

    client = page_client()
    sign_in_page(client, person.email, PASSWORD)

    assert not signed_in(client)


def test_capitals_in_the_email_count_as_the_same_account(person):
    for n in range(LIMIT):
        sign_in_page(page_client(), person.email.upper() if n % 2 else person.email, f"g{n}")

    client = page_client()
    sign_in_page(client, person.email, PASSWORD)

    assert not signed_in(client)


def test_an_address_guessing_many_accounts_is_locked_for_every_account(person):
    address = next(_addresses)
    for n in range(LIMIT):
        sign_in_page(page_client(address), f"someone{n}@example.com", "Summer2026!")

    client = page_client(address)
    sign_in_page(client, person.email, PASSWORD)

    assert not signed_in(client)


def test_a_forged_forwarded_for_header_does_not_change_the_counted_address(person):
    address = next(_addresses)
    for n in range(LIMIT):
        Client(REMOTE_ADDR=address, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").post(
            LOGIN_URL, {"username": f"someone{n}@example.com", "password": "Summer2026!"})

    client = Client(REMOTE_ADDR=address, HTTP_X_FORWARDED_FOR="203.0.113.200")
    sign_in_page(client, person.email, PASSWORD)

    assert not signed_in(client)


def test_a_password_reset_lifts_the_accounts_lockout(person, mailoutbox):
    for n in range(LIMIT):
        sign_in_page(page_client(), person.email, f"guess {n}")
    client = page_client()
    client.post("/accounts/password_reset/", {"email": person.email})
    reset_form = client.get(link_in(mailoutbox[-1], "/accounts/reset/"), follow=True)
    client.post(reset_form.redirect_chain[-1][0],
                {"new_password1": "Poured concrete 2027", "new_password2": "Poured concrete 2027"})

    sign_in_page(client, person.email, "Poured concrete 2027")

    assert signed_in(client)


# --- The API's token endpoint ----------------------------------------------------------------


def test_the_api_refuses_the_right_password_after_the_limit_with_429_json(person):
    for n in range(LIMIT):
        get_token(api_client(), person.email, f"guess {n}")

    response = get_token(api_client(), person.email, PASSWORD)

    assert response.status_code == 429
    assert "token" not in response.json()
    assert response.json()["detail"].startswith("Too many failed sign-ins")
    assert int(response["Retry-After"]) > 0


def test_the_login_page_and_the_api_share_one_count(person):
    for n in range(LIMIT - 1):
        sign_in_page(page_client(), person.email, f"guess {n}")
    get_token(api_client(), person.email, "one more guess")

    client = page_client()
    sign_in_page(client, person.email, PASSWORD)

    assert not signed_in(client)


def test_rotating_forwarded_for_does_not_escape_the_api_sign_in_throttle(settings):
    settings.AXES_ENABLED = False  # the throttle alone: the lockout would refuse these as well
    address = next(_addresses)
    answers = [
        get_token(api_client(address), f"someone{n}@example.com", "guess",
                  HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(11)
    ]

    assert answers == [400] * 10 + [429]


def test_behind_one_trusted_proxy_the_address_it_saw_is_counted(person, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = next(_addresses)
    guesser = next(_addresses)
    for n in range(LIMIT):
        # The guesser writes its own X-Forwarded-For; the proxy appends the address it saw.
        Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, {guesser}").post(
            LOGIN_URL, {"username": f"someone{n}@example.com", "password": "Summer2026!"})

    from_guesser = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"203.0.113.99, {guesser}")
    someone_else = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=next(_addresses))
    sign_in_page(from_guesser, person.email, PASSWORD)
    sign_in_page(someone_else, person.email, PASSWORD)

    assert not signed_in(from_guesser)
    assert signed_in(someone_else)
