"""The Web Connector's envelopes: what zeep, loaded from Intuit's WSDL, sends is read with its
parameters, and what we reply is what zeep reads back as the WSDL's result."""

from __future__ import annotations

from pathlib import Path

import pytest
import zeep
from lxml import etree

from connectors.quickbooks import soap
from connectors.quickbooks.soap import SoapRefused
from connectors.safe_xml import XML_PARSERS

WSDL = Path(__file__).parent / "qbxml" / "wsdl" / "intuit-troubleshoot" / "QBWebConnectorSvc.wsdl"


@pytest.fixture(scope="module")
def web_connector() -> zeep.Client:
    return zeep.Client(str(WSDL))


def envelope_from(client: zeep.Client, operation: str, **params) -> bytes:
    return etree.tostring(client.create_message(client.service, operation, **params))


def result_of(client: zeep.Client, operation: str, data: bytes):
    return client.service._binding.get(operation).process_reply(etree.fromstring(data))


def test_every_operation_of_the_wsdl_is_one_we_read(web_connector):
    operations = set(web_connector.service._binding._operations)

    assert operations == set(soap.OPERATIONS)


def test_a_send_request_call_is_read_with_the_wsdl_parameter_names(web_connector):
    data = envelope_from(web_connector, "sendRequestXML", ticket="T-1", strHCPResponse="<QBXML/>",
                         strCompanyFileName=r"C:\Company\Northwind.QBW", qbXMLCountry="US",
                         qbXMLMajorVers=13, qbXMLMinorVers=0)

    call = soap.read_call(data)

    assert call.operation == "sendRequestXML"
    assert call.params == {"ticket": "T-1", "strHCPResponse": "<QBXML/>",
                           "strCompanyFileName": r"C:\Company\Northwind.QBW",
                           "qbXMLCountry": "US", "qbXMLMajorVers": "13", "qbXMLMinorVers": "0"}


def test_an_absent_parameter_reads_as_empty(web_connector):
    call = soap.read_call(envelope_from(web_connector, "authenticate", strUserName="northwind-qb"))

    assert (call.get("strUserName"), call.get("strPassword")) == ("northwind-qb", "")


def test_an_authenticate_reply_is_the_wsdl_array_of_strings(web_connector):
    data = soap.reply("authenticate", ["4f1c-ticket", "none"])

    assert result_of(web_connector, "authenticate", data) == ["4f1c-ticket", "none"]


def test_a_receive_response_reply_is_an_int_percentage(web_connector):
    assert result_of(web_connector, "receiveResponseXML",
                     soap.reply("receiveResponseXML", 40)) == 40


@pytest.mark.parametrize("operation", ["serverVersion", "clientVersion", "sendRequestXML",
                                       "connectionError", "getLastError", "closeConnection"])
def test_a_string_reply_reads_back_as_the_same_string(web_connector, operation):
    text = '<?xml version="1.0"?><QBXML><QBXMLMsgsRq onError="continueOnError"/></QBXML>'

    assert result_of(web_connector, operation, soap.reply(operation, text)) == text


def test_a_reply_has_nothing_before_the_xml_declaration():
    assert soap.reply("serverVersion", "1.0").startswith(b'<?xml version="1.0" encoding="utf-8"?>')


def test_a_fault_is_a_soap_11_fault_zeep_raises_with_our_message(web_connector):
    data = soap.fault("The ticket is not valid.")

    binding = web_connector.service._binding
    with pytest.raises(zeep.exceptions.Fault, match="The ticket is not valid") as raised:
        binding.process_error(etree.fromstring(data), binding.get("getLastError"))
    assert raised.value.code == "soap:Client"


@pytest.mark.parametrize(("data", "reason"), [
    (b"not xml at all", "not acceptable XML"),
    (b"<Envelope/>", "not a SOAP 1.1 envelope"),
    (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>',
     "exactly one operation"),
    (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
     b'<deleteCompany xmlns="http://developer.intuit.com/"/></s:Body></s:Envelope>',
     "Unknown operation"),
    (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
     b'<authenticate xmlns="http://example.com/"/></s:Body></s:Envelope>', "Unknown operation"),
    (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
     b'<authenticate xmlns="http://developer.intuit.com/"><strUserName><b>x</b></strUserName>'
     b"</authenticate></s:Body></s:Envelope>", "must be text"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
     "not acceptable XML"),
])
def test_an_envelope_we_will_not_act_on_is_refused_with_a_reason(data, reason):
    with pytest.raises(SoapRefused, match=reason):
        soap.read_call(data)


def test_the_envelope_parser_is_registered_for_the_xml_attack_suite():
    assert "qbwc_envelope" in XML_PARSERS
