"""The Web Connector's SOAP 1.1 envelopes, read and written by hand (document/literal, namespace
http://developer.intuit.com/, the parameter names of Intuit's WSDL).

Why by hand: the Web Connector calls eight operations, each taking and returning strings (one
returns an int, one an array of strings). A SOAP server framework would bring a large surface
for that, and the usual one (spyne) has had no release since 2022. What matters is that every
envelope is read by the project's one safe XML parser (no DTD, no entities, a size bound) and
that replies are exactly what the WSDL says, with nothing before the envelope: the tests check
both with zeep loaded from Intuit's WSDL.

Nothing here knows our models: the view (connectors/quickbooks/views.py) turns a `SoapCall` into
a reply through the domain's services.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element, SubElement, register_namespace, tostring

from connectors.quickbooks.qbxml import MAX_RESPONSE_BYTES
from connectors.safe_xml import XMLRejected, parse_xml, xml_parser

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "http://developer.intuit.com/"
CONTENT_TYPE = "text/xml; charset=utf-8"
# receiveResponseXML carries QuickBooks' whole qbXML answer as escaped text, so an envelope may
# be a little larger than the largest qbXML response we accept.
MAX_ENVELOPE_BYTES = MAX_RESPONSE_BYTES + 64 * 1024

# The operations, their parameters in the WSDL's order, and what each returns.
OPERATIONS: dict[str, tuple[str, ...]] = {
    "serverVersion": (),
    "clientVersion": ("strVersion",),
    "authenticate": ("strUserName", "strPassword"),
    "sendRequestXML": ("ticket", "strHCPResponse", "strCompanyFileName", "qbXMLCountry",
                       "qbXMLMajorVers", "qbXMLMinorVers"),
    "receiveResponseXML": ("ticket", "response", "hresult", "message"),
    "connectionError": ("ticket", "hresult", "message"),
    "getLastError": ("ticket",),
    "closeConnection": ("ticket",),
}

register_namespace("soap", SOAP_ENV)
register_namespace("", TNS)


class SoapRefused(ValueError):
    """An envelope we will not act on; str() is safe to send back in a SOAP fault."""


@dataclass(frozen=True)
class SoapCall:
    operation: str
    params: dict[str, str]

    def get(self, name: str) -> str:
        return self.params.get(name, "")


@xml_parser("qbwc_envelope", max_bytes=MAX_ENVELOPE_BYTES)
def parse_envelope_xml(data: bytes) -> Element:
    """A SOAP envelope as the Web Connector posts it, parsed safely."""
    return parse_xml(data, max_bytes=MAX_ENVELOPE_BYTES)


def read_call(data: bytes) -> SoapCall:
    """The operation and parameters of a Web Connector request, or SoapRefused saying why."""
    try:
        envelope = parse_envelope_xml(data)
    except XMLRejected as refused:
        raise SoapRefused(f"The request is not acceptable XML: {refused.reason}.") from None
    if envelope.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapRefused("The request is not a SOAP 1.1 envelope.")
    body = envelope.find(f"{{{SOAP_ENV}}}Body")
    if body is None or len(body) != 1:
        raise SoapRefused("The SOAP body must hold exactly one operation.")
    call = body[0]
    namespace, _, operation = call.tag[1:].partition("}") if call.tag.startswith("{") else (
        "", "", call.tag)
    if namespace != TNS or operation not in OPERATIONS:
        raise SoapRefused("Unknown operation: this service speaks the QuickBooks Web "
                          "Connector's operations only.")
    wanted = OPERATIONS[operation]
    params: dict[str, str] = {}
    for child in call:
        name = child.tag.removeprefix(f"{{{TNS}}}")
        if name in wanted:
            if len(child):
                raise SoapRefused(f"Parameter {name} must be text.")
            params[name] = child.text or ""
    return SoapCall(operation=operation, params=params)


def reply(operation: str, result: str | int | list[str]) -> bytes:
    """The SOAP response for `operation` with its result, as the WSDL defines it: a string, an
    int (receiveResponseXML) or an array of strings (authenticate)."""
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation}")
    envelope = Element(f"{{{SOAP_ENV}}}Envelope")
    body = SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    response = SubElement(body, f"{{{TNS}}}{operation}Response")
    result_element = SubElement(response, f"{{{TNS}}}{operation}Result")
    if isinstance(result, list):
        for item in result:
            SubElement(result_element, f"{{{TNS}}}string").text = item
    else:
        result_element.text = str(result)
    return _document(envelope)


def fault(message: str, *, client_error: bool = True) -> bytes:
    """A SOAP 1.1 fault (sent with HTTP 500, as SOAP 1.1 says): `client_error` when the request
    was at fault, else the server."""
    envelope = Element(f"{{{SOAP_ENV}}}Envelope")
    body = SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    soap_fault = SubElement(body, f"{{{SOAP_ENV}}}Fault")
    # faultcode and faultstring are unqualified in SOAP 1.1.
    SubElement(soap_fault, "faultcode").text = "soap:Client" if client_error else "soap:Server"
    SubElement(soap_fault, "faultstring").text = message
    return _document(envelope)


def _document(envelope: Element) -> bytes:
    # Nothing before the declaration: the Web Connector refuses a reply with leading noise.
    return b'<?xml version="1.0" encoding="utf-8"?>' + tostring(envelope, encoding="utf-8",
                                                                 xml_declaration=False)
