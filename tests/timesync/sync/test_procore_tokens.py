"""Procore tokens on our side: encrypted at rest, refreshed by exactly one worker, and a dead
grant stops the integration's syncs with a reason (over real HTTP, to a stub login host)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, connections
from django.utils import timezone

from config.celery import app
from connectors.procore import oauth
from tests import factories
from tests.connectors.procore.stub_login import CLIENT_ID, CLIENT_SECRET, stub_login
from timesync import crypto
from timesync.models import (
    AuditEvent,
    Integration,
    IntegrationKind,
    OAuthToken,
    Role,
    SyncRun,
    SyncState,
    SyncTrigger,
)
from timesync.sync import tokens

__all__ = ["stub_login"]
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def procore(stub_login) -> Integration:
    organization = factories.OrganizationFactory()
    return Integration.objects.create(
        organization=organization, kind=IntegrationKind.PROCORE, name="Procore",
        settings={"login_base_url": stub_login.url, "api_base_url": stub_login.url,
                  "company_id": "4264807", "grant": "authorization_code"},
        credentials_encrypted=crypto.encrypt_json({"client_id": CLIENT_ID,
                                                   "client_secret": CLIENT_SECRET}),
    )


def connect(procore: Integration, stub_login, *, expires_in: int = 5400) -> oauth.TokenGrant:
    stub_login.expires_in = expires_in
    grant = oauth.exchange_code(tokens.oauth_client_for(procore), code="good-code",
                                redirect_uri="x")
    tokens.procore_tokens_store(integration=procore, grant=grant)
    stub_login.calls.clear()
    stub_login.expires_in = 5400
    return grant


def test_tokens_are_stored_encrypted(procore, stub_login):
    connect(procore, stub_login)
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token_encrypted, refresh_token_encrypted "
                       "FROM timesync_oauthtoken")
        stored = " ".join(cursor.fetchone())
    assert "access-1" not in stored
    assert "refresh-1" not in stored


def test_a_valid_token_is_used_without_asking_procore(procore, stub_login):
    connect(procore, stub_login)
    assert tokens.procore_access_token(integration=procore) == "access-1"
    assert stub_login.calls == []


def test_an_expired_token_is_refreshed_and_the_new_pair_kept(procore, stub_login):
    connect(procore, stub_login, expires_in=0)
    assert tokens.procore_access_token(integration=procore) == "access-2"
    (post,) = stub_login.token_posts()
    assert post["grant_type"] == "refresh_token"
    assert post["refresh_token"] == "refresh-1"
    # The stored pair is the new one: the next refresh spends refresh-2, not the spent one.
    stored = OAuthToken.objects.get(integration=procore)
    assert crypto.decrypt_json(stored.refresh_token_encrypted)["token"] == "refresh-2"
    assert stored.expires_at > timezone.now() + timedelta(minutes=80)


def test_a_token_about_to_expire_is_refreshed_before_it_does(procore, stub_login):
    connect(procore, stub_login, expires_in=60)
    assert tokens.procore_access_token(integration=procore) == "access-2"


def test_an_expired_client_credentials_token_is_asked_for_again(procore, stub_login):
    stub_login.expires_in = 0
    grant = oauth.client_credentials(tokens.oauth_client_for(procore))
    tokens.procore_tokens_store(integration=procore, grant=grant)
    stub_login.calls.clear()
    stub_login.expires_in = 5400
    assert tokens.procore_access_token(integration=procore) == "access-2"
    assert [p["grant_type"] for p in stub_login.token_posts()] == ["client_credentials"]


def _waiting_on_a_lock() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND datname = current_database()")
        return cursor.fetchone()[0]


def test_two_workers_with_an_expired_token_make_exactly_one_refresh(procore, stub_login):
    connect(procore, stub_login, expires_in=0)
    run = SyncRun.objects.create(organization=procore.organization, integration=procore,
                                 project=factories.ProjectFactory(
                                     organization=procore.organization),
                                 work_date=timezone.localdate(), trigger=SyncTrigger.API)
    # The token endpoint holds its answer until the second worker is queued on the row lock.
    stub_login.hold = threading.Event()
    barrier = threading.Barrier(2)
    got: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(5)
            got.append(tokens.procore_access_token(integration=procore))
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while (not stub_login.token_posts() or _waiting_on_a_lock() < 1) \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    stub_login.hold.set()
    for thread in threads:
        thread.join(15)

    assert errors == []
    assert got == ["access-2", "access-2"]
    assert len(stub_login.token_posts()) == 1
    run.refresh_from_db()
    assert run.state == SyncState.QUEUED
    procore.refresh_from_db()
    assert not procore.reconnect_needed


@pytest.fixture
def opted_in_admin(procore):
    return factories.MembershipFactory(organization=procore.organization, role=Role.ADMIN,
                                       notify_sync_failures=True)


def test_a_revoked_grant_stops_the_integration_and_emails_opted_in_admins_once(
    procore, stub_login, opted_in_admin, django_capture_on_commit_callbacks
):
    connect(procore, stub_login, expires_in=0)
    stub_login.refresh_tokens.clear()  # revoked in Procore
    run = SyncRun.objects.create(organization=procore.organization, integration=procore,
                                 project=factories.ProjectFactory(
                                     organization=procore.organization),
                                 work_date=timezone.localdate(), trigger=SyncTrigger.API)
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True), \
                pytest.raises(tokens.ReconnectNeeded, match="Connect to Procore again"):
            tokens.procore_access_token(integration=procore)
        with django_capture_on_commit_callbacks(execute=True), \
                pytest.raises(tokens.ReconnectNeeded):
            tokens.procore_access_token(integration=Integration.objects.get(pk=procore.pk))
    finally:
        app.conf.task_always_eager = False

    procore.refresh_from_db()
    assert procore.reconnect_needed
    assert "revoked" in procore.reconnect_reason
    assert not OAuthToken.objects.filter(integration=procore).exists()
    run.refresh_from_db()
    assert run.state == SyncState.FAILED
    assert "must be connected again" in run.error
    assert procore.audit_entries.filter(event=AuditEvent.RECONNECT_NEEDED).count() == 1
    assert len(stub_login.token_posts()) == 1  # the second ask never reached Procore
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [opted_in_admin.user.email]
    assert "Connect Procore again" in mail.outbox[0].subject
    assert "/settings/" in mail.outbox[0].body


def test_a_lost_refresh_answer_keeps_the_old_pair_and_is_transient(procore, stub_login):
    connect(procore, stub_login, expires_in=0)
    stub_login.scripted.append((502, {}))
    with pytest.raises(oauth.TransientError):
        tokens.procore_access_token(integration=procore)
    procore.refresh_from_db()
    assert not procore.reconnect_needed
    assert OAuthToken.objects.filter(integration=procore).exists()


def test_an_integration_in_reconnect_needed_cannot_start_a_sync(procore):
    from timesync.sync import runs
    from timesync.sync.selectors import IntegrationDisconnected

    admin = factories.MembershipFactory(organization=procore.organization, role=Role.ADMIN)
    procore.reconnect_reason = "Procore no longer accepts this connection."
    procore.save()
    with pytest.raises(IntegrationDisconnected, match="must be connected again"):
        runs.sync_run_start(integration=procore, project=factories.ProjectFactory(
            organization=procore.organization), work_date=timezone.localdate(),
            trigger=SyncTrigger.API, actor=admin)
