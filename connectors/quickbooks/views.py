"""`/qbwc/`: the QuickBooks Web Connector's SOAP service, one endpoint for every organization.

No session, no CSRF token (the Web Connector has neither): the Web Connector's user name and
password open a session, and its ticket proves every later call (timesync/sync/web_connector.py).
Every envelope goes through the safe XML parser; a hostile or malformed one gets a SOAP fault and
changes nothing. Replies are `text/xml; charset=utf-8` with nothing before the envelope.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from connectors.quickbooks import soap
from timesync.sync import web_connector

logger = logging.getLogger(__name__)

WSDL_PATH = Path(__file__).with_name("QBWebConnectorSvc.wsdl")
_ADDRESS = re.compile(r'(<soap(?:12)?:address location=")[^"]*(")')


@csrf_exempt
@require_http_methods(["GET", "POST"])
def web_connector_service(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        if "wsdl" not in {key.lower() for key in request.GET}:
            return HttpResponse("The QuickBooks Web Connector's service. Its WSDL: ?wsdl\n",
                                content_type="text/plain; charset=utf-8")
        return HttpResponse(_wsdl(request.build_absolute_uri(request.path)),
                            content_type=soap.CONTENT_TYPE)
    # Read no more than an envelope may be (a body past it is refused unread, whatever its
    # Content-Length says).
    data = request.read(soap.MAX_ENVELOPE_BYTES + 1)
    if len(data) > soap.MAX_ENVELOPE_BYTES:
        return _fault(f"The request is larger than {soap.MAX_ENVELOPE_BYTES} bytes.")
    try:
        call = soap.read_call(data)
    except soap.SoapRefused as refused:
        return _fault(str(refused))
    try:
        result = _answer(call, address=request.META.get("REMOTE_ADDR", ""))
    except Exception:
        logger.exception("Web Connector call %s failed", call.operation)
        return _fault("Timesync could not process the call; support was notified.",
                      client_error=False)
    return HttpResponse(soap.reply(call.operation, result), content_type=soap.CONTENT_TYPE)


def _answer(call: soap.SoapCall, *, address: str) -> str | int | list[str]:
    operation = call.operation
    if operation == "serverVersion":
        return web_connector.SERVER_VERSION
    if operation == "clientVersion":
        return ""  # any Web Connector version is fine
    if operation == "authenticate":
        return web_connector.qbwc_authenticate(
            user_name=call.get("strUserName"), password=call.get("strPassword"),
            address=address)
    if operation == "sendRequestXML":
        return web_connector.qbwc_send_request(ticket=call.get("ticket"),
                                               company_file=call.get("strCompanyFileName"))
    if operation == "receiveResponseXML":
        return web_connector.qbwc_receive_response(
            ticket=call.get("ticket"), response=call.get("response"),
            hresult=call.get("hresult"), message=call.get("message"))
    if operation == "connectionError":
        return web_connector.qbwc_connection_error(
            ticket=call.get("ticket"), hresult=call.get("hresult"), message=call.get("message"))
    if operation == "getLastError":
        return web_connector.qbwc_last_error(ticket=call.get("ticket"))
    return web_connector.qbwc_close(ticket=call.get("ticket"))


def _fault(message: str, *, client_error: bool = True) -> HttpResponse:
    return HttpResponse(soap.fault(message, client_error=client_error), status=500,
                        content_type=soap.CONTENT_TYPE)


@lru_cache(maxsize=8)
def _wsdl(service_url: str) -> bytes:
    """Intuit's WSDL, its service address ours."""
    text = WSDL_PATH.read_text(encoding="utf-8")
    return _ADDRESS.sub(lambda m: f"{m.group(1)}{service_url}{m.group(2)}", text).encode()
