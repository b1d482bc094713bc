"""Procore's OAuth 2 endpoints, on the wire only (this package never imports our domain).

`{login_base_url}/oauth/authorize` is where an admin grants our app access (authorization
code grant); `POST {login_base_url}/oauth/token` takes form fields and answers a token pair;
`POST {login_base_url}/oauth/revoke` ends a token. The login host is a setting of the
integration (production, the sandbox and the local emulator differ), so it is a tenant's
address: every call goes through `HttpClient` with the caller's address policy, checked on the
address connected to.

Refresh tokens are single-use, and Procore spends one even when the attempt fails or its answer
is lost. So a refresh whose answer never came back raises `TransientError` with
`maybe_applied=True`: the caller must know that the refresh token it sent is probably gone, and
that the next refresh with it will be refused (`GrantRevoked`: connect again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests

from connectors.addresses import PUBLIC_HTTPS_ONLY, RemoteAddressPolicy
from connectors.base import (
    TRANSIENT_STATUSES,
    HttpClient,
    PermanentError,
    TransientError,
)
from connectors.procore.client import USER_AGENT

SYSTEM = "Procore"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret
REVOKE_PATH = "/oauth/revoke"
# An OAuth call is one short form post; a caller may hold a row lock across it (one refresher
# at a time), so it must not wait as long as a timecard write may.
READ_TIMEOUT_SECONDS = 15.0


class GrantRevoked(PermanentError):
    """Procore no longer honours this connection's grant (revoked, expired, or its refresh
    token already spent): nothing but connecting again will help."""


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str | None  # None for a client credentials grant: ask again instead
    expires_at: datetime  # UTC


@dataclass(frozen=True)
class OAuthClient:
    """Where and as whom to ask: the integration's login host and its app's credentials."""

    login_base_url: str
    client_id: str
    client_secret: str
    policy: RemoteAddressPolicy = PUBLIC_HTTPS_ONLY


def authorize_url(login_base_url: str, client_id: str, redirect_uri: str, state: str) -> str:
    """Where to send an admin to grant our app access; Procore comes back to `redirect_uri`
    with `code` and the same `state`."""
    query = urlencode({"response_type": "code", "client_id": client_id,
                       "redirect_uri": redirect_uri, "state": state})
    return f"{login_base_url.rstrip('/')}/oauth/authorize?{query}"


def exchange_code(client: OAuthClient, *, code: str, redirect_uri: str,
                  now: datetime | None = None) -> TokenGrant:
    """The token pair for the code Procore handed back to our callback."""
    return _token(client, {"grant_type": "authorization_code", "code": code,
                           "redirect_uri": redirect_uri}, now=now)


def client_credentials(client: OAuthClient, *, now: datetime | None = None) -> TokenGrant:
    """A token for a Developer Managed Service Account (no admin in the loop, no refresh
    token: ask again when it expires)."""
    return _token(client, {"grant_type": "client_credentials"}, now=now)


def refresh(client: OAuthClient, *, refresh_token: str, now: datetime | None = None
            ) -> TokenGrant:
    """A new pair for a refresh token, which is spent whatever the outcome (see the module)."""
    return _token(client, {"grant_type": "refresh_token", "refresh_token": refresh_token},
                  now=now)


def revoke(client: OAuthClient, *, token: str) -> None:
    """End a token at Procore. Raises the connector errors; callers treat it as best effort."""
    http = _http(client)
    try:
        response = http.send("POST", REVOKE_PATH, form={
            "token": token, "client_id": client.client_id,
            "client_secret": client.client_secret})
        if response.status_code >= 400 and response.status_code not in TRANSIENT_STATUSES:
            raise _refusal(response)
        http.outcome(response, "POST", REVOKE_PATH)
    finally:
        http.close()


def _token(client: OAuthClient, fields: dict[str, str], *, now: datetime | None) -> TokenGrant:
    now = now or datetime.now(UTC)
    http = _http(client)
    try:
        response = http.send("POST", TOKEN_PATH, form={
            **fields, "client_id": client.client_id, "client_secret": client.client_secret})
        if 400 <= response.status_code < 500 and response.status_code not in TRANSIENT_STATUSES:
            raise _refusal(response)
        body = http.outcome(response, "POST", TOKEN_PATH)  # 429, 5xx, redirects raise
    finally:
        http.close()
    return _grant(body, now=now)


def _http(client: OAuthClient) -> HttpClient:
    return HttpClient(base_url=client.login_base_url, system=SYSTEM, read_retries=0,
                      read_timeout=READ_TIMEOUT_SECONDS, policy=client.policy,
                      headers={"User-Agent": USER_AGENT})


def _grant(body: Any, *, now: datetime) -> TokenGrant:
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        # The token endpoint acted (a refresh token may be spent) but we cannot read the pair.
        raise TransientError("Procore's sign-in service sent a token answer we cannot read.")
    try:
        lifetime = int(body.get("expires_in", 0))
    except (TypeError, ValueError):
        lifetime = 0
    refresh_token = body.get("refresh_token")
    return TokenGrant(
        access_token=body["access_token"],
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token
        else None,
        expires_at=now + timedelta(seconds=max(0, lifetime)),
    )


def _refusal(response: requests.Response) -> PermanentError:
    """A 4xx of the token endpoint, by its OAuth error code (RFC 6749 section 5.2), in words
    an admin can act on."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = body.get("error", "") if isinstance(body, dict) else ""
    described = body.get("error_description", "") if isinstance(body, dict) else ""
    detail = f" ({described})" if isinstance(described, str) and described else ""
    if code == "invalid_grant":
        return GrantRevoked(
            "Procore no longer accepts this connection's authorization: it was revoked, it "
            f"expired or it was already used{detail}. Connect to Procore again.")
    if code == "invalid_client" or response.status_code == 401:
        return PermanentError(
            "Procore refused the app's client ID or client secret: check them in the "
            "integration's settings (the app's credentials in Procore's Developer Portal)"
            f"{detail}.")
    if code == "unauthorized_client":
        return PermanentError(
            "Procore does not let this app use that kind of connection: for client "
            "credentials, the app must be installed in the company as a Developer Managed "
            f"Service Account{detail}.")
    return PermanentError(
        f"Procore's sign-in service refused the request ({response.status_code}"
        f"{', ' + code if isinstance(code, str) and code else ''}){detail}.")
