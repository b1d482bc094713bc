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
                  "costcode", "shift"):
        assert staff_client.get(f"/support/admin/timesync/{model}/").status_code == 200


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
