"""API errors: one shape for every one of them, RFC 9457 problem details
(`application/problem+json`): `type`, `title`, `status`, a readable `detail`, our `code`, and
for bad input `errors`, the messages keyed by field (`non_field_errors` for the whole body).

Why our own handler: the kept DRF libraries either answer another shape (drf-standardized-errors:
a list of {code, detail, attr}) or are no longer maintained (drf-problems); this is DRF's own
handler with the body rewritten, about forty lines.
"""

from __future__ import annotations

import math
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from connectors.base import ConnectorError, TransientError
from timesync.services import StaleVersion
from timesync.sync.selectors import IntegrationDisconnected, IntegrationReceivesOnly

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:timesync:problem:"  # a stable name per kind, not a web page


class ProblemJSONRenderer(JSONRenderer):
    media_type = PROBLEM_MEDIA_TYPE


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class RemoteUnavailable(exceptions.APIException):
    """The remote system did not answer, or asked us to come back later: try again."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "remote_unavailable"


class RemoteRefused(exceptions.APIException):
    """The remote system answered no (credentials refused, no such address): retrying the same
    request will not help; the reason says what to fix."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "remote_refused"


def _connector_error(exc: ConnectorError) -> exceptions.APIException:
    if isinstance(exc, IntegrationDisconnected):
        return Conflict(str(exc), code="integration_disconnected")
    if isinstance(exc, IntegrationReceivesOnly):
        return Conflict(str(exc), code="integration_receives_only")
    if isinstance(exc, TransientError):
        return RemoteUnavailable(str(exc))
    return RemoteRefused(str(exc))


def _translate(exc: Exception) -> Exception:
    """Our domain's and Django's exceptions as the DRF exception that answers them."""
    # A remote system's fault is not ours: it answers as a gateway would (503 try later, 502
    # refused), with the connector's reason, never a 500.
    if isinstance(exc, ConnectorError):
        return _connector_error(exc)
    # Services speak Django's ValidationError (so pages can use them too); here it becomes a
    # 400 with the same field → messages shape as serializer errors.
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict")
            else {"non_field_errors": exc.messages}
        )
        return exceptions.ValidationError(detail=detail)
    if isinstance(exc, Http404):
        return exceptions.NotFound(str(exc) or None)
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, StaleVersion):
        return Conflict(str(exc), code="stale_version")
    # A multipart body with more fields or bytes than Django reads (DATA_UPLOAD_MAX_*).
    if isinstance(exc, TooManyFieldsSent | RequestDataTooBig):
        return exceptions.ParseError(str(exc), code="request_too_large")
    return exc


def _field_errors(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return detail
    return {"non_field_errors": detail if isinstance(detail, list) else [detail]}


def _first_message(errors: dict[str, Any]) -> str:
    """The first message, prefixed by its field: the readable `detail` of a validation error."""
    for field, messages in errors.items():
        message = messages
        while isinstance(message, list | dict) and message:
            message = next(iter(message.values())) if isinstance(message, dict) else message[0]
        if isinstance(message, list | dict):
            continue
        return str(message) if field == "non_field_errors" else f"{field}: {message}"
    return "Invalid input."


def problem(status_code: int, detail: str, code: str, **extra: Any) -> dict[str, Any]:
    """A problem details body (RFC 9457); `extra` holds members of our own (errors, ...)."""
    return {
        "type": f"{PROBLEM_TYPE_PREFIX}{code}",
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "code": code,
        **extra,
    }


def _codes(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    original = exc
    exc = _translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500 page and the error log
    assert isinstance(exc, exceptions.APIException)  # what DRF answers
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        body = problem(response.status_code, _first_message(errors), "invalid", errors=errors)
    else:
        extra: dict[str, Any] = {}
        if isinstance(original, StaleVersion):
            extra["current_version"] = original.current_version
        body = problem(response.status_code, str(exc.detail), _codes(exc), **extra)
    response.data = body
    retry_after = getattr(original, "retry_after", None)
    if retry_after is not None:
        response["Retry-After"] = str(max(1, math.ceil(retry_after)))
    # Problems are JSON whatever the client asked for (the CSV download's 401, 404 and 406
    # included): set the renderer the response goes out with.
    request = context.get("request")
    if request is not None:
        request.accepted_renderer = ProblemJSONRenderer()
        request.accepted_media_type = PROBLEM_MEDIA_TYPE
    return response


# --- Django's own 404 and 500 under /api/ ---------------------------------------------------
# An address no API route matches (e.g. a slug with characters a slug cannot have), and a bug,
# never reach DRF: under /api/ they answer as problems too; elsewhere, Django's pages.


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _problem_response(status_code: int, detail: str, code: str) -> HttpResponse:
    return JsonResponse(problem(status_code, detail, code), status=status_code,
                        content_type=PROBLEM_MEDIA_TYPE)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _problem_response(404, "Not found.", "not_found")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return _problem_response(500, "Something went wrong on our side; it has been logged.",
                                 "server_error")
    return defaults.server_error(request)
