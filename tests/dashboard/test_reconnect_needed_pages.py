""""Reconnect needed" wherever a sync is offered: the integrations list, the Sync Dashboard (a
banner saying why, no cell offered) and the project's card (no Sync Timesheet). Everyone in the
organization reads the reason; only those who may connect (admins, timesync.roles) get the
link to do it. Connecting again clears it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tests import factories
from tests.connectors.procore.stub_login import CLIENT_ID, CLIENT_SECRET, COMPANY_ID, stub_login
from tests.dashboard.helpers import visible_text
from timesync import crypto
from timesync.models import ApprovalState, Integration, Role

__all__ = ["stub_login"]
pytestmark = pytest.mark.django_db

WORK_DATE = date(2026, 6, 3)
REASON = ("Procore no longer accepts this connection's authorization: it was revoked, it "
          "expired or it was already used. Connect to Procore again.")
LINK_TEXT = "Reconnect to Procore"


@pytest.fixture
def organization():
    return factories.OrganizationFactory(time_zone="America/Toronto")


@pytest.fixture
def project(organization):
    return factories.ProjectFactory(organization=organization, name="King Street Tower",
                                    code="24-101")


@pytest.fixture
def procore(organization, project) -> Integration:
    """A Procore integration whose grant Procore stopped honouring, a linked project and an
    approved shift waiting to be sent on WORK_DATE."""
    integration = factories.ProcoreIntegrationFactory(
        organization=organization, settings={
            "api_base_url": "https://procore.example", "company_id": COMPANY_ID,
            "login_base_url": "https://procore.example", "grant": "client_credentials"},
        credentials_encrypted=crypto.encrypt_json({"client_id": CLIENT_ID,
                                                   "client_secret": CLIENT_SECRET}),
        reconnect_reason=REASON)
    factories.ProjectLinkFactory(integration=integration, project=project)
    factories.ShiftFactory(organization=organization, project=project,
                           start=datetime(2026, 6, 3, 11, tzinfo=UTC),
                           approval_state=ApprovalState.APPROVED)
    return integration


def member(organization, role: str, project=None):
    membership = factories.MembershipFactory(organization=organization, role=role)
    if project is not None:
        membership.assigned_projects.add(project)
    return membership


def dashboard(client, procore) -> str:
    page = client.get(f"/o/{procore.organization.slug}/integrations/{procore.pk}/dashboard/",
                      {"week": WORK_DATE.isoformat()})
    assert page.status_code == 200
    return page.content.decode()


def project_card(client, procore, project) -> str:
    page = client.get(f"/o/{procore.organization.slug}/projects/{project.pk}/",
                      {"date": WORK_DATE.isoformat()})
    assert page.status_code == 200
    html = page.content.decode()
    start = html.index(f'id="integration-{procore.pk}"')
    return html[start:html.index("</section>", start)]


def integration_list(client, procore) -> str:
    page = client.get(f"/o/{procore.organization.slug}/integrations/")
    assert page.status_code == 200
    return page.content.decode()


def reconnect_href(procore) -> str:
    return f'href="/o/{procore.organization.slug}/integrations/{procore.pk}/procore/authorize/"'


# --- The Sync Dashboard ---------------------------------------------------------------------


def test_the_dashboard_says_why_the_integration_must_be_connected_again(client, procore):
    client.force_login(member(procore.organization, Role.PAYROLL_ADMIN).user)

    text = visible_text(dashboard(client, procore))

    assert "Reconnect needed." in text
    assert REASON in text
    assert "Nothing syncs until it is." in text


def test_an_admin_gets_the_link_to_connect_procore_again_on_the_dashboard(client, procore):
    client.force_login(member(procore.organization, Role.ADMIN).user)

    html = dashboard(client, procore)

    assert reconnect_href(procore) in html
    assert LINK_TEXT in visible_text(html)


@pytest.mark.parametrize("role", [Role.PAYROLL_ADMIN, Role.PROJECT_MANAGER, Role.VIEWER])
def test_who_may_not_connect_reads_the_reason_without_the_link(client, procore, project, role):
    client.force_login(member(procore.organization, role, project=project).user)

    html = dashboard(client, procore)

    assert REASON in visible_text(html)
    assert reconnect_href(procore) not in html
    assert "An admin of" in visible_text(html)


def test_a_waiting_cell_is_not_offered_for_syncing_while_the_reconnect_stands(
    client, procore, project
):
    client.force_login(member(procore.organization, Role.PAYROLL_ADMIN).user)

    html = dashboard(client, procore)

    cell = html[html.index(f'id="cell-{project.pk}-{WORK_DATE:%Y%m%d}"'):]
    cell = cell[:cell.index("</div>")]
    assert '<button' not in cell
    assert "ready to sync" not in cell
    assert "reconnect needed" in cell
    assert "data-preview-url" not in html


def test_the_sync_dialog_offers_no_confirm_while_the_reconnect_stands(client, procore, project):
    client.force_login(member(procore.organization, Role.PAYROLL_ADMIN).user)

    dialog = client.get(
        f"/o/{procore.organization.slug}/integrations/{procore.pk}/dashboard/preview/",
        {"project": project.pk, "date": WORK_DATE.isoformat()})

    assert dialog.status_code == 200
    assert ">Confirm<" not in dialog.content.decode()


# --- The project's card ---------------------------------------------------------------------


def test_the_project_card_says_why_and_offers_no_sync_timesheet(client, procore, project):
    client.force_login(member(procore.organization, Role.PAYROLL_ADMIN).user)

    card = project_card(client, procore, project)

    assert REASON in visible_text(card)
    assert ">Sync Timesheet</button>" not in card
    assert reconnect_href(procore) not in card


def test_an_admin_gets_the_link_on_the_project_card(client, procore, project):
    client.force_login(member(procore.organization, Role.ADMIN).user)

    card = project_card(client, procore, project)

    assert reconnect_href(procore) in card
    assert ">Sync Timesheet</button>" not in card


# --- The integrations list ------------------------------------------------------------------


def test_the_integrations_list_shows_reconnect_needed_with_the_reason(client, procore):
    client.force_login(member(procore.organization, Role.PAYROLL_ADMIN).user)

    html = integration_list(client, procore)

    assert "Reconnect needed" in visible_text(html)
    assert REASON in visible_text(html)
    assert ">Connected<" not in html
    assert reconnect_href(procore) not in html


def test_an_admin_gets_the_link_on_the_integrations_list(client, procore):
    client.force_login(member(procore.organization, Role.ADMIN).user)

    assert reconnect_href(procore) in integration_list(client, procore)


# --- Connecting again -----------------------------------------------------------------------


def test_connecting_again_clears_reconnect_needed_and_offers_syncing_again(
    client, procore, project, stub_login
):
    procore.settings = {**procore.settings, "api_base_url": stub_login.url,
                        "login_base_url": stub_login.url}
    procore.save()
    admin = member(procore.organization, Role.ADMIN)
    client.force_login(admin.user)

    response = client.post(
        f"/o/{procore.organization.slug}/integrations/{procore.pk}/procore/authorize/")

    assert response.status_code == 302
    procore.refresh_from_db()
    assert procore.reconnect_reason == ""
    html = dashboard(client, procore)
    assert "Reconnect needed" not in visible_text(html)
    cell = html[html.index(f'id="cell-{project.pk}-{WORK_DATE:%Y%m%d}"'):]
    assert cell.startswith(f'id="cell-{project.pk}-{WORK_DATE:%Y%m%d}" class="cell cell-ready">'
                           '<button')
    assert ">Sync Timesheet</button>" in project_card(client, procore, project)
