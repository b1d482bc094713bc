"""The integrations API as an API client uses it: connect Plexxis, link, preview, start runs,
read the logs and the CSV, the dashboard week, and disconnect."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.db import connection

from tests import factories
from timesync import crypto
from timesync.models import (
    CostCodeLink,
    ExternalRecord,
    Integration,
    ProjectLink,
    Role,
    SyncRun,
    WorkerLink,
)
from timesync.sync import services as sync_services

from .conftest import API_KEY, WORK_DATE, run_to_completion

pytestmark = pytest.mark.django_db

SECRET = "s3cret-plexxis-key-7f2a"


def integrations_url(world, path: str = "") -> str:
    return f"/api/v1/orgs/{world.project.organization.slug}/integrations/{path}"


def url(world, path: str = "") -> str:
    """A path under the world's integration, e.g. url(world, "runs/")."""
    return integrations_url(world, f"{world.integration.pk}/{path}")


def rows(response) -> list[dict]:
    assert response.status_code == 200, (response.status_code, response.content)
    body = response.json()
    return body["results"] if isinstance(body, dict) and "results" in body else body


def member(world, role: str, projects=()):
    membership = factories.MembershipFactory(organization=world.project.organization, role=role)
    membership.assigned_projects.add(*projects)
    return membership


def start(client, world, project=None, day: date = WORK_DATE):
    return client.post(url(world, "runs/"), {"project": (project or world.project).pk,
                                             "work_date": day.isoformat()})


# --- Connecting -----------------------------------------------------------------------------


def test_creating_an_integration_never_returns_its_credentials(api, world):
    world.emulator.api_key = SECRET  # the key Plexxis accepts: the connection test passes
    response = api(world.admin).post(integrations_url(world), {
        "kind": "plexxis", "name": "Plexxis Head Office",
        "settings": {"base_url": world.emulator.base_url}, "credentials": {"api_key": SECRET},
    })
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["has_credentials"] is True
    assert "credentials" not in body
    assert SECRET not in response.content.decode()
    again = api(world.admin).get(integrations_url(world, f"{body['id']}/"))
    assert SECRET not in again.content.decode()
    assert again.json()["has_credentials"] is True


def test_an_integrations_credentials_are_not_stored_in_plain_text(api, world):
    world.emulator.api_key = SECRET
    response = api(world.admin).post(integrations_url(world), {
        "kind": "plexxis", "name": "Plexxis Head Office",
        "settings": {"base_url": world.emulator.base_url}, "credentials": {"api_key": SECRET},
    })
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT credentials_encrypted FROM {Integration._meta.db_table} "  # noqa: S608
                       "WHERE id = %s", [response.json()["id"]])
        (stored,) = cursor.fetchone()
    assert stored
    assert SECRET not in stored


@pytest.mark.parametrize("role", [Role.PAYROLL_ADMIN, Role.PROJECT_MANAGER, Role.VIEWER])
def test_only_an_admin_creates_an_integration(api, world, role):
    response = api(member(world, role)).post(integrations_url(world), {
        "kind": "plexxis", "name": "Plexxis Head Office", "credentials": {"api_key": SECRET},
    })
    assert response.status_code == 403, response.content
    assert not Integration.objects.filter(name="Plexxis Head Office").exists()


def test_refresh_links_links_workers_by_employee_number(api, world):
    dee = factories.WorkerFactory(organization=world.project.organization, name="Dee Park",
                                  employee_number="1003")
    world.emulator.seed(employees=[{"code": "1003", "first_name": "D.", "last_name": "Park"}])

    response = api(world.admin).post(url(world, "refresh-links/"))

    assert response.status_code == 200, response.content
    assert response.json()["workers_linked"] == 3
    assert response.json()["workers_unmatched"] == ["Cy Unknown"]
    links = {row["worker_name"]: row for row in rows(api(world.admin).get(url(world,
                                                                              "worker-links/")))}
    assert (links["Dee Park"]["worker"], links["Dee Park"]["remote_worker_id"],
            links["Dee Park"]["matched_by"]) == (dee.pk, "1003", "employee_number")
    assert "Cy Unknown" not in links


def test_refresh_links_is_for_admins(api, world):
    response = api(world.payroll).post(url(world, "refresh-links/"))
    assert response.status_code == 403


# --- Preview --------------------------------------------------------------------------------


def test_preview_counts_creates_and_skips_and_names_the_skipped_worker(api, world):
    world.shift("ana")
    world.shift("ben")
    world.shift("cy")

    response = api(world.payroll).get(url(world, "preview/"), {
        "project": world.project.pk, "work_date": WORK_DATE.isoformat()})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["creates"], body["updates"], body["deletes"], body["skips"]) == (2, 0, 0, 1)
    skipped = [line for line in body["lines"] if line["action"] == "skip"]
    assert [line["worker"] for line in skipped] == ["Cy Unknown"]
    assert "not found in Plexxis" in skipped[0]["reason"]


def test_preview_writes_nothing(api, world):
    world.shift("ana")
    world.shift("cy")

    api(world.payroll).get(url(world, "preview/"), {
        "project": world.project.pk, "work_date": WORK_DATE.isoformat()})

    assert world.emulator.entries() == []
    assert world.emulator.request_count("POST") == 0
    assert not SyncRun.objects.exists()
    assert not ExternalRecord.objects.exists()


def test_preview_without_a_day_names_the_missing_field(api, world):
    response = api(world.payroll).get(url(world, "preview/"), {"project": world.project.pk})
    assert response.status_code == 400
    assert "work_date" in response.json()["errors"]


# --- Starting runs --------------------------------------------------------------------------


def test_posting_a_run_queues_it(api, world):
    world.shift("ana")
    response = start(api(world.payroll), world)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "queued"
    assert (body["project"], body["work_date"], body["action"]) \
        == (world.project.pk, WORK_DATE.isoformat(), "Timecard Sync")


def test_a_queued_run_when_executed_sends_the_day(api, world):
    world.shift("ana")
    run_id = start(api(world.payroll), world).json()["id"]
    run_to_completion(run_id)
    body = api(world.payroll).get(url(world, f"runs/{run_id}/")).json()
    assert (body["state"], body["created_count"]) == ("succeeded", 1)
    assert [e["employee_code"] for e in world.remote_entries()] == ["1001"]


def test_posting_the_same_run_again_while_it_is_active_returns_that_run(api, world):
    first = start(api(world.payroll), world)
    second = start(api(world.admin), world)
    assert second.status_code == 200, second.content
    assert second.json()["id"] == first.json()["id"]
    assert SyncRun.objects.count() == 1


def test_posting_the_same_run_after_it_finished_starts_a_new_one(api, world):
    first = start(api(world.payroll), world).json()["id"]
    run_to_completion(first)
    second = start(api(world.payroll), world)
    assert second.status_code == 201
    assert second.json()["id"] != first


def test_a_viewer_cannot_start_a_run(api, world):
    response = start(api(member(world, Role.VIEWER)), world)
    assert response.status_code == 403
    assert not SyncRun.objects.exists()


def test_a_project_manager_starts_a_run_for_an_assigned_project(api, world):
    manager = member(world, Role.PROJECT_MANAGER, projects=[world.project])
    response = start(api(manager), world)
    assert response.status_code == 201, response.content


def test_a_project_manager_cannot_start_a_run_for_a_project_not_assigned(api, world):
    other = factories.ProjectFactory(organization=world.project.organization)
    manager = member(world, Role.PROJECT_MANAGER, projects=[other])
    response = start(api(manager), world)
    assert response.status_code == 400
    assert "project" in response.json()["errors"]
    assert not SyncRun.objects.exists()


def test_a_project_of_another_organization_is_an_unknown_project(api, world):
    foreign = factories.ProjectFactory()
    response = start(api(world.payroll), world, project=foreign)
    assert response.status_code == 400
    assert "project" in response.json()["errors"]


# --- Reading runs ---------------------------------------------------------------------------


@pytest.fixture
def three_runs(world):
    """June 1 synced (nothing to send), June 3 queued, and the Parkade's June 3 queued."""
    parkade = factories.ProjectFactory(organization=world.project.organization, code="24-102",
                                       name="Harbour Parkade")
    done = run_to_completion(world.start_run(day=date(2026, 6, 1)).pk)
    queued = world.start_run()
    parkade_run = world.start_run(project=parkade)
    return {"done": done.pk, "queued": queued.pk, "parkade": parkade_run.pk,
            "parkade_id": parkade.pk}


@pytest.mark.parametrize(("query", "expected"), [
    ({}, {"done", "queued", "parkade"}),
    ({"project": "parkade_id"}, {"parkade"}),
    ({"date_from": "2026-06-02"}, {"queued", "parkade"}),
    ({"date_to": "2026-06-02"}, {"done"}),
    ({"date_from": "2026-06-01", "date_to": "2026-06-01"}, {"done"}),
    ({"state": "succeeded"}, {"done"}),
    ({"state": "queued"}, {"queued", "parkade"}),
])
def test_runs_list_filters(api, world, three_runs, query, expected):
    query = {k: three_runs[v] if v == "parkade_id" else v for k, v in query.items()}
    listed = {row["id"] for row in rows(api(world.payroll).get(url(world, "runs/"), query))}
    assert listed == {three_runs[name] for name in expected}


@pytest.mark.parametrize(("query", "field"), [
    ({"state": "done"}, "state"),
    ({"project": "tower"}, "project"),
    ({"date_from": "June 1"}, "date_from"),
    ({"date_to": "2026-02-30"}, "date_to"),
    ({"date_from": "2026-06-05", "date_to": "2026-06-01"}, "date_to"),
])
def test_a_bad_runs_filter_is_a_400_naming_the_field(api, world, query, field):
    response = api(world.payroll).get(url(world, "runs/"), query)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_a_project_manager_lists_only_their_projects_runs(api, world, three_runs):
    manager = member(world, Role.PROJECT_MANAGER, projects=[world.project])
    listed = {row["id"] for row in rows(api(manager).get(url(world, "runs/")))}
    assert listed == {three_runs["done"], three_runs["queued"]}


def test_a_runs_entries_are_its_lines(api, world):
    world.shift("ana", hours=8.5)
    world.shift("cy")
    run_id = start(api(world.payroll), world).json()["id"]
    run_to_completion(run_id)

    lines = rows(api(world.payroll).get(url(world, f"runs/{run_id}/entries/")))

    assert sorted((line["worker_name"], line["outcome"]) for line in lines) == [
        ("Ana Silva", "created"), ("Cy Unknown", "skipped")]
    ana = next(line for line in lines if line["worker_name"] == "Ana Silva")
    assert (ana["employee_number"], ana["hours"]) == ("1001", "8.00")
    assert ana["remote_id"] == world.remote_entries()[0]["id"]


def _run_with_lines(api, world) -> int:
    world.shift("ana")
    world.shift("cy")
    run_id = start(api(world.payroll), world).json()["id"]
    run_to_completion(run_id)
    return run_id


def test_a_runs_csv_streams_as_text_csv_with_a_header_row(api, world):
    run_id = _run_with_lines(api, world)

    response = api(world.payroll).get(url(world, f"runs/{run_id}/csv/"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert response.streaming
    parsed = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert parsed[0][:4] == ["Action", "Integration", "Project", "Timesheet Date"]
    assert len(parsed) == 1 + 2


def test_a_runs_csv_is_served_to_a_client_that_asks_for_text_csv(api, world):
    # What curl -H 'Accept: text/csv', or a client generated from the schema (which documents
    # this response as text/csv), sends.
    run_id = _run_with_lines(api, world)

    response = api(world.payroll).get(url(world, f"runs/{run_id}/csv/"), HTTP_ACCEPT="text/csv")

    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")


def test_a_run_of_another_integration_is_not_found(api, world):
    other = sync_services.integration_create(actor=world.admin, kind="plexxis",
                                             name="Plexxis Other")
    run_id = _run_with_lines(api, world)
    response = api(world.payroll).get(
        integrations_url(world, f"{other.pk}/runs/{run_id}/"))
    assert response.status_code == 404


# --- The dashboard week ---------------------------------------------------------------------


def test_cells_of_a_week_are_seven_per_active_project(api, world):
    parkade = factories.ProjectFactory(organization=world.project.organization,
                                       name="Harbour Parkade")
    factories.ProjectFactory(organization=world.project.organization, name="Old Mill",
                             is_active=False)
    world.shift("ana")

    response = api(world.payroll).get(url(world, "cells/"), {"week": "2026-06-03"})

    assert response.status_code == 200, response.content
    cells = response.json()
    monday = date(2026, 6, 1)
    assert sorted((c["project_id"], c["work_date"]) for c in cells) == sorted(
        (project.pk, (monday + timedelta(days=n)).isoformat())
        for project in (world.project, parkade) for n in range(7)
    )
    ready = next(c for c in cells
                 if (c["project_id"], c["work_date"]) == (world.project.pk, "2026-06-03"))
    assert (ready["status"], ready["workers"]) == ("ready", 1)


def test_cells_with_a_bad_week_name_the_field(api, world):
    response = api(world.payroll).get(url(world, "cells/"), {"week": "next"})
    assert response.status_code == 400
    assert "week" in response.json()["errors"]


# --- Project links --------------------------------------------------------------------------


def _tower_link(api, world) -> dict:
    links = rows(api(world.payroll).get(url(world, "project-links/")))
    return next(link for link in links if link["project"] == world.project.pk)


def test_a_payroll_admin_turns_on_sync_only_approved(api, world):
    link = _tower_link(api, world)
    response = api(world.payroll).patch(url(world, f"project-links/{link['id']}/"),
                                        {"sync_only_approved": True})
    assert response.status_code == 200, response.content
    assert response.json()["sync_only_approved"] is True
    assert _tower_link(api, world)["sync_only_approved"] is True


def test_a_viewer_cannot_change_a_project_link(api, world):
    link = _tower_link(api, world)
    response = api(member(world, Role.VIEWER)).patch(
        url(world, f"project-links/{link['id']}/"), {"sync_only_approved": True})
    assert response.status_code == 403
    assert ProjectLink.objects.get(pk=link["id"]).sync_only_approved is False


# --- Disconnecting --------------------------------------------------------------------------


def test_disconnect_removes_links_and_credentials(api, world):
    response = api(world.admin).post(url(world, "disconnect/"))
    assert response.status_code == 200, response.content
    assert (response.json()["is_connected"], response.json()["has_credentials"]) \
        == (False, False)
    integration = world.integration
    assert not ProjectLink.objects.filter(integration=integration).exists()
    assert not WorkerLink.objects.filter(integration=integration).exists()
    assert not CostCodeLink.objects.filter(integration=integration).exists()
    integration.refresh_from_db()
    assert integration.credentials_encrypted == ""


def test_disconnect_is_for_admins(api, world):
    response = api(world.payroll).post(url(world, "disconnect/"))
    assert response.status_code == 403
    assert WorkerLink.objects.filter(integration=world.integration).exists()


def test_a_run_of_a_disconnected_integration_answers_409_saying_to_connect_it_again(api, world):
    api(world.admin).post(url(world, "disconnect/"))
    response = start(api(world.payroll), world)
    assert response.status_code == 409, response.content
    assert "connect it again first" in response.json()["detail"]
    assert response.json()["code"] == "integration_disconnected"
    assert not SyncRun.objects.exists()


def test_a_disconnected_integration_can_be_connected_again_with_new_credentials(api, world):
    # The refusal above says "connect it again first": giving the API key again is how an
    # admin would (there is no other way in the API).
    api(world.admin).post(url(world, "disconnect/"))
    response = api(world.admin).patch(url(world), {"credentials": {"api_key": API_KEY}})
    assert response.status_code == 200, response.content
    assert response.json()["is_connected"] is True


# --- A remote's fault answers readable JSON, never a 500 ------------------------------------


def test_refresh_links_with_plexxis_down_answers_503_with_the_reason(api, world):
    world.emulator.stop()

    response = api(world.admin).post(url(world, "refresh-links/"))

    assert response.status_code == 503, response.content
    assert response.json()["code"] == "remote_unavailable"
    assert "Could not reach Plexxis" in response.json()["detail"]


def test_refresh_links_that_plexxis_asks_to_retry_later_answers_503_with_retry_after(api, world):
    world.emulator.inject("rate_limit", seconds=30, count=None)

    response = api(world.admin).post(url(world, "refresh-links/"))

    assert response.status_code == 503, response.content
    assert 25 <= int(response["Retry-After"]) <= 30
    assert "429" in response.json()["detail"]


def test_refresh_links_with_the_key_refused_answers_502_saying_plexxis_refused_it(api, world):
    world.emulator.api_key = "rotated-in-plexxis"

    response = api(world.admin).post(url(world, "refresh-links/"))

    assert response.status_code == 502, response.content
    assert response.json()["code"] == "remote_refused"
    assert "Plexxis refused the API key (401)" in response.json()["detail"]


def test_refresh_links_of_a_disconnected_integration_answers_409(api, world):
    api(world.admin).post(url(world, "disconnect/"))
    before = world.emulator.request_count()

    response = api(world.admin).post(url(world, "refresh-links/"))

    assert response.status_code == 409, response.content
    assert "connect it again first" in response.json()["detail"]
    assert world.emulator.request_count() == before


def test_test_connection_answers_200_when_the_key_works(api, world):
    response = api(world.admin).post(url(world, "test-connection/"))

    assert response.status_code == 200, response.content
    assert "the address and the credentials work" in response.json()["detail"]


def test_test_connection_with_plexxis_down_answers_503(api, world):
    world.emulator.stop()
    response = api(world.admin).post(url(world, "test-connection/"))
    assert response.status_code == 503, response.content
    assert "Could not reach Plexxis" in response.json()["detail"]


def test_test_connection_with_the_key_refused_answers_502(api, world):
    world.emulator.api_key = "rotated-in-plexxis"
    response = api(world.admin).post(url(world, "test-connection/"))
    assert response.status_code == 502, response.content
    assert "Plexxis refused the API key (401)" in response.json()["detail"]


def test_test_connection_of_a_disconnected_integration_answers_409(api, world):
    api(world.admin).post(url(world, "disconnect/"))
    response = api(world.admin).post(url(world, "test-connection/"))
    assert response.status_code == 409, response.content
    assert "connect it again first" in response.json()["detail"]


def test_test_connection_is_for_admins(api, world):
    assert api(world.payroll).post(url(world, "test-connection/")).status_code == 403


def test_runs_of_a_disconnected_integration_are_still_listed(api, world, three_runs):
    api(world.admin).post(url(world, "disconnect/"))
    assert len(rows(api(world.payroll).get(url(world, "runs/")))) == 3


# --- Connecting and configuring through the API test the remote first -----------------------


def test_connecting_with_a_key_plexxis_refuses_answers_502_and_creates_nothing(api, world):
    response = api(world.admin).post(integrations_url(world), {
        "kind": "plexxis", "name": "Plexxis Head Office",
        "settings": {"base_url": world.emulator.base_url}, "credentials": {"api_key": SECRET},
    }, format="json")

    assert response.status_code == 502, response.content
    assert "Plexxis refused the API key (401)" in response.json()["detail"]
    assert not Integration.objects.filter(name="Plexxis Head Office").exists()


def test_connecting_without_credentials_names_the_field(api, world):
    response = api(world.admin).post(integrations_url(world), {
        "kind": "plexxis", "name": "Plexxis Head Office",
        "settings": {"base_url": world.emulator.base_url},
    }, format="json")
    assert response.status_code == 400, response.content
    assert "credentials" in response.json()["errors"]


def test_a_new_key_through_the_api_that_plexxis_refuses_changes_nothing(api, world):
    response = api(world.admin).patch(url(world), {"name": "Renamed",
                                                   "credentials": {"api_key": "wrong"}},
                                      format="json")

    assert response.status_code == 502, response.content
    world.integration.refresh_from_db()
    assert world.integration.name == "Plexxis V2"
    assert crypto.decrypt_json(world.integration.credentials_encrypted)["api_key"] == API_KEY


def test_a_new_address_through_the_api_that_does_not_answer_changes_nothing(api, world):
    response = api(world.admin).patch(
        url(world), {"settings": {"base_url": "http://127.0.0.1:9/api/v1"}}, format="json")

    assert response.status_code == 503, response.content
    world.integration.refresh_from_db()
    assert world.integration.settings["base_url"] == world.emulator.base_url


def test_a_change_without_address_or_key_through_the_api_does_not_ask_plexxis(api, world):
    before = world.emulator.request_count()

    response = api(world.admin).patch(url(world), {"schedule_enabled": True}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["schedule_enabled"] is True
    assert world.emulator.request_count() == before


def test_another_organizations_integration_is_404_on_refresh_links(api, world):
    outsider = factories.MembershipFactory(role=Role.ADMIN)
    response = api(outsider).post(
        f"/api/v1/orgs/{outsider.organization.slug}/integrations/{world.integration.pk}"
        "/refresh-links/")
    assert response.status_code == 404


def test_an_integration_says_how_current_its_catalog_is(api, world):
    body = api(world.payroll).get(url(world)).json()

    assert body["catalog"]["fetched_at"] is not None
    assert (body["catalog"]["fetching"], body["catalog"]["error"]) == (False, "")
