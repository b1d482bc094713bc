"""Celery is wired for real: a task enqueued after commit travels through Redis and a real
worker runs it."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core import mail

from config.celery import app
from timesync import services
from timesync.models import Role

pytestmark = pytest.mark.django_db(transaction=True)


def test_broker_is_redis_in_the_test_suite():
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.accept_content == ["json"]


def test_invitation_email_is_sent_by_a_real_worker_through_redis(admin):
    with start_worker(app, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10):
        services.invitation_create(
            actor=admin, email="new.hire@example.com", role=Role.VIEWER,
            accept_url_template="https://timesync.example/invitations/{token}/",
        )
        deadline = time.monotonic() + 20
        while not mail.outbox and time.monotonic() < deadline:
            time.sleep(0.1)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.hire@example.com"]
    assert "https://timesync.example/invitations/" in message.body
    assert admin.organization.name in message.subject
