"""Shared test setup. The suite runs against real PostgreSQL and Redis (see `make test`)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests import factories
from timesync.models import Membership, Role


def pytest_configure(config: pytest.Config) -> None:
    # Hashing passwords at production strength would make the suite crawl.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The manifest is built by collectstatic at deploy time; tests render templates without it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    # Production redirects http to https; the test client speaks plain http.
    settings.SECURE_SSL_REDIRECT = False
    # The remotes are local emulators on 127.0.0.1, here and in the workers tests start (they
    # inherit the environment), which call them as production calls a remote.
    settings.CONNECTOR_PRIVATE_HOSTS_ALLOWED = ["127.0.0.1", "localhost"]
    os.environ["CONNECTOR_PRIVATE_HOSTS_ALLOWED"] = "127.0.0.1,localhost"
    # The demo's remote state (the emulators' seed files) lives under VAR_DIR: a test loading
    # the demo must not overwrite the checkout's var/, which `make run` starts its emulators
    # from (it did: the Procore emulator then held another company and every sync failed).
    settings.VAR_DIR = Path(tempfile.mkdtemp(prefix="timesync-tests-var-"))


@pytest.fixture(scope="session", autouse=True)
def _require_postgresql(django_db_setup, django_db_blocker) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.exit(
            "The test suite runs on PostgreSQL: run `make test`, or set DATABASE_URL to a "
            "PostgreSQL database (postgres://postgres@127.0.0.1:5432/timesync).",
            returncode=2,
        )


@pytest.fixture
def organization():
    return factories.OrganizationFactory()


@pytest.fixture
def member(organization) -> Callable[..., Membership]:
    """Make a member of `organization` (or another) with a role."""

    def make(role: str = Role.ADMIN, org=None, **kwargs) -> Membership:
        return factories.MembershipFactory(organization=org or organization, role=role, **kwargs)

    return make


@pytest.fixture
def admin(member) -> Membership:
    return member(Role.ADMIN)


@pytest.fixture
def api() -> Callable[[Membership | None], APIClient]:
    """An API client signed in as a membership's user (or anonymous)."""

    def make(membership: Membership | None = None) -> APIClient:
        client = APIClient()
        if membership is not None:
            client.force_authenticate(membership.user)
        return client

    return make


@pytest.fixture
def browser_client(client) -> Callable[[Membership], object]:
    """Django's test client signed in as a membership's user."""

    def make(membership: Membership):
        client.force_login(membership.user)
        return client

    return make


@pytest.fixture(scope="session")
def qbxml_schema():
    """Intuit's qbXML 13.0 schema (tests/connectors/quickbooks/qbxml/, copied with its
    provenance), loaded once: every qbXML request we build is validated against it."""
    import xmlschema

    schema_dir = Path(__file__).parent / "connectors" / "quickbooks" / "qbxml" / "v13"
    return xmlschema.XMLSchema(str(schema_dir / "qbxmlops130.xsd"))
