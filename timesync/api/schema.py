"""The schema's error answers: every operation documents the problems it can answer, all of one
shape (see `timesync.api.errors`), so a client (and the fuzzer in tests/security) can rely on
the schema for every response, not only the successes."""

from __future__ import annotations

from typing import Any

from timesync.api.errors import PROBLEM_MEDIA_TYPE

PROBLEM = {
    "type": "object",
    "description": "An error, as RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string", "description": "What kind of problem (a URN)."},
        "title": {"type": "string", "description": "The HTTP status, in words."},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What went wrong, readable."},
        "code": {"type": "string", "description": "The same kind, as a short code."},
        "errors": {
            "type": "object",
            "additionalProperties": {},
            "description": "Bad input: the messages keyed by field (non_field_errors for the "
                           "request as a whole).",
        },
        "current_version": {"type": "integer",
                            "description": "A stale version (409): the version now stored."},
    },
    "required": ["type", "title", "status", "detail", "code"],
}

_WHY = {
    400: "Bad input: `errors` says which field and why.",
    401: "Not signed in (no or a wrong token).",
    403: "Signed in, but the role may not do this.",
    404: "No such organization (or not a member), or no such object in it.",
    406: "The Accept header asks for a format this operation does not answer.",
    409: "A conflict: a stale `version`, the integration is disconnected, or it only "
         "receives (a sync of an integration whose direction is receive).",
    415: "The body's content type is not JSON, a form or multipart.",
    429: "Too many attempts: wait as Retry-After says.",
    502: "The remote system refused (credentials, address).",
    503: "The remote system did not answer or asked to wait (Retry-After when it said).",
}

_WRITES = {"post", "put", "patch", "delete"}
# Operations that ask a remote system while answering (connect, reconfigure, test, refresh).
_REMOTE_CALLS = ("/integrations/{integration_id}/test-connection/",
                 "/integrations/{integration_id}/refresh-links/",
                 "/integrations/{integration_id}/", "/integrations/")


def _codes(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    if path.endswith("/auth/token/"):
        return {400, 415, 429}
    codes = {401, 403}
    has_body = "requestBody" in operation
    if has_body:
        codes |= {400, 415}
    if operation.get("parameters"):
        codes |= {400} if any(p["in"] == "query" for p in operation["parameters"]) else set()
        codes |= {404} if any(p["in"] == "path" for p in operation["parameters"]) else set()
    if path.endswith("/csv/"):
        codes.add(406)
    if "/integrations/" in path:
        codes.add(409)  # a disconnected integration (a sync, a preview, a test)
        if method in _WRITES and path.endswith(_REMOTE_CALLS):
            codes |= {502, 503}
    elif method in _WRITES:
        codes.add(409)  # a stale version
    return codes


def document_problems(result: dict[str, Any], generator: Any, request: Any, public: bool
                      ) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the Problem component and every operation's
    error responses (never replacing one an operation documents itself)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
    reference = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for code in sorted(_codes(path, method, operation)):
                responses.setdefault(str(code), {"description": _WHY[code],
                                                 "content": reference})
    return result
