"""API errors: every one says what went wrong and, for bad input, which field and why."""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from connectors.base import ConnectorError, TransientError
from timesync.services import StaleVersion
from timesync.sync.selectors import IntegrationDisconnected


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


def _connector_error(exc: ConnectorError, context: dict[str, Any]) -> Response | None:
    """{"detail": the connector's reason, "code": what kind of fault}."""
    if isinstance(exc, IntegrationDisconnected):
        answer: exceptions.APIException = Conflict(str(exc), code="integration_disconnected")
    elif isinstance(exc, TransientError):
        answer = RemoteUnavailable(str(exc))
    else:
        answer = RemoteRefused(str(exc))
    response = drf_exception_handler(answer, context)
    if response is not None:
        response.data["code"] = answer.get_codes()
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # A remote system's fault is not ours: it answers as a gateway would (503 try later, 502
    # refused), with the connector's reason, never a 500.
    if isinstance(exc, ConnectorError):
        return _connector_error(exc, context)
    # Services speak Django's ValidationError (so pages can use them too); here it becomes a
    # 400 with the same field → messages shape as serializer errors.
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict")
            else {"non_field_errors": exc.messages}
        )
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, StaleVersion):
        response = drf_exception_handler(Conflict(str(exc)), context)
        if response is not None:
            response.data["current_version"] = exc.current_version
        return response
    return drf_exception_handler(exc, context)
