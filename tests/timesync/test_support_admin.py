"""Support staff use the Django admin; tenant data there is read-only."""

import pytest

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))
    return client


def test_support_staff_can_open_every_admin_list(staff_client):
    factories.ShiftFactory()
    for model in ("user", "organization", "membership", "invitation", "project", "worker",
                  "costcode", "shift", "integration", "syncrun", "externalrecord",
                  "referencecatalog", "catalogitem", "integrationauditentry"):
        assert staff_client.get(f"/support/admin/timesync/{model}/").status_code == 200


def test_support_staff_read_a_sync_run_with_its_log_and_never_an_integrations_secret(
    staff_client
):
    from timesync import crypto
    from timesync.models import Integration, SyncLogEntry, SyncRun

    shift = factories.ShiftFactory()
    integration = Integration.objects.create(
        organization=shift.organization, kind="plexxis", name="Plexxis",
        settings={"base_url": "https://plexxis.example.com/api/v1"},
        credentials_encrypted=crypto.encrypt_json({"api_key": "s3cret-key"}),
    )
    run = SyncRun.objects.create(organization=shift.organization, integration=integration,
                                 project=shift.project, work_date=shift.work_date,
                                 trigger="api", state="succeeded")
    SyncLogEntry.objects.create(run=run, shift=shift, worker=shift.worker,
                                worker_name="Ana Silva", outcome="created", hours=8)

    page = staff_client.get(f"/support/admin/timesync/syncrun/{run.pk}/change/")
    assert page.status_code == 200
    assert b"Ana Silva" in page.content
    assert b'name="_save"' not in page.content
    settings_page = staff_client.get(
        f"/support/admin/timesync/integration/{integration.pk}/change/")
    assert settings_page.status_code == 200
    assert integration.credentials_encrypted.encode() not in settings_page.content
    assert b"s3cret-key" not in settings_page.content


def test_support_staff_can_read_a_shift_but_not_change_it(staff_client):
    shift = factories.ShiftFactory()
    page = staff_client.get(f"/support/admin/timesync/shift/{shift.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    response = staff_client.post(f"/support/admin/timesync/shift/{shift.pk}/change/",
                                 {"break_minutes": 0})
    assert response.status_code == 403
    shift.refresh_from_db()
    assert shift.break_minutes == 30


def test_people_without_staff_status_cannot_enter_the_admin(client):
    client.force_login(factories.UserFactory())
    response = client.get("/support/admin/timesync/shift/")
    assert response.status_code == 302
    assert "/support/admin/login/" in response["Location"]
