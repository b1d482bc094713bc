"""`/qbwc/` as the Web Connector meets it: real SOAP over HTTP, sent by zeep loaded from Intuit's
WSDL, against a live server. Sign-in, tickets bound to one integration, nvu / none / busy, the
company file seen first, and hostile envelopes answered with a fault that changes nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import requests
import zeep
from django.core.cache import cache
from django.utils import timezone
from zeep.transports import Transport

from tests import factories
from timesync.models import (
    Integration,
    IntegrationKind,
    ReferenceCatalog,
    SyncRun,
    SyncState,
    WebConnectorAccount,
    WebConnectorSession,
)
from timesync.sync import web_connector

pytestmark = pytest.mark.django_db(transaction=True)

WSDL = Path(__file__).parent / "qbxml" / "wsdl" / "intuit-troubleshoot" / "QBWebConnectorSvc.wsdl"
COMPANY_FILE = r"C:\Users\Public\Documents\Intuit\QuickBooks\Northwind Builders.QBW"


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def web_connector_client(live_server) -> zeep.Client:
    """The Web Connector: Intuit's WSDL, pointed at our live server's /qbwc/."""
    client = zeep.Client(str(WSDL), transport=Transport(timeout=10, operation_timeout=10))
    binding = "{http://developer.intuit.com/}TroubleshootWebServiceFSSoap"
    return client.create_service(binding, f"{live_server.url}/qbwc/")


def a_quickbooks_integration(**fields) -> Integration:
    organization = fields.pop("organization", None) or factories.OrganizationFactory()
    return Integration.objects.create(organization=organization,
                                      kind=IntegrationKind.QUICKBOOKS_DESKTOP,
                                      name=fields.pop("name", "QuickBooks"), **fields)


def signed_up(integration: Integration | None = None) -> web_connector.WebConnectorSignIn:
    return web_connector.web_connector_account_create(
        integration=integration or a_quickbooks_integration())


def waiting_run(integration: Integration) -> SyncRun:
    project = factories.ProjectFactory(organization=integration.organization)
    return SyncRun.objects.create(organization=integration.organization, integration=integration,
                                  project=project, work_date=date(2026, 11, 30),
                                  trigger="manual", state=SyncState.WAITING)


def test_the_wsdl_is_served_with_our_address(live_server):
    response = requests.get(f"{live_server.url}/qbwc/?wsdl", timeout=10)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert f'location="{live_server.url}/qbwc/"' in response.text
    assert "http://developer.intuit.com/" in response.text


def test_server_and_client_version_are_answered(web_connector_client):
    assert web_connector_client.serverVersion() == web_connector.SERVER_VERSION
    assert web_connector_client.clientVersion(strVersion="2.3.0.215") is None  # "": go on


def test_the_right_password_with_work_waiting_opens_a_session_for_that_integration_only(
    web_connector_client,
):
    sign_in = signed_up()
    waiting_run(sign_in.account.integration)

    ticket, company_file = web_connector_client.authenticate(
        strUserName=sign_in.account.user_name, strPassword=sign_in.password)

    assert len(ticket) >= 40
    assert company_file is None  # "": the company file open in QuickBooks
    session = WebConnectorSession.objects.get()
    assert session.integration == sign_in.account.integration
    assert ticket not in session.ticket_digest  # only its digest is kept


def test_a_wrong_password_and_an_unknown_user_get_the_same_nvu(web_connector_client):
    sign_in = signed_up()
    waiting_run(sign_in.account.integration)

    wrong = web_connector_client.authenticate(strUserName=sign_in.account.user_name,
                                              strPassword="not-the-password")
    unknown = web_connector_client.authenticate(strUserName="nobody-qb-1",
                                                strPassword=sign_in.password)

    assert wrong[1] == unknown[1] == "nvu"
    assert WebConnectorSession.objects.count() == 0


def test_ten_wrong_passwords_pause_the_user_name_even_for_the_right_one(web_connector_client):
    sign_in = signed_up()
    waiting_run(sign_in.account.integration)
    for _ in range(web_connector.FAILURE_LIMIT):
        web_connector_client.authenticate(strUserName=sign_in.account.user_name,
                                          strPassword="guess")

    answer = web_connector_client.authenticate(strUserName=sign_in.account.user_name,
                                               strPassword=sign_in.password)

    assert answer[1] == "nvu"


def test_nothing_waiting_and_fresh_lists_answer_none(web_connector_client):
    sign_in = signed_up()
    integration = sign_in.account.integration
    ReferenceCatalog.objects.create(organization=integration.organization,
                                    integration=integration, fetched_at=timezone.now())

    assert web_connector_client.authenticate(strUserName=sign_in.account.user_name,
                                             strPassword=sign_in.password)[1] == "none"
    sign_in.account.refresh_from_db()
    assert sign_in.account.last_contact_at is not None  # the dashboard says when it called


def test_lists_never_read_open_a_session_even_without_hours_waiting(web_connector_client):
    sign_in = signed_up()

    ticket, _ = web_connector_client.authenticate(strUserName=sign_in.account.user_name,
                                                  strPassword=sign_in.password)

    assert ticket


def test_a_second_web_connector_of_the_same_integration_is_told_busy(web_connector_client):
    sign_in = signed_up()
    waiting_run(sign_in.account.integration)
    web_connector_client.authenticate(strUserName=sign_in.account.user_name,
                                      strPassword=sign_in.password)

    second = web_connector_client.authenticate(strUserName=sign_in.account.user_name,
                                               strPassword=sign_in.password)

    assert second[1] == "busy"


def test_a_disconnected_integration_signs_in_no_web_connector(web_connector_client):
    sign_in = signed_up(a_quickbooks_integration(is_connected=False))
    waiting_run(sign_in.account.integration)

    assert web_connector_client.authenticate(strUserName=sign_in.account.user_name,
                                             strPassword=sign_in.password)[1] == "nvu"


def test_another_company_file_than_the_first_is_refused_with_a_readable_error(
    web_connector_client,
):
    sign_in = signed_up()
    WebConnectorAccount.objects.filter(pk=sign_in.account.pk).update(company_file=COMPANY_FILE)
    waiting_run(sign_in.account.integration)
    ticket, _ = web_connector_client.authenticate(strUserName=sign_in.account.user_name,
                                                  strPassword=sign_in.password)

    qbxml = web_connector_client.sendRequestXML(
        ticket=ticket, strHCPResponse="", strCompanyFileName=r"C:\Other\Test Company.QBW",
        qbXMLCountry="US", qbXMLMajorVers=13, qbXMLMinorVers=0)

    assert qbxml is None  # "": nothing for that file
    error = web_connector_client.getLastError(ticket=ticket)
    assert r"C:\Other\Test Company.QBW" in error
    assert "Northwind Builders.QBW" in error


def test_the_first_company_file_is_remembered(web_connector_client):
    sign_in = signed_up()
    waiting_run(sign_in.account.integration)
    ticket, _ = web_connector_client.authenticate(strUserName=sign_in.account.user_name,
                                                  strPassword=sign_in.password)

    web_connector_client.sendRequestXML(ticket=ticket, strHCPResponse="",
                                        strCompanyFileName=COMPANY_FILE, qbXMLCountry="US",
                                        qbXMLMajorVers=13, qbXMLMinorVers=0)

    sign_in.account.refresh_from_db()
    assert sign_in.account.company_file == COMPANY_FILE


def test_a_closed_ticket_gets_nothing_more(web_connector_client):
    sign_in = signed_up()
    waiting_run(sign_in.account.integration)
    ticket, _ = web_connector_client.authenticate(strUserName=sign_in.account.user_name,
                                                  strPassword=sign_in.password)
    web_connector_client.closeConnection(ticket=ticket)

    assert web_connector_client.receiveResponseXML(ticket=ticket, response="<QBXML/>",
                                                   hresult="", message="") == -1
    assert WebConnectorSession.objects.get().closed_at is not None


def test_a_made_up_ticket_gets_nothing(web_connector_client):
    assert web_connector_client.sendRequestXML(
        ticket="made-up", strHCPResponse="", strCompanyFileName=COMPANY_FILE,
        qbXMLCountry="US", qbXMLMajorVers=13, qbXMLMinorVers=0) is None
    assert web_connector_client.receiveResponseXML(ticket="made-up", response="", hresult="",
                                                   message="") == -1


def test_replacing_the_password_ends_the_old_one_and_open_sessions(web_connector_client):
    sign_in = signed_up()
    integration = sign_in.account.integration
    waiting_run(integration)
    ticket, _ = web_connector_client.authenticate(strUserName=sign_in.account.user_name,
                                                  strPassword=sign_in.password)
    admin = factories.MembershipFactory(organization=integration.organization)

    replaced = web_connector.web_connector_password_replace(actor=admin,
                                                            integration_id=integration.pk)

    assert web_connector_client.authenticate(strUserName=sign_in.account.user_name,
                                             strPassword=sign_in.password)[1] == "nvu"
    assert web_connector_client.receiveResponseXML(ticket=ticket, response="", hresult="",
                                                   message="") == -1
    assert web_connector_client.authenticate(strUserName=sign_in.account.user_name,
                                             strPassword=replaced.password)[0]


HOSTILE = [
    b"",
    b"not xml",
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
    b"<lolz>&lol2;</lolz>",
    b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
    b'<dropTables xmlns="http://developer.intuit.com/"/></s:Body></s:Envelope>',
]


@pytest.mark.parametrize("body", HOSTILE)
def test_a_hostile_or_malformed_envelope_gets_a_soap_fault_and_changes_nothing(live_server, body):
    sign_in = signed_up()

    response = requests.post(f"{live_server.url}/qbwc/", data=body, timeout=10,
                             headers={"Content-Type": "text/xml; charset=utf-8"})

    assert response.status_code == 500
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert b"<faultstring>" in response.content
    assert WebConnectorSession.objects.count() == 0
    assert WebConnectorAccount.objects.get() == sign_in.account


def test_an_envelope_larger_than_the_bound_is_refused_unread(live_server):
    from connectors.quickbooks.soap import MAX_ENVELOPE_BYTES

    response = requests.post(f"{live_server.url}/qbwc/", data=b" " * (MAX_ENVELOPE_BYTES + 10),
                             timeout=30, headers={"Content-Type": "text/xml"})

    assert response.status_code == 500
    assert b"larger than" in response.content
