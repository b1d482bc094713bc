"""Integration settings keep names unique and addresses safe."""

import pytest
from django.core.exceptions import ValidationError

from timesync.sync import services as sync_services

pytestmark = pytest.mark.django_db


def test_renaming_to_a_taken_name_names_the_field(world, api):
    other = sync_services.integration_create(actor=world.admin, kind="plexxis", name="Second")
    response = api(world.admin).patch(
        f"/api/v1/orgs/{world.project.organization.slug}/integrations/{other.pk}/",
        {"name": "Plexxis V2"}, format="json",
    )
    assert response.status_code == 400
    assert "name" in response.json()


def test_an_address_inside_our_network_is_refused(world, settings):
    settings.CONNECTOR_PRIVATE_HOSTS_ALLOWED = []
    with pytest.raises(ValidationError) as error:
        sync_services.integration_update(actor=world.admin, integration=world.integration,
                                         settings={"base_url": "https://10.1.2.3/api/v1"})
    assert "private address" in error.value.message_dict["base_url"][0]
