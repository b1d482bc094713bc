"""Admins opt in to an email when a sync fails; other roles cannot."""

import pytest

from timesync.models import Role

pytestmark = pytest.mark.django_db


def test_an_admin_opts_in_to_sync_failure_emails(browser_client, admin):
    client = browser_client(admin)
    response = client.post(f"/o/{admin.organization.slug}/integrations/failure-emails/",
                           {"enabled": "true"}, follow=True)
    admin.refresh_from_db()
    assert admin.notify_sync_failures is True
    assert "You will get an email when a sync fails." in response.content.decode()


def test_a_payroll_admin_cannot_opt_in(browser_client, member):
    payroll = member(Role.PAYROLL_ADMIN)
    browser_client(payroll).post(f"/o/{payroll.organization.slug}/integrations/failure-emails/",
                                 {"enabled": "true"})
    payroll.refresh_from_db()
    assert payroll.notify_sync_failures is False
