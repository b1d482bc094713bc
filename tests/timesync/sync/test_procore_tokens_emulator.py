"""The token store against the Procore emulator over HTTP: two workers reading Procore at once
when the token has expired (by our clock, or by Procore's 401) make exactly one refresh, both
carry on with the new token, and nothing fails."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from connectors.procore.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests import factories
from tests.connectors.procore.fixtures import COMPANY_ID, procore_emulator
from timesync import crypto
from timesync.models import Integration, IntegrationKind, OAuthToken
from timesync.sync import tokens
from timesync.sync.remotes import connector_for

__all__ = ["procore_emulator"]
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def integration(procore_emulator) -> Integration:
    integration = Integration.objects.create(
        organization=factories.OrganizationFactory(), kind=IntegrationKind.PROCORE,
        name="Procore", settings={"api_base_url": procore_emulator.api_base_url,
                                  "login_base_url": procore_emulator.login_base_url,
                                  "company_id": COMPANY_ID},
        credentials_encrypted=crypto.encrypt_json({"client_id": DEFAULT_CLIENT_ID,
                                                   "client_secret": DEFAULT_CLIENT_SECRET}))
    issued = procore_emulator.issue_tokens()
    OAuthToken.objects.create(
        organization=integration.organization, integration=integration,
        access_token_encrypted=crypto.encrypt_json({"token": issued["access_token"]}),
        refresh_token_encrypted=crypto.encrypt_json({"token": issued["refresh_token"]}),
        expires_at=timezone.now() + timedelta(seconds=issued["expires_in"]))
    return integration


def two_workers_read_procore(integration: Integration) -> tuple[list[int], list[Exception]]:
    """Two workers, each with its own connector, read Procore's people at the same moment."""
    barrier = threading.Barrier(2)
    counts: list[int] = []
    errors: list[Exception] = []

    def worker() -> None:
        connector = connector_for(Integration.objects.get(pk=integration.pk))
        try:
            barrier.wait(5)
            counts.append(len(connector.list_workers()))
        except Exception as error:
            errors.append(error)
        finally:
            connector.close()
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return counts, errors


def test_an_expired_token_by_our_clock_is_refreshed_once_for_two_workers(
    integration, procore_emulator
):
    OAuthToken.objects.filter(integration=integration).update(
        expires_at=timezone.now() - timedelta(seconds=1))

    counts, errors = two_workers_read_procore(integration)

    assert errors == []
    assert counts == [2, 2]  # the two employees, for each worker
    assert procore_emulator.token_counts()["refresh_token"] == 1
    assert procore_emulator.token_counts()["refused_refresh"] == 0


def test_a_token_procore_refuses_is_refreshed_once_for_two_workers(integration, procore_emulator):
    procore_emulator.expire_access_tokens()  # Procore says 401; our clock says it is valid

    counts, errors = two_workers_read_procore(integration)

    assert errors == []
    assert counts == [2, 2]
    assert procore_emulator.token_counts()["refresh_token"] == 1
    integration.refresh_from_db()
    assert not integration.reconnect_needed


def test_a_grant_revoked_in_procore_ends_in_reconnect_needed(integration, procore_emulator):
    stored = OAuthToken.objects.get(integration=integration)
    procore_emulator.revoke_grant_of(crypto.decrypt_json(stored.refresh_token_encrypted)["token"])
    procore_emulator.expire_access_tokens()

    with pytest.raises(tokens.ReconnectNeeded):
        connector_for(integration).list_workers()

    integration.refresh_from_db()
    assert integration.reconnect_needed
