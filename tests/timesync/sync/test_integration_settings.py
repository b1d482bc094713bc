"""Integration settings keep names unique and addresses safe; connecting and reconfiguring test
the remote first, outside any transaction; one way in to an integration (another
organization's id is not found)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404

from connectors.base import PermanentError
from connectors.plexxis.client import PlexxisConnector
from tests import factories
from timesync import crypto
from timesync.models import Integration, Role
from timesync.sync import services as sync_services
from timesync.sync.remotes import remote_address_policy
from timesync.sync.selectors import IntegrationDisconnected, access_integration

from .conftest import API_KEY

pytestmark = pytest.mark.django_db


class TransactionSpy(PlexxisConnector):
    """The Plexxis connector, noting whether a database transaction was open at each call."""

    def __init__(self, base_url: str, api_key: str = API_KEY) -> None:
        super().__init__(base_url, api_key, policy=remote_address_policy())
        self.in_transaction: list[bool] = []

    def _note(self) -> None:
        self.in_transaction.append(connection.in_atomic_block)

    def test_connection(self) -> None:
        self._note()
        super().test_connection()

    def list_workers(self):
        self._note()
        return super().list_workers()


def test_renaming_to_a_taken_name_names_the_field(world, api):
    other = sync_services.integration_create(actor=world.admin, kind="plexxis", name="Second")
    response = api(world.admin).patch(
        f"/api/v1/orgs/{world.project.organization.slug}/integrations/{other.pk}/",
        {"name": "Plexxis V2"}, format="json",
    )
    assert response.status_code == 400
    assert "name" in response.json()["errors"]


def test_an_address_inside_our_network_is_refused(world, settings):
    settings.CONNECTOR_PRIVATE_HOSTS_ALLOWED = []
    with pytest.raises(ValidationError) as error:
        sync_services.integration_update(actor=world.admin, integration=world.integration,
                                         settings={"base_url": "https://10.1.2.3/api/v1"})
    assert "private address" in error.value.message_dict["base_url"][0]


def test_an_address_inside_our_network_is_refused_before_it_is_tested(world, settings):
    settings.CONNECTOR_PRIVATE_HOSTS_ALLOWED = []
    with pytest.raises(ValidationError) as error:  # not a connection error: nothing was called
        sync_services.integration_reconfigure(
            actor=world.admin, integration=world.integration,
            changes=sync_services.IntegrationChanges(
                settings={"base_url": "https://10.1.2.3/api/v1"}))
    assert "private address" in error.value.message_dict["base_url"][0]


def test_integration_update_takes_named_changes_only(world):
    # The old `**fields` would setattr anything, the organization included.
    other = factories.OrganizationFactory()
    with pytest.raises(TypeError):
        sync_services.integration_update(actor=world.admin, integration=world.integration,
                                         organization_id=other.pk)
    world.integration.refresh_from_db()
    assert world.integration.organization_id == world.admin.organization_id


# --- Connecting -----------------------------------------------------------------------------


def test_a_connect_the_remote_refuses_leaves_no_integration(world):
    with pytest.raises(PermanentError, match="refused the API key"):
        sync_services.integration_connect(
            actor=world.admin, kind="plexxis", name="Plexxis Two",
            settings={"base_url": world.emulator.base_url}, credentials={"api_key": "wrong"})
    assert not Integration.objects.filter(name="Plexxis Two").exists()


def test_a_connect_with_a_taken_name_is_refused_before_the_remote_is_asked(world):
    before = world.emulator.request_count()
    with pytest.raises(ValidationError):
        sync_services.integration_connect(
            actor=world.admin, kind="plexxis", name="Plexxis V2",
            settings={"base_url": world.emulator.base_url}, credentials={"api_key": API_KEY})
    assert world.emulator.request_count() == before


@pytest.mark.django_db(transaction=True)
def test_connecting_tests_the_key_outside_any_transaction(world):
    spy = TransactionSpy(world.emulator.base_url)

    sync_services.integration_connect(
        actor=world.admin, kind="plexxis", name="Plexxis Two",
        settings={"base_url": world.emulator.base_url}, credentials={"api_key": API_KEY},
        connector=spy)

    assert spy.in_transaction == [False]
    assert Integration.objects.filter(name="Plexxis Two").exists()


# --- Reconfiguring --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_new_key_is_tested_outside_any_transaction(world):
    spy = TransactionSpy(world.emulator.base_url)

    sync_services.integration_reconfigure(
        actor=world.admin, integration=world.integration,
        changes=sync_services.IntegrationChanges(credentials={"api_key": API_KEY}),
        connector=spy)

    assert spy.in_transaction == [False]


def test_a_new_key_the_remote_refuses_changes_nothing(world):
    with pytest.raises(PermanentError):
        sync_services.integration_reconfigure(
            actor=world.admin, integration=world.integration,
            changes=sync_services.IntegrationChanges(name="Renamed",
                                                     credentials={"api_key": "wrong"}))
    world.integration.refresh_from_db()
    assert world.integration.name == "Plexxis V2"
    assert crypto.decrypt_json(world.integration.credentials_encrypted)["api_key"] == API_KEY


def test_a_change_of_schedule_does_not_ask_the_remote(world):
    before = world.emulator.request_count()
    sync_services.integration_reconfigure(
        actor=world.admin, integration=world.integration,
        changes=sync_services.IntegrationChanges(schedule_enabled=True))
    assert world.emulator.request_count() == before
    assert world.integration.schedule_enabled is True


@pytest.mark.django_db(transaction=True)
def test_refresh_links_reads_the_remote_outside_any_transaction(world):
    spy = TransactionSpy(world.emulator.base_url)

    sync_services.integration_refresh_links(actor=world.admin, integration=world.integration,
                                            connector=spy)

    assert spy.in_transaction == [False]


# --- One way in -----------------------------------------------------------------------------


def test_another_organizations_integration_id_is_404_through_the_access_helper(world):
    outsider = factories.MembershipFactory(role=Role.ADMIN)
    with pytest.raises(Http404):
        access_integration(outsider, world.integration.pk)


def test_the_access_helper_refuses_a_disconnected_integration_when_asked(world):
    sync_services.integration_disconnect(actor=world.admin, integration=world.integration)
    with pytest.raises(IntegrationDisconnected, match="connect it again first"):
        access_integration(world.admin, world.integration.pk, connected=True)


def test_a_service_given_another_organizations_integration_finds_nothing(world):
    outsider = factories.MembershipFactory(role=Role.ADMIN)
    with pytest.raises(Http404):
        sync_services.integration_update(actor=outsider, integration=world.integration,
                                         name="Taken over")
    world.integration.refresh_from_db()
    assert world.integration.name == "Plexxis V2"
