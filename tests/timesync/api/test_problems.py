"""The API's contract for errors and the responses the schema describes: every error is an RFC
9457 problem (`application/problem+json`), every operation documents the errors it answers,
and the schema says what the non-paginated and nullable responses really are."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from django.test import Client

from tests import factories
from tests.timesync.api.helpers import TORONTO, url
from timesync import services, time_rules
from timesync.models import Role, Shift, SyncRun
from timesync.sync import services as sync_services

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


@pytest.fixture
def schema(api, admin):
    response = api(admin).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def operation(schema, path_end: str, method: str) -> dict:
    matches = [ops for name, ops in schema["paths"].items() if name.endswith(path_end)]
    assert len(matches) == 1, (path_end, len(matches))
    return matches[0][method]


def shifts_of(admin, count: int, worker=None, project=None) -> list:
    worker = worker or factories.WorkerFactory(organization=admin.organization)
    project = project or factories.ProjectFactory(organization=admin.organization)
    day = time_rules.today("America/Toronto") - timedelta(days=2)
    first = datetime(day.year, day.month, day.day, 0, tzinfo=TORONTO)
    return [services.shift_create(actor=admin, worker=worker, project=project,
                                  start=first + timedelta(minutes=n), end=first + timedelta(
                                      minutes=n + 1)) for n in range(count)]


# --- One shape ------------------------------------------------------------------------------


def test_a_validation_error_is_a_problem_with_field_errors(api, admin):
    response = api(admin).post(url(admin.organization, "projects/"), {})
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["type"].startswith("urn:timesync:problem:")
    assert body["title"] == "Bad Request"
    assert body["status"] == 400
    assert body["errors"]["name"] == ["This field is required."]
    assert body["detail"] == "name: This field is required."


def test_not_signed_in_is_a_401_problem(api, admin):
    response = api().get(url(admin.organization, "projects/"))
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "not_authenticated"


def test_a_role_refusal_is_a_403_problem_with_its_reason(api, member):
    viewer = member(Role.VIEWER)
    response = api(viewer).post(url(viewer.organization, "projects/"), {"name": "X"})
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    assert "payroll admins" in response.json()["detail"]


def test_an_unknown_object_is_a_404_problem(api, admin):
    response = api(admin).get(url(admin.organization, "projects/999999/"))
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "not_found"


def test_a_stale_version_is_a_409_problem_with_the_current_version(api, admin):
    shift = shifts_of(admin, 1)[0]
    response = api(admin).patch(url(admin.organization, f"shifts/{shift.pk}/"),
                                {"notes": "late", "version": shift.version + 1})
    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["code"] == "stale_version"
    assert body["current_version"] == shift.version


def test_a_body_that_is_not_json_is_a_400_problem(api, admin):
    response = api(admin).generic("POST", url(admin.organization, "projects/"), "{oops",
                                  content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert "JSON parse error" in response.json()["detail"]


# --- The CSV download's errors --------------------------------------------------------------


@pytest.fixture
def run(admin):
    project = factories.ProjectFactory(organization=admin.organization)
    integration = sync_services.integration_create(actor=admin, kind="plexxis", name="P")
    return SyncRun.objects.create(organization=admin.organization, integration=integration,
                                  project=project, work_date=time_rules.today("UTC"),
                                  trigger="api")


def csv_url(run, run_id=None) -> str:
    return url(run.organization, f"integrations/{run.integration_id}/runs/"
                                 f"{run_id or run.pk}/csv/")


@pytest.mark.parametrize("accept", ["text/csv", "*/*"])
def test_the_csv_download_not_signed_in_is_a_401_problem_not_csv(api, run, accept):
    response = api().get(csv_url(run), HTTP_ACCEPT=accept)
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "not_authenticated"


def test_the_csv_download_of_an_unknown_run_is_a_404_problem_not_csv(api, admin, run):
    response = api(admin).get(csv_url(run, run_id=999999), HTTP_ACCEPT="text/csv")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM


def test_the_csv_download_asked_as_xml_is_a_406_problem(api, admin, run):
    response = api(admin).get(csv_url(run), HTTP_ACCEPT="application/xml")
    assert response.status_code == 406
    assert response["Content-Type"] == PROBLEM


def test_the_csv_download_still_streams_csv(api, admin, run):
    response = api(admin).get(csv_url(run), HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")


# --- A bulk of the documented 1,000 ids -----------------------------------------------------


def test_a_bulk_approval_of_a_thousand_ids_works(api, admin):
    project = factories.ProjectFactory(organization=admin.organization)
    # Written at once (the service writes one at a time, with history): the bulk is the test.
    day = time_rules.today("UTC") - timedelta(days=1)
    start = datetime(day.year, day.month, day.day, tzinfo=TORONTO)
    worker = factories.WorkerFactory(organization=admin.organization)
    shifts = Shift.objects.bulk_create(
        Shift(organization=admin.organization, project=project, worker=worker, work_date=day,
              start=start + timedelta(minutes=n), end=start + timedelta(minutes=n + 1),
              paid_seconds=60)
        for n in range(1000))
    response = api(admin).post(url(admin.organization, "shifts/bulk-approve/"),
                               {"shift_ids": [s.pk for s in shifts]}, format="json")
    assert response.status_code == 200, response.content[:300]
    assert len(response.json()) == 1000


def test_a_multipart_bulk_of_a_thousand_ids_is_read_whole(api, admin):
    # Django reads at most DATA_UPLOAD_MAX_NUMBER_FIELDS form fields; 1,000 ids and a reason
    # fit, and all are read: the answer names each id that is not a shift.
    response = api(admin).post(url(admin.organization, "shifts/bulk-approve/"),
                               {"shift_ids": list(range(10**6, 10**6 + 1000)),
                                "reason": "ok"}, format="multipart")
    message = response.json()["errors"]["shift_ids"][0]
    assert response.status_code == 400
    assert f"{10**6 + 999}." in message


def test_a_bulk_of_more_than_a_thousand_ids_is_a_field_error(api, admin):
    response = api(admin).post(url(admin.organization, "shifts/bulk-approve/"),
                               {"shift_ids": list(range(1, 1002))}, format="json")
    assert response.status_code == 400
    assert "shift_ids" in response.json()["errors"]


def test_a_multipart_body_past_django_s_field_limit_is_a_400_problem(admin):
    client = Client()
    client.force_login(admin.user)
    response = client.post(url(admin.organization, "shifts/bulk-approve/"),
                           {"shift_ids": list(range(1, 3000))})
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM


# --- What the schema says -------------------------------------------------------------------


def test_every_operation_documents_its_errors_as_problems(schema):
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            errors = {code: answer for code, answer in op["responses"].items()
                      if code.startswith(("4", "5"))}
            assert errors, f"{method} {path} documents no error"
            for code, answer in errors.items():
                assert answer["content"][PROBLEM]["schema"] == {
                    "$ref": "#/components/schemas/Problem"}, (method, path, code)


@pytest.mark.parametrize(("path", "method", "codes"), [
    ("/shifts/{shift_id}/", "patch", {"400", "401", "403", "404", "409"}),
    ("/shifts/bulk-approve/", "post", {"400", "401", "403", "404"}),
    ("/auth/token/", "post", {"400", "429"}),
    ("/integrations/{integration_id}/test-connection/", "post", {"409", "502", "503"}),
    ("/runs/{run_id}/csv/", "get", {"401", "404", "406"}),
])
def test_the_errors_an_operation_answers_are_documented(schema, path, method, codes):
    assert codes <= set(operation(schema, path, method)["responses"])


@pytest.mark.parametrize(("path", "method"), [
    ("/shifts/bulk-approve/", "post"),
    ("/shifts/bulk-reject/", "post"),
    ("/shifts/{shift_id}/history/", "get"),
    ("/integrations/{integration_id}/cells/", "get"),
])
def test_a_plain_list_is_documented_as_an_array_without_paging(schema, path, method):
    op = operation(schema, path, method)
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
    names = {parameter["name"] for parameter in op.get("parameters", [])}
    assert not names & {"limit", "offset"}


@pytest.mark.parametrize(("component", "field"), [
    ("Shift", "decided_by"), ("Shift", "cost_code_label"), ("SyncRun", "requested_by"),
])
def test_a_field_that_can_be_null_is_documented_nullable(schema, component, field):
    assert schema["components"]["schemas"][component]["properties"][field]["nullable"] is True


def test_the_page_limit_is_documented_with_its_bounds(schema):
    op = operation(schema, "/orgs/{organization_slug}/projects/", "get")
    limit = next(p for p in op["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 1000


# --- Django's own 404 and 500 under /api/ ---------------------------------------------------


def test_an_api_address_no_route_matches_is_a_404_problem(admin):
    client = Client()
    client.force_login(admin.user)
    response = client.get("/api/v1/orgs/not a slug!/projects/")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM


def test_a_page_address_no_route_matches_is_still_a_page(admin):
    client = Client()
    client.force_login(admin.user)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_bug_under_the_api_is_a_500_problem(admin, monkeypatch):
    from timesync.api import views

    def broken(self):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views.OrganizationListView, "get_queryset", broken)
    client = Client(raise_request_exception=False)
    client.force_login(admin.user)
    response = client.get("/api/v1/organizations/")
    assert response.status_code == 500
    assert response["Content-Type"] == PROBLEM
    assert "a bug" not in response.content.decode()
