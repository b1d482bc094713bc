"""Procore's OAuth endpoints over real HTTP (a stub login host on 127.0.0.1)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.addresses import RemoteAddressPolicy
from connectors.base import PermanentError, TransientError
from connectors.procore import oauth
from tests.connectors.procore.stub_login import CLIENT_ID, CLIENT_SECRET, stub_login

__all__ = ["stub_login"]

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LOCAL = RemoteAddressPolicy.of(private_hosts_allowed=["127.0.0.1"])


def client(stub, *, secret: str = CLIENT_SECRET, policy=LOCAL) -> oauth.OAuthClient:
    return oauth.OAuthClient(login_base_url=stub.url, client_id=CLIENT_ID, client_secret=secret,
                             policy=policy)


def test_authorize_url_carries_client_redirect_and_state():
    url = oauth.authorize_url("https://login.procore.com/", "cid", "https://us.example/cb",
                              "st&te")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "login.procore.com",
                                                        "/oauth/authorize")
    assert parse_qs(parts.query) == {"response_type": ["code"], "client_id": ["cid"],
                                     "redirect_uri": ["https://us.example/cb"],
                                     "state": ["st&te"]}


def test_exchanging_a_code_posts_form_fields_and_returns_the_pair(stub_login):
    grant = oauth.exchange_code(client(stub_login), code="good-code",
                                redirect_uri="https://us.example/cb", now=NOW)
    assert grant.access_token == "access-1"
    assert grant.refresh_token == "refresh-1"
    assert grant.expires_at == NOW + timedelta(seconds=5400)
    (form,) = stub_login.token_posts()
    assert form == {"grant_type": "authorization_code", "code": "good-code",
                    "redirect_uri": "https://us.example/cb", "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET}


def test_client_credentials_gives_a_token_without_refresh_token(stub_login):
    grant = oauth.client_credentials(client(stub_login), now=NOW)
    assert grant.access_token == "access-1"
    assert grant.refresh_token is None
    assert stub_login.token_posts()[0]["grant_type"] == "client_credentials"


def test_refresh_rotates_the_pair(stub_login):
    first = oauth.exchange_code(client(stub_login), code="good-code", redirect_uri="x")
    second = oauth.refresh(client(stub_login), refresh_token=first.refresh_token)
    assert (second.access_token, second.refresh_token) == ("access-2", "refresh-2")


def test_a_spent_refresh_token_means_the_grant_is_revoked(stub_login):
    first = oauth.exchange_code(client(stub_login), code="good-code", redirect_uri="x")
    oauth.refresh(client(stub_login), refresh_token=first.refresh_token)
    with pytest.raises(oauth.GrantRevoked, match="Connect to Procore again"):
        oauth.refresh(client(stub_login), refresh_token=first.refresh_token)


def test_a_wrong_client_secret_is_a_permanent_error_naming_the_credentials(stub_login):
    with pytest.raises(PermanentError, match="client ID or client secret") as raised:
        oauth.client_credentials(client(stub_login, secret="wrong"))
    assert not isinstance(raised.value, oauth.GrantRevoked)


def test_an_app_not_allowed_the_grant_says_so(stub_login):
    stub_login.scripted.append((400, {"error": "unauthorized_client"}))
    with pytest.raises(PermanentError, match="Developer Managed Service Account"):
        oauth.client_credentials(client(stub_login))


def test_a_server_error_on_refresh_is_transient_and_maybe_spent(stub_login):
    stub_login.scripted.append((503, {"error": "down"}))
    with pytest.raises(TransientError) as raised:
        oauth.refresh(client(stub_login), refresh_token="refresh-x")
    assert raised.value.maybe_applied


def test_a_rate_limited_token_post_was_not_applied(stub_login):
    stub_login.scripted.append((429, {}))
    with pytest.raises(TransientError) as raised:
        oauth.client_credentials(client(stub_login))
    assert not raised.value.maybe_applied


def test_an_unreadable_token_answer_is_transient(stub_login):
    stub_login.scripted.append((200, {"token": "?"}))
    with pytest.raises(TransientError, match="cannot read"):
        oauth.client_credentials(client(stub_login))


def test_a_login_host_that_cannot_be_reached_was_never_asked():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nobody listens there
    lost = oauth.OAuthClient(login_base_url=f"http://127.0.0.1:{port}", client_id="c",
                             client_secret="s", policy=LOCAL)
    with pytest.raises(TransientError) as raised:
        oauth.client_credentials(lost)
    assert not raised.value.maybe_applied


def test_a_private_login_host_is_refused_before_any_call(stub_login):
    with pytest.raises(PermanentError, match="was not called"):
        oauth.client_credentials(client(stub_login, policy=RemoteAddressPolicy()))
    assert stub_login.calls == []


def test_revoke_posts_the_token(stub_login):
    oauth.revoke(client(stub_login), token="access-9")
    assert stub_login.revoked == ["access-9"]
