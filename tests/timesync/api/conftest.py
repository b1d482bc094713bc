"""Fixtures for the API tests: one organization's reference data and a second tenant."""

from __future__ import annotations

import pytest

from tests import factories


@pytest.fixture
def project(organization):
    return factories.ProjectFactory(organization=organization, name="Harbour Tower")


@pytest.fixture
def worker(organization):
    return factories.WorkerFactory(organization=organization, name="Ana Silva")


@pytest.fixture
def cost_code(organization):
    return factories.CostCodeFactory(organization=organization, code="CF-300")


@pytest.fixture
def other_organization():
    return factories.OrganizationFactory(name="Rival Builders")
