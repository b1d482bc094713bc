"""An integration's OAuth tokens (Procore): stored encrypted, refreshed by one worker at a time,
and what happens when the remote stops honouring the grant.

Why the refresh holds a row lock across one HTTP call. Procore's refresh tokens are single-use
and spent even by a failed or lost attempt, so two workers refreshing at once would leave one
of them (and then the integration) with a dead grant. The token row is the mutex: a refresher
takes it FOR UPDATE, checks the expiry again under the lock (another worker may have refreshed
while it waited), calls the token endpoint, stores the new pair and commits, then uses it.
Waiting workers read the stored pair and make no call. That transaction is short and bounded:
one form post with a 15 s read timeout (connectors.procore.oauth), once per access token
lifetime (90 minutes) per integration, well inside the database's idle-transaction timeout;
the only rows it holds are that one token row. Releasing the lock during the call would need
a "refresh in progress" lease with its own expiry and recovery, for no gain: the waiters have
nothing to do but wait for the new pair.

A refresh whose answer was lost cannot be repeated (the token it sent is probably spent): the
error goes up as transient, the run is rescheduled, and its next attempt either finds a pair
another worker stored or learns from Procore that the grant is gone.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from connectors.base import PermanentError
from connectors.procore import oauth
from timesync import crypto
from timesync.models import (
    AuditEvent,
    Integration,
    OAuthToken,
    SyncRun,
    SyncState,
)
from timesync.sync import audit, dispatch

logger = logging.getLogger(__name__)

# Refresh a little before the end: a token that expires between our check and Procore's
# reading of the request would fail a write whose outcome we then do not know.
REFRESH_MARGIN = timedelta(minutes=5)


class ReconnectNeeded(PermanentError):
    """The integration's grant is gone: only an admin connecting again brings it back."""


def oauth_client_for(integration: Integration) -> oauth.OAuthClient:
    """The integration's login host and app credentials, with our address policy."""
    from timesync.sync.remotes import remote_address_policy  # remotes imports this module

    credentials = (crypto.decrypt_json(integration.credentials_encrypted)
                   if integration.credentials_encrypted else {})
    login = (integration.settings or {}).get("login_base_url") or ""
    if not login or not credentials.get("client_id") or not credentials.get("client_secret"):
        raise PermanentError(
            f"{integration.name} has no Procore login address, client ID or client secret: "
            "set them in the integration's settings.")
    return oauth.OAuthClient(login_base_url=login, client_id=credentials["client_id"],
                             client_secret=credentials["client_secret"],
                             policy=remote_address_policy())


def procore_tokens_store(*, integration: Integration, grant: oauth.TokenGrant) -> OAuthToken:
    """Keep a new pair (a connect, or a refresh's answer). Call inside the transaction that
    decided to keep it, or alone: one short transaction either way."""
    with transaction.atomic():
        token, _ = OAuthToken.objects.update_or_create(
            integration=integration, organization_id=integration.organization_id,
            defaults=_encrypted(grant),
        )
    return token


def procore_access_token(*, integration: Integration, refused: str | None = None,
                         now: datetime | None = None) -> str:
    """A valid access token for the integration, refreshed first if it is (nearly) expired or
    is `refused` (Procore answered 401 to it); the new pair is committed before the token is
    returned (see the module). A grant Procore no longer honours puts the integration in
    "reconnect needed" and raises ReconnectNeeded."""
    now = now or timezone.now()
    if integration.reconnect_reason:
        raise _reconnect_error(integration, integration.reconnect_reason)
    token = _tokens(integration).first()
    if token is None:
        raise _reconnect_error(integration, "it holds no Procore token")
    if _usable(token, refused=refused, now=now):
        return _decrypt(token.access_token_encrypted)
    try:
        with transaction.atomic():
            token = _tokens(integration).select_for_update().first()
            if token is None:  # disconnected, or the grant was found dead, while we waited
                raise _reconnect_error(integration, "it holds no Procore token")
            if _usable(token, refused=refused, now=timezone.now()):
                return _decrypt(token.access_token_encrypted)  # another worker refreshed
            grant = _renew(integration, token)
            for name, value in _encrypted(grant).items():
                setattr(token, name, value)
            token.save()
    except oauth.GrantRevoked as error:
        integration_reconnect_needed(integration_id=integration.pk, reason=str(error))
        raise ReconnectNeeded(str(error)) from error
    return grant.access_token


def _usable(token: OAuthToken, *, refused: str | None, now: datetime) -> bool:
    if refused is not None:
        # A 401 to the token we hold means it is dead, whatever its expiry says; a 401 to an
        # older one means another worker has refreshed since.
        return _decrypt(token.access_token_encrypted) != refused
    return token.expires_at - REFRESH_MARGIN > now


class ProcoreTokenSource:
    """The two callables connectors.procore.client takes: the current token, and a refresh
    after Procore refused it (401), which refreshes only if no other worker already has."""

    def __init__(self, integration: Integration) -> None:
        self.integration = integration
        self.last: str | None = None

    def access_token(self) -> str:
        self.last = procore_access_token(integration=self.integration)
        return self.last

    def refresh_access_token(self) -> str:
        self.last = procore_access_token(integration=self.integration, refused=self.last)
        return self.last


def _renew(integration: Integration, token: OAuthToken) -> oauth.TokenGrant:
    client = oauth_client_for(integration)
    if not token.refresh_token_encrypted:  # client credentials: ask again
        return oauth.client_credentials(client)
    return oauth.refresh(client, refresh_token=_decrypt(token.refresh_token_encrypted))


def procore_tokens_take(*, integration: Integration) -> tuple[str, str] | None:
    """Delete the integration's tokens and hand back (access, refresh) for a best-effort
    remote revoke after the commit. Call inside the caller's transaction."""
    token = _tokens(integration).select_for_update().first()
    if token is None:
        return None
    pair = (_decrypt(token.access_token_encrypted),
            _decrypt(token.refresh_token_encrypted) if token.refresh_token_encrypted else "")
    token.delete()
    return pair


def integration_reconnect_needed(*, integration_id: int, reason: str) -> bool:
    """Record that the remote stopped honouring the grant: the tokens go, the integration's
    queued and running syncs stop with the reason, and the admins who opted in get one email.
    False when it was already recorded (one email, not one per worker that noticed)."""
    with transaction.atomic():
        integration = Integration.objects.select_for_update().filter(pk=integration_id).first()
        if integration is None or integration.reconnect_reason:
            return False
        integration.reconnect_reason = reason[:1000]
        integration.save(update_fields=["reconnect_reason", "updated_at"])
        OAuthToken.objects.filter(integration=integration).delete()
        message = f"{integration.name} must be connected again: {reason}"
        SyncRun.objects.filter(
            integration=integration, state__in=[SyncState.QUEUED, SyncState.RUNNING],
        ).update(state=SyncState.FAILED, error=message, finished_at=timezone.now(),
                 next_attempt_at=None,
                 # The one email below says it for every run: none of their own.
                 failure_notified_at=timezone.now())
        audit.record(integration=integration, actor=None, event=AuditEvent.RECONNECT_NEEDED,
                     subject=integration.name, note=reason)
        transaction.on_commit(lambda: dispatch.reconnect_email_enqueue(integration_id))
    # Once, here: the runs it stops end without a line of their own.
    logger.warning("Integration %s (%s) must be connected again: %s", integration_id,
                   integration.name, reason)
    return True


def _tokens(integration: Integration):
    return OAuthToken.objects.filter(integration_id=integration.pk,
                                     organization_id=integration.organization_id)


def _encrypted(grant: oauth.TokenGrant) -> dict[str, object]:
    return {
        "access_token_encrypted": crypto.encrypt_json({"token": grant.access_token}),
        "refresh_token_encrypted": (crypto.encrypt_json({"token": grant.refresh_token})
                                    if grant.refresh_token else ""),
        "expires_at": grant.expires_at,
    }


def _decrypt(value: str) -> str:
    return crypto.decrypt_json(value)["token"]


def _reconnect_error(integration: Integration, reason: str) -> ReconnectNeeded:
    return ReconnectNeeded(f"{integration.name} must be connected to Procore again: {reason}")
