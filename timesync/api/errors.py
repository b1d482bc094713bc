"""API errors: every one says what went wrong and, for bad input, which field and why."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from timesync.services import StaleVersion


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
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
