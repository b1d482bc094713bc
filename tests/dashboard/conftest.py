"""Fixtures for the page tests: invitation emails sent in-process."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from timesync.models import Organization, Role


@pytest.fixture
def eager_celery():
    """Run Celery tasks in-process instead of through the broker."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous


@pytest.fixture
def invite(eager_celery, django_capture_on_commit_callbacks) -> Callable[..., object]:
    """Send an invitation through the members page, as the client's user, and let the email
    task run (it is enqueued when the request's transaction commits)."""

    def send(client: Client, organization: Organization, email: str, role: str = Role.VIEWER):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                f"/o/{organization.slug}/members/", {"email": email, "role": role}
            )

    return send
