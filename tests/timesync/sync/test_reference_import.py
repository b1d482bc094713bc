"""Import from Procore (SyncLinx): our workers, projects and cost codes are created from
Procore's where nothing of ours matches, linked where something does, and a second import
changes nothing. Against the Procore emulator over HTTP."""

from __future__ import annotations

import pytest

from tests import factories
from tests.connectors.procore.fixtures import (
    ADRIANA,
    PROJECT_ID,
    START_STOP_PROJECT_ID,
    SUB_JOB_ID,
    procore_emulator,
)
from timesync.models import (
    CatalogItem,
    CatalogKind,
    CostCode,
    Project,
    ProjectLink,
    Role,
    Worker,
    WorkerLink,
)
from timesync.sync.reference_import import references_import

from .conftest import procore_integration_for

__all__ = ["procore_emulator"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    organization = factories.OrganizationFactory(time_zone="America/Toronto")
    return factories.MembershipFactory(organization=organization, role=Role.ADMIN)


@pytest.fixture
def integration(admin, procore_emulator):
    organization = admin.organization
    # What the office already keeps here: one employee, one project, one cost code of Procore's.
    factories.WorkerFactory(organization=organization, name="Aaron Abbott",
                            employee_number="1001")
    factories.ProjectFactory(organization=organization, code="24-101", name="King Street Tower",
                             time_zone="America/Vancouver")
    factories.CostCodeFactory(organization=organization, code="03-100", name="Concrete")
    factories.WorkerFactory(organization=organization, name="Only Here", employee_number="7")
    return procore_integration_for(organization, procore_emulator)


def test_import_creates_what_nothing_matches_and_links_what_does(admin, integration):
    report = references_import(actor=admin, integration=integration)

    assert sorted(report.created) == [
        "cost code 01-100 General Conditions", "project Transit Facility",
        "worker Adriana Alvarez",
    ]
    assert report.linked == 3  # Aaron, King Street Tower and 03-100, matched, not duplicated
    assert report.left_unmatched == ["worker Only Here: not in the remote"]
    organization = admin.organization
    assert Worker.objects.filter(organization=organization).count() == 3  # no Vera Visitor
    assert WorkerLink.objects.get(integration=integration,
                                  worker__employee_number="1002").remote_worker_id == str(ADRIANA)
    assert ProjectLink.objects.get(integration=integration, project__code="24-102") \
        .remote_project_id == str(START_STOP_PROJECT_ID)
    assert CostCode.objects.filter(organization=organization).count() == 2


def test_importing_twice_changes_nothing(admin, integration):
    references_import(actor=admin, integration=integration)
    counts = (Worker.objects.count(), Project.objects.count(), CostCode.objects.count(),
              WorkerLink.objects.count(), ProjectLink.objects.count())

    again = references_import(actor=admin, integration=integration)

    assert again.created == []
    assert (Worker.objects.count(), Project.objects.count(), CostCode.objects.count(),
            WorkerLink.objects.count(), ProjectLink.objects.count()) == counts


def test_sub_jobs_become_projects_with_their_jobs_settings_when_asked(admin, integration):
    references_import(actor=admin, integration=integration, sub_jobs_as_projects=True)

    link = ProjectLink.objects.get(integration=integration,
                                   remote_project_id=f"{PROJECT_ID}/{SUB_JOB_ID}")
    assert link.project.name == "King Street Tower A / Podium"
    assert link.project.time_zone == "America/Vancouver"


def test_the_catalog_holds_sub_jobs_under_their_job_and_the_time_types(admin, integration):
    references_import(actor=admin, integration=integration)

    sub_job = CatalogItem.objects.get(integration=integration, kind=CatalogKind.PROJECT,
                                      remote_id=f"{PROJECT_ID}/{SUB_JOB_ID}")
    assert sub_job.parent_remote_id == str(PROJECT_ID)
    assert sorted(CatalogItem.objects.filter(integration=integration, kind=CatalogKind.TIME_TYPE)
                  .values_list("remote_id", flat=True)) == ["DT", "OT", "REG"]


def test_a_stranger_cannot_import_into_another_organizations_integration(integration):
    from django.http import Http404

    stranger = factories.MembershipFactory(role=Role.ADMIN)
    with pytest.raises(Http404):
        references_import(actor=stranger, integration=integration)


def import_url(integration) -> str:
    return (f"/api/v1/orgs/{integration.organization.slug}/integrations/{integration.pk}/"
            "import-references/")


def test_the_api_imports_and_answers_the_report(api, admin, integration):
    response = api(admin).post(import_url(integration), {}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["linked"] == 3
    assert "worker Adriana Alvarez" in response.json()["created"]
    assert response.json()["left_unmatched"] == ["worker Only Here: not in the remote"]


def test_the_api_import_is_for_admins(api, admin, integration):
    payroll = factories.MembershipFactory(organization=admin.organization,
                                          role=Role.PAYROLL_ADMIN)
    response = api(payroll).post(import_url(integration), {}, format="json")
    assert response.status_code == 403
    assert not Worker.objects.filter(employee_number="1002").exists()


def mappings_url(integration) -> str:
    return f"/o/{integration.organization.slug}/integrations/{integration.pk}/mappings/"


def test_the_mappings_page_offers_the_import_and_says_what_it_did(browser_client, admin,
                                                                  integration):
    page = browser_client(admin).get(mappings_url(integration))
    assert b"Import from Procore" in page.content

    response = browser_client(admin).post(
        f"/o/{admin.organization.slug}/integrations/{integration.pk}/procore/import/",
        follow=True)

    assert response.status_code == 200
    text = response.content.decode()
    assert "Imported from Procore. Created 3, linked 3, left unmatched 1." in text
    assert "worker Only Here: not in the remote" in text
    assert Worker.objects.filter(employee_number="1002").exists()


def test_a_payroll_admin_is_not_offered_the_import_and_cannot_post_it(browser_client, admin,
                                                                       integration):
    payroll = factories.MembershipFactory(organization=admin.organization,
                                          role=Role.PAYROLL_ADMIN)
    assert b"Import from Procore" not in browser_client(payroll).get(
        mappings_url(integration)).content
    response = browser_client(payroll).post(
        f"/o/{admin.organization.slug}/integrations/{integration.pk}/procore/import/")
    assert response.status_code == 403
