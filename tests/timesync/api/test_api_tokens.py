"""API tokens: each sign-in makes one that expires unless used, its owner lists and revokes
them (never seeing a token again), and a new password revokes them all."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests import factories
from tests.dashboard.helpers import link_in
from tests.timesync.api.helpers import PASSWORD, url

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
TOKENS_URL = "/api/v1/auth/tokens/"
SIGN_OUT_URL = "/api/v1/auth/sign-out/"

# The sign-in throttle counts per address in the shared cache: a fresh block per run.
_addresses = (f"10.{random.randint(40, 250)}.{n // 250}.{n % 250 + 7}" for n in itertools.count())


def device() -> APIClient:
    return APIClient(REMOTE_ADDR=next(_addresses))


def sign_in(user) -> dict:
    response = device().post(TOKEN_URL, {"email": user.email, "password": PASSWORD})
    assert response.status_code == 200, response.content
    return response.json()


def holding(token: str) -> APIClient:
    client = device()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def works(token: str, organization) -> bool:
    return holding(token).get(url(organization, "workers/")).status_code == 200


@pytest.fixture
def user(admin):
    return admin.user


# --- Made at sign-in -------------------------------------------------------------------------


def test_a_sign_in_answers_the_token_its_id_and_its_expiry_30_days_on(user):
    body = sign_in(user)

    assert body["token"].startswith("tsk_")
    assert body["token"].startswith(body["id"])
    assert len(body["id"]) < len(body["token"]) // 4
    expiry = timezone.datetime.fromisoformat(body["expiry"])
    assert abs(expiry - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)


def test_the_database_holds_no_token_only_its_digest(user):
    token = sign_in(user)["token"]

    row = AuthToken.objects.get(user=user)
    assert token not in {str(value) for value in vars(row).values()}


def test_each_sign_in_makes_a_token_of_its_own_and_both_work(user, organization):
    first, second = sign_in(user)["token"], sign_in(user)["token"]

    assert first != second
    assert works(first, organization)
    assert works(second, organization)


def test_an_expired_token_is_refused(user, organization):
    token = sign_in(user)["token"]
    AuthToken.objects.filter(user=user).update(expiry=timezone.now() - timedelta(seconds=1))

    assert holding(token).get(url(organization, "workers/")).status_code == 401


def test_using_a_token_moves_its_expiry_forward(user, organization):
    token = sign_in(user)["token"]
    AuthToken.objects.filter(user=user).update(expiry=timezone.now() + timedelta(days=1))

    holding(token).get(url(organization, "workers/"))

    expiry = AuthToken.objects.get(user=user).expiry
    assert expiry > timezone.now() + timedelta(days=29)


def test_signing_in_past_the_limit_revokes_the_least_recently_used_token(user, organization,
                                                                         settings):
    settings.API_TOKENS_PER_USER = 2
    stale, recent = sign_in(user)["token"], sign_in(user)["token"]
    AuthToken.objects.filter(token_key=stale[:15]).update(
        expiry=timezone.now() + timedelta(days=3))

    newest = sign_in(user)["token"]

    assert not works(stale, organization)
    assert works(recent, organization)
    assert works(newest, organization)


# --- Listed and revoked by their owner -------------------------------------------------------


def test_the_owner_lists_their_tokens_without_the_tokens_themselves(user):
    first, second = sign_in(user), sign_in(user)

    response = holding(second["token"]).get(TOKENS_URL)

    assert response.status_code == 200
    rows = response.json()
    assert {row["id"] for row in rows} == {first["id"], second["id"]}
    assert first["token"] not in response.content.decode()
    assert second["token"] not in response.content.decode()
    assert set(rows[0]) == {"id", "created", "expiry", "last_used", "current"}
    assert [row["current"] for row in rows if row["id"] == second["id"]] == [True]


def test_the_list_leaves_out_other_peoples_tokens(user, member):
    other = member().user
    sign_in(other)

    rows = holding(sign_in(user)["token"]).get(TOKENS_URL).json()

    assert len(rows) == 1


def test_revoking_a_token_by_its_id_stops_it_at_once(user, organization):
    doomed, kept = sign_in(user), sign_in(user)

    response = holding(kept["token"]).delete(f"{TOKENS_URL}{doomed['id']}/")

    assert response.status_code == 204
    assert not works(doomed["token"], organization)
    assert works(kept["token"], organization)


def test_another_persons_token_id_answers_404_and_their_token_keeps_working(user, member,
                                                                            organization):
    theirs = sign_in(member().user)

    response = holding(sign_in(user)["token"]).delete(f"{TOKENS_URL}{theirs['id']}/")

    assert response.status_code == 404
    assert works(theirs["token"], organization)


def test_revoking_all_tokens_stops_every_one(user, organization):
    tokens = [sign_in(user)["token"] for _ in range(3)]

    assert holding(tokens[0]).delete(TOKENS_URL).status_code == 204

    assert not any(works(token, organization) for token in tokens)


def test_signing_out_a_token_stops_that_token_only(user, organization):
    leaving, staying = sign_in(user)["token"], sign_in(user)["token"]

    assert holding(leaving).post(SIGN_OUT_URL).status_code == 204

    assert not works(leaving, organization)
    assert works(staying, organization)


def test_a_signed_in_browser_manages_its_persons_tokens_too(user, browser_client, admin):
    token = sign_in(user)

    rows = browser_client(admin).get(TOKENS_URL).json()

    assert [row["id"] for row in rows] == [token["id"]]
    assert rows[0]["current"] is False


# --- A new password ends them ----------------------------------------------------------------


def test_changing_the_password_on_its_page_revokes_every_token(user, organization):
    tokens = [sign_in(user)["token"] for _ in range(2)]
    browser = Client()
    browser.force_login(user)

    response = browser.post("/accounts/password_change/", {
        "old_password": PASSWORD, "new_password1": "Poured concrete 2027",
        "new_password2": "Poured concrete 2027"})

    assert response.status_code == 302
    assert not any(works(token, organization) for token in tokens)


def test_resetting_the_password_revokes_every_token(user, organization, mailoutbox):
    token = sign_in(user)["token"]
    browser = Client()
    browser.post("/accounts/password_reset/", {"email": user.email})
    form = browser.get(link_in(mailoutbox[-1], "/accounts/reset/"), follow=True)

    browser.post(form.redirect_chain[-1][0], {"new_password1": "Poured concrete 2027",
                                              "new_password2": "Poured concrete 2027"})

    assert not works(token, organization)


def test_a_token_made_after_the_change_works(user, organization):
    user.set_password("Poured concrete 2027")
    user.save()

    token = device().post(TOKEN_URL, {"email": user.email,
                                      "password": "Poured concrete 2027"}).json()["token"]

    assert works(token, organization)


def test_saving_the_person_without_a_new_password_keeps_their_tokens(user, organization):
    token = sign_in(user)["token"]
    user.full_name = "Ana Renamed"
    user.save()

    assert works(token, organization)


def test_another_persons_password_change_leaves_my_tokens(user, organization):
    token = sign_in(user)["token"]
    someone = factories.UserFactory()
    someone.set_password("Poured concrete 2027")
    someone.save()

    assert works(token, organization)


def test_a_password_hash_upgraded_at_sign_in_keeps_the_tokens(user, organization, settings):
    token = sign_in(user)["token"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher",
                                 "django.contrib.auth.hashers.MD5PasswordHasher"]

    sign_in(user)  # Django rehashes the MD5 password with PBKDF2: the password is the same

    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_")
    assert works(token, organization)
