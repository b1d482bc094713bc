"""An integration's settings hold only what its connector declares, with their types and
bounds, whoever writes them (the API, the pages, a service call): finding 8 of issue 8 (any
JSON was kept, even an `api_key` in clear, and returned to every role, viewers included) and
the bounds of finding 13 (`schedule_days_back` took any small integer)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from tests import factories
from tests.timesync.sync.conftest import API_KEY
from tests.timesync.sync.conftest import emulator as emulator
from tests.timesync.sync.conftest import world as world
from timesync.models import Integration, Role
from timesync.sync import services as sync_services

pytestmark = pytest.mark.django_db
SECRET = "clear-text-secret-9c1e"


def integrations_url(world, path: str = "") -> str:
    return f"/api/v1/orgs/{world.project.organization.slug}/integrations/{path}"


def url(world) -> str:
    return integrations_url(world, f"{world.integration.pk}/")


def stored_settings(world) -> dict:
    world.integration.refresh_from_db()
    return world.integration.settings


def test_a_secret_in_the_settings_is_refused_with_a_field_error_naming_credentials(api, world):
    before = stored_settings(world)

    response = api(world.admin).patch(url(world), {"settings": {
        "base_url": world.emulator.base_url, "api_key": SECRET}}, format="json")

    assert response.status_code == 400, response.content
    body = response.content.decode()
    assert "api_key is not a setting of Plexxis" in body
    assert "Secrets belong in credentials" in body
    assert stored_settings(world) == before


def test_connecting_with_a_secret_in_the_settings_creates_nothing(api, world):
    response = api(world.admin).post(integrations_url(world), {
        "kind": "plexxis", "name": "Plexxis Two", "credentials": {"api_key": API_KEY},
        "settings": {"base_url": world.emulator.base_url, "password": SECRET},
    }, format="json")

    assert response.status_code == 400, response.content
    assert "password is not a setting of Plexxis" in response.content.decode()
    assert not Integration.objects.filter(name="Plexxis Two").exists()


@pytest.mark.parametrize("base_url", [5, ["https://plexxis.example.com"], {"url": "x"}, True])
def test_an_address_that_is_not_text_is_a_field_error(api, world, base_url):
    response = api(world.admin).patch(url(world), {"settings": {"base_url": base_url}},
                                      format="json")

    assert response.status_code == 400, response.content
    assert "base_url" in response.json() or "base_url" in response.content.decode()


def test_an_address_longer_than_the_page_takes_is_a_field_error(api, world):
    response = api(world.admin).patch(url(world), {"settings": {
        "base_url": "https://plexxis.example.com/" + "a" * 300}}, format="json")

    assert response.status_code == 400, response.content
    assert "at most 300 characters" in response.content.decode()


@pytest.mark.parametrize("value", [[], "base_url=https://x", 7])
def test_settings_that_are_not_an_object_are_refused_by_the_service(world, value):
    with pytest.raises(ValidationError) as refused:
        sync_services.integration_update(actor=world.admin, integration=world.integration,
                                         settings=value)

    assert "settings" in refused.value.message_dict


def test_viewers_read_only_the_declared_settings_of_data_written_before_the_rules(api, world):
    Integration.objects.filter(pk=world.integration.pk).update(settings={
        "base_url": world.emulator.base_url, "api_key": SECRET, "note": "legacy"})
    migration = importlib.import_module(
        "timesync.migrations.0006_integration_settings_declared")
    migration.bring_within_the_rules(apps, None)
    viewer = factories.MembershipFactory(organization=world.project.organization,
                                         role=Role.VIEWER)

    response = api(viewer).get(url(world))

    assert response.status_code == 200
    assert response.json()["settings"] == {"base_url": world.emulator.base_url}
    assert SECRET not in response.content.decode()


@pytest.mark.parametrize("days_back", [32, 800000, -1])
def test_a_nightly_sync_further_back_than_a_month_is_a_field_error(api, world, days_back):
    response = api(world.admin).patch(url(world), {"schedule_days_back": days_back},
                                      format="json")

    assert response.status_code == 400, response.content
    assert "schedule_days_back" in response.content.decode()
    world.integration.refresh_from_db()
    assert world.integration.schedule_days_back == 1


@pytest.mark.parametrize("days_back", [0, 31])
def test_a_nightly_sync_up_to_a_month_back_is_kept(api, world, days_back):
    response = api(world.admin).patch(url(world), {"schedule_days_back": days_back},
                                      format="json")

    assert response.status_code == 200, response.content
    world.integration.refresh_from_db()
    assert world.integration.schedule_days_back == days_back


def test_the_service_itself_bounds_the_days_back(world):
    with pytest.raises(ValidationError) as refused:
        sync_services.integration_update(actor=world.admin, integration=world.integration,
                                         schedule_days_back=32)

    assert "schedule_days_back" in refused.value.message_dict


@pytest.mark.parametrize("rules", [["salary"], [], ["email", "email"], "email",
                                   ["email", "name", "employee_number", "email"]])
def test_worker_matching_takes_only_known_rules_each_once(world, rules):
    with pytest.raises(ValidationError) as refused:
        sync_services.integration_update(actor=world.admin, integration=world.integration,
                                         worker_matching=rules)

    assert "worker_matching" in refused.value.message_dict


def test_the_settings_page_says_the_days_back_are_too_many(client, world):
    client.force_login(world.admin.user)
    page_url = (f"/o/{world.project.organization.slug}/integrations/{world.integration.pk}"
                "/settings/")
    response = client.post(page_url, {
        "name": world.integration.name, "base_url": world.emulator.base_url, "api_key": "",
        "match_first": "employee_number", "hours_rounding": "none", "schedule_time": "02:00",
        "schedule_days_back": "32",
    })

    assert response.status_code == 200
    assert "Ensure this value is less than or equal to 31." in response.content.decode()


def test_rows_from_before_the_rules_are_brought_within_them(world):
    Integration.objects.filter(pk=world.integration.pk).update(
        settings=["not", "an", "object"], schedule_days_back=400)
    migration = importlib.import_module(
        "timesync.migrations.0006_integration_settings_declared")

    migration.bring_within_the_rules(apps, None)

    world.integration.refresh_from_db()
    assert (world.integration.settings, world.integration.schedule_days_back) == ({}, 31)
