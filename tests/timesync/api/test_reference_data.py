"""Projects, workers and cost codes through the API: create, read, update, uniqueness within an
organization, time zones, and the search and active filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests import factories
from tests.timesync.api.helpers import TORONTO, errors_of, ids, local, url
from timesync.models import Role

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Resource:
    path: str
    factory: Any
    new: dict[str, Any]  # a valid create body
    number: str  # the field that must be unique within an organization

    def make(self, organization, **fields):
        return self.factory(organization=organization, **fields)


PROJECTS = Resource("projects/", factories.ProjectFactory,
                    {"name": "Harbour Tower", "code": "HT-001"}, "code")
WORKERS = Resource("workers/", factories.WorkerFactory,
                   {"name": "Ana Silva", "employee_number": "EMP-77"}, "employee_number")
COST_CODES = Resource("cost-codes/", factories.CostCodeFactory,
                      {"code": "CF-310", "name": "Concrete formwork"}, "code")
RESOURCES = pytest.mark.parametrize(
    "resource", [PROJECTS, WORKERS, COST_CODES], ids=["projects", "workers", "cost-codes"]
)


@RESOURCES
def test_admin_creates_a_record_and_reads_it_back(api, admin, organization, resource):
    client = api(admin)
    created = client.post(url(organization, resource.path), resource.new)
    assert created.status_code == 201, created.content
    record = client.get(url(organization, f"{resource.path}{created.json()['id']}/"))
    assert record.status_code == 200
    for field, value in resource.new.items():
        assert record.json()[field] == value
    assert record.json()["is_active"] is True


@RESOURCES
def test_payroll_admin_creates_a_record(api, member, organization, resource):
    response = api(member(Role.PAYROLL_ADMIN)).post(url(organization, resource.path), resource.new)
    assert response.status_code == 201, response.content


@RESOURCES
def test_list_shows_the_organizations_records_and_not_another_tenants(
    api, admin, organization, other_organization, resource
):
    mine = resource.make(organization)
    resource.make(other_organization)
    assert ids(api(admin).get(url(organization, resource.path))) == [mine.pk]


def test_list_is_paginated_with_count_and_results(api, admin, organization):
    for _ in range(3):
        factories.WorkerFactory(organization=organization)
    body = api(admin).get(url(organization, "workers/"), {"limit": 2}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    rest = api(admin).get(url(organization, "workers/"), {"limit": 2, "offset": 2}).json()
    assert len(rest["results"]) == 1


@RESOURCES
def test_another_tenants_record_is_not_found(api, admin, organization, other_organization,
                                             resource):
    theirs = resource.make(other_organization)
    response = api(admin).get(url(organization, f"{resource.path}{theirs.pk}/"))
    assert response.status_code == 404


@RESOURCES
def test_another_tenants_record_cannot_be_updated(api, admin, organization, other_organization,
                                                  resource):
    theirs = resource.make(other_organization, name="Theirs")
    response = api(admin).patch(url(organization, f"{resource.path}{theirs.pk}/"),
                                {"name": "Mine now"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


@RESOURCES
def test_partial_update_changes_only_the_given_field(api, admin, organization, resource):
    record = resource.make(organization)
    number = getattr(record, resource.number)
    response = api(admin).patch(url(organization, f"{resource.path}{record.pk}/"),
                                {"name": "Renamed"})
    assert response.status_code == 200, response.content
    again = api(admin).get(url(organization, f"{resource.path}{record.pk}/")).json()
    assert again["name"] == "Renamed"
    assert again[resource.number] == number


def test_full_update_replaces_a_workers_details(api, admin, organization, worker):
    body = {"name": "Ana Costa", "employee_number": "E-9", "email": "ana@example.com",
            "phone": "+1 416 555 0100", "is_active": False}
    response = api(admin).put(url(organization, f"workers/{worker.pk}/"), body)
    assert response.status_code == 200, response.content
    again = api(admin).get(url(organization, f"workers/{worker.pk}/")).json()
    assert {key: again[key] for key in body} == body


@RESOURCES
def test_records_cannot_be_deleted(api, admin, organization, resource):
    record = resource.make(organization)
    response = api(admin).delete(url(organization, f"{resource.path}{record.pk}/"))
    assert response.status_code == 405
    assert api(admin).get(url(organization, f"{resource.path}{record.pk}/")).status_code == 200


@RESOURCES
def test_a_duplicate_number_in_the_same_organization_is_refused_naming_the_field(
    api, admin, organization, resource
):
    resource.make(organization, **{resource.number: resource.new[resource.number]})
    response = api(admin).post(url(organization, resource.path), resource.new)
    assert resource.number in errors_of(response)


@RESOURCES
def test_changing_a_number_to_a_taken_one_is_refused_naming_the_field(
    api, admin, organization, resource
):
    resource.make(organization, **{resource.number: "TAKEN-1"})
    record = resource.make(organization)
    response = api(admin).patch(url(organization, f"{resource.path}{record.pk}/"),
                                {resource.number: "TAKEN-1"})
    assert resource.number in errors_of(response)


@RESOURCES
def test_the_same_number_in_another_organization_is_fine(
    api, admin, organization, other_organization, resource
):
    resource.make(other_organization, **{resource.number: resource.new[resource.number]})
    response = api(admin).post(url(organization, resource.path), resource.new)
    assert response.status_code == 201, response.content


def test_projects_without_a_number_do_not_clash(api, admin, organization):
    client = api(admin)
    first = client.post(url(organization, "projects/"), {"name": "Shed", "code": ""})
    second = client.post(url(organization, "projects/"), {"name": "Garage", "code": ""})
    assert (first.status_code, second.status_code) == (201, 201)


def test_a_project_without_a_time_zone_uses_the_organizations(api, admin, organization):
    response = api(admin).post(url(organization, "projects/"), {"name": "Harbour Tower"})
    assert response.status_code == 201, response.content
    assert response.json()["time_zone"] == ""
    assert response.json()["effective_time_zone"] == organization.time_zone


def test_a_project_keeps_its_own_time_zone(api, admin, organization):
    response = api(admin).post(url(organization, "projects/"),
                               {"name": "Coast Depot", "time_zone": "America/Vancouver"})
    assert response.status_code == 201, response.content
    assert response.json()["effective_time_zone"] == "America/Vancouver"


def test_an_unknown_time_zone_is_refused_naming_time_zone(api, admin, organization):
    response = api(admin).post(url(organization, "projects/"),
                               {"name": "Harbour Tower", "time_zone": "Mars/Olympus"})
    assert "time_zone" in errors_of(response)


def test_changing_to_an_unknown_time_zone_is_refused_naming_time_zone(
    api, admin, organization, project
):
    response = api(admin).patch(url(organization, f"projects/{project.pk}/"),
                                {"time_zone": "EST5"})
    assert "time_zone" in errors_of(response)
    project.refresh_from_db()
    assert project.time_zone == ""


def test_changing_a_projects_time_zone_moves_its_shifts_to_their_local_work_date(
    api, admin, organization, project
):
    # 01:30 in Toronto on June 4th is still 22:30 on June 3rd in Vancouver.
    shift = factories.ShiftFactory(organization=organization, project=project,
                                   start=local(TORONTO, 2026, 6, 4, 1, 30))
    response = api(admin).patch(url(organization, f"projects/{project.pk}/"),
                                {"time_zone": "America/Vancouver"})
    assert response.status_code == 200, response.content
    moved = api(admin).get(url(organization, f"shifts/{shift.pk}/")).json()
    assert moved["work_date"] == "2026-06-03"
    assert moved["version"] == 2


def test_a_blank_name_is_refused_naming_name(api, admin, organization):
    response = api(admin).post(url(organization, "workers/"), {"name": ""})
    assert "name" in errors_of(response)


def test_a_bad_worker_email_is_refused_naming_email(api, admin, organization):
    response = api(admin).post(url(organization, "workers/"),
                               {"name": "Ana Silva", "email": "ana at example"})
    assert "email" in errors_of(response)


@pytest.mark.parametrize(
    ("path", "factory", "fields", "term"),
    [
        ("projects/", factories.ProjectFactory, {"name": "Harbour Tower"}, "harbour"),
        ("projects/", factories.ProjectFactory, {"code": "HT-417"}, "ht-4"),
        ("workers/", factories.WorkerFactory, {"name": "Ana Silva"}, "SILVA"),
        ("workers/", factories.WorkerFactory, {"employee_number": "EMP-5521"}, "mp-55"),
        ("workers/", factories.WorkerFactory, {"email": "ana.silva@example.com"}, "ana.silva"),
        ("cost-codes/", factories.CostCodeFactory, {"code": "CF-300"}, "cf-3"),
        ("cost-codes/", factories.CostCodeFactory, {"name": "Rebar placing"}, "rebar"),
    ],
    ids=["project-name", "project-number", "worker-name", "worker-number", "worker-email",
         "cost-code", "cost-code-name"],
)
def test_search_finds_records_by_part_of_a_name_or_number(
    api, admin, organization, path, factory, fields, term
):
    wanted = factory(organization=organization, **fields)
    factory(organization=organization, name="Unrelated")
    assert ids(api(admin).get(url(organization, path), {"search": term})) == [wanted.pk]


@RESOURCES
@pytest.mark.parametrize(("active", "wanted"), [("true", "on"), ("false", "off")])
def test_active_filter_lists_only_active_or_only_inactive_records(
    api, admin, organization, resource, active, wanted
):
    records = {"on": resource.make(organization, is_active=True),
               "off": resource.make(organization, is_active=False)}
    listed = ids(api(admin).get(url(organization, resource.path), {"active": active}))
    assert listed == [records[wanted].pk]


@RESOURCES
def test_without_the_active_filter_inactive_records_are_listed_too(
    api, admin, organization, resource
):
    resource.make(organization, is_active=True)
    resource.make(organization, is_active=False)
    assert len(ids(api(admin).get(url(organization, resource.path)))) == 2


def test_deactivating_a_worker_takes_them_off_the_active_list(api, admin, organization, worker):
    response = api(admin).patch(url(organization, f"workers/{worker.pk}/"), {"is_active": False})
    assert response.status_code == 200, response.content
    assert ids(api(admin).get(url(organization, "workers/"), {"active": "true"})) == []


def test_a_duplicate_number_is_explained_without_database_internals(api, admin, organization):
    factories.ProjectFactory(organization=organization, code="HT-001")
    response = api(admin).post(url(organization, "projects/"),
                               {"name": "Harbour Tower", "code": "HT-001"})
    text = str(errors_of(response))
    assert "constraint" not in text
    assert "DETAIL" not in text
