"""Hostile and absurd input, as any member could send it: every case answers 400 with a readable
field error (a page: itself, with a message), never a 500; a viewer is told 403 before
anything in a write is read. The cases the probe and the fuzzer found (issue 8, findings 7 and
12), one behaviour per test, parametrized by input."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from connectors.plexxis.emulator import PlexxisEmulator
from tests import factories
from timesync import services, time_rules
from timesync.models import Integration, Role, Shift, SyncRun
from timesync.sync import services as sync_services

pytestmark = pytest.mark.django_db

TORONTO = ZoneInfo("America/Toronto")
API_KEY = "hostile-key"
HUGE_IDS = [2**63, 2**63 - 1 + 1, 99999999999999999999, 2**64]


@pytest.fixture
def emulator():
    emulator = PlexxisEmulator(api_key=API_KEY)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def org(emulator):
    """An organization with a project, a worker, a shift of yesterday, an integration to the
    local emulator and a run; an admin and a viewer."""
    organization = factories.OrganizationFactory(time_zone="America/Toronto")
    admin = factories.MembershipFactory(organization=organization, role=Role.ADMIN)
    viewer = factories.MembershipFactory(organization=organization, role=Role.VIEWER)
    project = factories.ProjectFactory(organization=organization, code="24-101")
    worker = factories.WorkerFactory(organization=organization)
    day = time_rules.today("America/Toronto") - timedelta(days=1)
    start = datetime(day.year, day.month, day.day, 7, tzinfo=TORONTO)
    shift = services.shift_create(actor=admin, worker=worker, project=project, start=start,
                                  end=start + timedelta(hours=8))
    integration = sync_services.integration_create(
        actor=admin, kind="plexxis", name="Plexxis V2",
        settings={"base_url": emulator.base_url}, credentials={"api_key": API_KEY})
    run = SyncRun.objects.create(organization=organization, integration=integration,
                                 project=project, work_date=day, trigger="api")

    class Org:
        pass

    o = Org()
    o.organization, o.admin, o.viewer, o.project, o.worker = (
        organization, admin, viewer, project, worker)
    o.shift, o.integration, o.run, o.day = shift, integration, run, day
    o.api = f"/api/v1/orgs/{organization.slug}/"
    o.integration_api = f"{o.api}integrations/{integration.pk}/"
    o.pages = f"/o/{organization.slug}/"
    return o


def problem_of(response, status: int = 400) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status, body
    assert body["detail"], body
    return body


def field_errors(response) -> dict:
    return problem_of(response)["errors"]


def page(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def shift_body(o, **changes) -> dict:
    start = datetime(o.day.year, o.day.month, o.day.day, 12)
    return {"worker": o.worker.pk, "project": o.project.pk,
            "start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat(),
            **changes}


# --- Finding 7: absurd input answers 400 --------------------------------------------------


def test_json_nested_five_thousand_deep_is_a_400(api, org):
    body = "[" * 5000 + "]" * 5000
    response = api(org.admin).generic("POST", f"{org.api}shifts/", body,
                                      content_type="application/json")
    assert "nested deeper" in problem_of(response)["detail"]


def test_json_nested_past_the_limit_inside_an_object_is_a_400(api, org):
    nested: object = 1
    for _ in range(40):
        nested = {"x": nested}
    response = api(org.admin).post(f"{org.api}shifts/", {"worker": nested}, format="json")
    assert "nested deeper" in problem_of(response)["detail"]


@pytest.mark.parametrize(("field", "value"), [
    ("start", "0001-01-01T00:00:00Z"),
    ("start", "9999-12-31T23:00"),
    ("start", "9999-12-31T23:59:59+14:00"),
    ("start", "1999-12-31T08:00:00Z"),
    ("end", "9999-12-31T23:00"),
    ("end", "0001-01-01T00:00:00-12:00"),
])
def test_a_shift_time_outside_the_sane_window_is_a_field_error(api, org, field, value):
    response = api(org.admin).post(f"{org.api}shifts/", shift_body(org, **{field: value}))
    assert field in field_errors(response)


def test_a_shift_in_the_year_after_next_is_refused(api, org):
    year = time_rules.latest_work_date().year + 1
    response = api(org.admin).post(f"{org.api}shifts/",
                                   shift_body(org, start=f"{year}-01-02T08:00",
                                              end=f"{year}-01-02T10:00"))
    assert "on or before" in field_errors(response)["start"][0]


def test_the_service_refuses_a_shift_outside_the_window_too(org):
    start = datetime(1999, 6, 1, 8, tzinfo=TORONTO)
    with pytest.raises(services.ValidationError) as refused:
        services.shift_create(actor=org.admin, worker=org.worker, project=org.project,
                              start=start, end=start + timedelta(hours=2))
    assert "start" in refused.value.message_dict


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00Z", "9999-12-31T23:00", "1970-01-01T00:00"])
def test_a_punch_outside_the_sane_window_is_a_field_error(api, org, at):
    other = factories.WorkerFactory(organization=org.organization)
    response = api(org.admin).post(f"{org.api}shifts/punch-in/",
                                   {"worker": other.pk, "project": org.project.pk, "at": at})
    assert "at" in field_errors(response)


@pytest.mark.parametrize("name", ["project", "worker"])
@pytest.mark.parametrize("value", [*HUGE_IDS, -1, 0])
def test_an_id_filter_out_of_range_is_a_field_error(api, org, name, value):
    response = api(org.admin).get(f"{org.api}shifts/", {name: value})
    assert name in field_errors(response)


@pytest.mark.parametrize("name", ["work_date", "date_from", "date_to"])
@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31"])
def test_a_date_filter_at_the_calendar_edges_is_a_field_error(api, org, name, value):
    response = api(org.admin).get(f"{org.api}shifts/", {name: value})
    assert name in field_errors(response)


@pytest.mark.parametrize("week", ["9999-12-31", "0001-01-01", "10000-01-01"])
def test_cells_of_an_absurd_week_is_a_field_error(api, org, week):
    response = api(org.admin).get(f"{org.integration_api}cells/", {"week": week})
    assert "week" in field_errors(response)


@pytest.mark.parametrize("work_date", ["9999-12-31", "0001-01-01", "1999-12-31"])
def test_a_sync_of_an_absurd_day_is_a_field_error(api, org, work_date):
    response = api(org.admin).post(f"{org.integration_api}runs/",
                                   {"project": org.project.pk, "work_date": work_date})
    assert "work_date" in field_errors(response)
    assert not SyncRun.objects.filter(work_date__year__in=[1, 1999, 9999]).exists()


@pytest.mark.parametrize("work_date", ["9999-12-31", "0001-01-01"])
def test_a_preview_of_an_absurd_day_is_a_field_error(api, org, work_date):
    response = api(org.admin).get(f"{org.integration_api}preview/",
                                  {"project": org.project.pk, "work_date": work_date})
    assert "work_date" in field_errors(response)


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_a_sync_of_an_absurd_day_from_the_dashboard_is_a_400(org, day):
    response = page(org.admin).post(f"{org.pages}integrations/{org.integration.pk}/dashboard/sync/",
                                    {"project": org.project.pk, "date": day})
    assert response.status_code == 400
    assert "Give a date on or" in response.content.decode()


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01"])
@pytest.mark.parametrize(("where", "parameter"), [
    ("home", "week"), ("project", "date"), ("dashboard", "week"),
])
def test_a_page_asked_for_an_absurd_day_shows_today_with_a_message(org, where, parameter,
                                                                   value):
    path = {"home": org.pages, "project": f"{org.pages}projects/{org.project.pk}/",
            "dashboard": f"{org.pages}integrations/{org.integration.pk}/dashboard/"}[where]
    response = page(org.admin).get(path, {parameter: value})
    assert response.status_code == 200
    assert f"{value} is out of range" in response.content.decode()


@pytest.mark.parametrize("projects", [
    ",".join(str(n) for n in range(1, 5000)),
    str(2**63),
    "99999999999999999999999",
])
def test_a_poll_for_absurd_projects_is_a_400(org, projects):
    response = page(org.admin).get(
        f"{org.pages}integrations/{org.integration.pk}/dashboard/poll/", {"projects": projects})
    assert response.status_code == 400


# --- Finding 12: the fuzzer's 500s ----------------------------------------------------------


@pytest.mark.parametrize("action", ["bulk-approve", "bulk-reject"])
@pytest.mark.parametrize("value", HUGE_IDS)
def test_a_bulk_decision_of_an_absurd_id_is_a_field_error(api, org, action, value):
    response = api(org.admin).post(f"{org.api}shifts/{action}/", {"shift_ids": [value]})
    assert "shift_ids" in field_errors(response)


@pytest.mark.parametrize("value", HUGE_IDS)
def test_a_runs_filter_of_an_absurd_project_is_a_field_error(api, org, value):
    response = api(org.admin).get(f"{org.integration_api}runs/", {"project": value})
    assert "project" in field_errors(response)


@pytest.mark.parametrize("value", HUGE_IDS)
def test_a_sync_of_an_absurd_project_id_is_a_field_error(api, org, value):
    response = api(org.admin).post(f"{org.integration_api}runs/",
                                   {"project": value, "work_date": org.day.isoformat()})
    assert "project" in field_errors(response)


PAGINATED = ["projects/", "workers/", "cost-codes/", "shifts/", "integrations/",
             "integrations/{i}/runs/", "integrations/{i}/project-links/",
             "integrations/{i}/worker-links/", "integrations/{i}/runs/{r}/entries/"]


@pytest.mark.parametrize("path", PAGINATED)
@pytest.mark.parametrize(("name", "value"), [
    ("limit", 2**63), ("limit", 0), ("limit", "x"), ("offset", 2**63), ("offset", -1),
])
def test_an_absurd_page_limit_or_offset_is_a_field_error(api, org, path, name, value):
    path = path.format(i=org.integration.pk, r=org.run.pk)
    response = api(org.admin).get(f"{org.api}{path}", {name: value})
    assert name in field_errors(response)


@pytest.mark.parametrize("settings_value", ["null", "[]", '"text"', "5", "{not json"])
@pytest.mark.parametrize("method", ["put", "patch"])
def test_settings_that_are_not_an_object_in_a_form_is_a_field_error(api, org, method,
                                                                    settings_value):
    body = {"kind": "plexxis", "name": "Plexxis V2", "settings": settings_value}
    response = getattr(api(org.admin), method)(org.integration_api, body, format="multipart")
    assert "settings" in field_errors(response)
    org.integration.refresh_from_db()
    assert org.integration.settings.get("base_url")


@pytest.mark.parametrize("settings_value", [None, [], "text", 5, {"base_url": 5},
                                            {"base_url": ["https://x"]}])
@pytest.mark.parametrize("method", ["put", "patch"])
def test_settings_that_are_not_an_object_in_json_is_a_field_error(api, org, method,
                                                                  settings_value):
    body = {"kind": "plexxis", "name": "Plexxis V2", "settings": settings_value}
    response = getattr(api(org.admin), method)(org.integration_api, body, format="json")
    assert "settings" in field_errors(response)


def test_settings_as_a_list_on_connect_is_a_field_error_not_dropped(api, org):
    response = api(org.admin).post(f"{org.api}integrations/", {
        "kind": "plexxis", "name": "Second", "settings": [],
        "credentials": {"api_key": API_KEY}}, format="json")
    assert "settings" in field_errors(response)
    assert not Integration.objects.filter(name="Second").exists()


def test_settings_as_json_text_in_a_form_is_read_as_the_object(api, org, emulator):
    response = api(org.admin).patch(
        org.integration_api, {"settings": json.dumps({"base_url": emulator.base_url})},
        format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["settings"] == {"base_url": emulator.base_url}


def test_refresh_links_against_a_remote_that_is_down_is_a_503_problem(api, org, emulator):
    emulator.stop()
    response = api(org.admin).post(f"{org.integration_api}refresh-links/")
    assert problem_of(response, 503)["code"] == "remote_unavailable"


def test_an_integration_created_without_credentials_is_not_connected(org, emulator):
    integration = sync_services.integration_create(
        actor=org.admin, kind="plexxis", name="No key", settings={"base_url": emulator.base_url})
    assert integration.is_connected is False


def test_connecting_through_the_api_without_credentials_is_a_field_error(api, org):
    response = api(org.admin).post(f"{org.api}integrations/", {
        "kind": "plexxis", "name": "No key", "settings": {"base_url": "https://x.test"}},
        format="json")
    assert "credentials" in field_errors(response)
    assert not Integration.objects.filter(name="No key").exists()


# A viewer is told 403 before the body is read: an invalid body (and a stale version) would
# otherwise answer 400 (or 409) and tell the viewer how close they came.
VIEWER_WRITES = [
    ("post", "projects/"), ("patch", "projects/{p}/"), ("put", "projects/{p}/"),
    ("post", "workers/"), ("patch", "workers/{w}/"), ("post", "cost-codes/"),
    ("post", "shifts/"), ("patch", "shifts/{s}/"), ("put", "shifts/{s}/"),
    ("delete", "shifts/{s}/"), ("post", "shifts/{s}/approve/"), ("post", "shifts/{s}/reject/"),
    ("post", "shifts/bulk-approve/"), ("post", "shifts/bulk-reject/"),
    ("post", "shifts/punch-in/"), ("post", "shifts/punch-out/"),
    ("post", "integrations/"), ("patch", "integrations/{i}/"),
    ("post", "integrations/{i}/disconnect/"), ("post", "integrations/{i}/refresh-links/"),
    ("post", "integrations/{i}/test-connection/"), ("post", "integrations/{i}/runs/"),
    ("post", "integrations/{i}/project-links/"), ("post", "integrations/{i}/worker-links/"),
]


@pytest.mark.parametrize(("method", "path"), VIEWER_WRITES)
@pytest.mark.parametrize("body", [
    {"shift_ids": [2**64], "version": 1, "start": "0001-01-01T00:00Z", "settings": None},
    {"version": 1},
])
def test_a_viewer_is_refused_403_before_the_body_is_read(api, org, method, path, body):
    path = path.format(p=org.project.pk, w=org.worker.pk, s=org.shift.pk, i=org.integration.pk)
    before = Shift.objects.get(pk=org.shift.pk).version
    response = getattr(api(org.viewer), method)(f"{org.api}{path}", body, format="json")
    assert problem_of(response, 403)["code"] == "permission_denied"
    assert Shift.objects.get(pk=org.shift.pk).version == before


def test_a_stale_version_from_a_viewer_is_a_403_not_a_409(api, org):
    response = api(org.viewer).patch(f"{org.api}shifts/{org.shift.pk}/",
                                     {"notes": "x", "version": org.shift.version + 5})
    assert response.status_code == 403


def test_the_sane_window_keeps_the_demo_data(org):
    first_of_demo = date.today() - timedelta(weeks=8)
    assert time_rules.outside_work_window(first_of_demo) is None
    assert time_rules.outside_work_window(date.today() + timedelta(days=7)) is None


@pytest.mark.parametrize("path", [
    "shifts/{n}/", "shifts/{n}/history/", "projects/{n}/", "workers/{n}/", "cost-codes/{n}/",
    "integrations/{n}/", "integrations/{n}/runs/", "integrations/{i}/runs/{n}/",
    "integrations/{i}/runs/{n}/csv/",
])
def test_an_absurd_id_in_the_path_is_a_404(api, org, path):
    path = path.format(n=2**64, i=org.integration.pk)
    response = api(org.admin).get(f"{org.api}{path}")
    assert problem_of(response, 404)["code"] == "not_found"
