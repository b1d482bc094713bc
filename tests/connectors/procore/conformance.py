"""Check a request against the Procore OpenAPI subset (openapi-subset.json, a verbatim copy of
../shared/reference/procore/openapi-subset.json): path template, method, path parameter types,
required and known query parameters, the Procore-Company-Id header, and the body's field names
and types.

Hand-written, small, over the JSON: the subset is not a valid OpenAPI document for the usual
validators (several request bodies are `{}`, nested objects are truncated) and we check a
request the emulator recorded, not a live one. Three readings of the subset are deliberate:
- `page` and `per_page` are accepted on every list: Procore paginates every list that way
  (its documentation), though the subset omits them on a few (company projects);
- the webhook endpoints mark both `company_id` and `project_id` required; a hook belongs to a
  company or to a project, so one of the two is required;
- a nested `required` is enforced, except for a field whose own description says when it is
  required ("only required if ...", "not required if ..."): timecard entry `hours` versus
  `time_in`/`time_out`/`lunch_time` depend on the project's settings.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from connectors.procore.emulator import LoggedRequest

SPEC_PATH = Path(__file__).with_name("openapi-subset.json")
PAGINATION = ("page", "per_page")
_COMPANY_HEADER_EXEMPT = ("/rest/v1.0/me", "/rest/v1.0/companies")
_CONDITIONAL = re.compile(r"only required|not required|required if|only applicable", re.I)


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


@cache
def _templates() -> list[tuple[re.Pattern[str], str, int]]:
    compiled = []
    for template in spec()["paths"]:
        pattern = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        compiled.append((re.compile(f"^{pattern}$"), template, template.count("{")))
    # A literal segment beats a parameter: /people/inactive is not /people/{id}.
    return sorted(compiled, key=lambda item: item[2])


def violations(request: LoggedRequest) -> list[str]:
    """What in this request does not conform (empty: it does)."""
    where = f"{request.method} {request.path}"
    for pattern, candidate, _count in _templates():
        match = pattern.match(request.path)
        if match:
            template = candidate
            break
    else:
        return [f"{where}: no such path in the OpenAPI subset"]
    item = spec()["paths"][template]
    operation = item.get(request.method.lower())
    if operation is None:
        return [f"{where}: {request.method} is not an operation of {template}"]
    problems: list[str] = []
    parameters = {(p["in"], p["name"]): p for p in
                  item.get("parameters", []) + operation.get("parameters", []) if "name" in p}
    for name, value in match.groupdict().items():
        declared = parameters.get(("path", name))
        if declared is None:
            problems.append(f"{where}: path parameter {name} is not declared")
        else:
            problems += _value_problems(f"{where}: path {name}", value, declared)
    problems += _query_problems(where, template, request.query, parameters)
    if request.path.startswith("/rest/") and request.path not in _COMPANY_HEADER_EXEMPT:
        company = request.headers.get("procore-company-id", "")
        if not company.isdigit():
            problems.append(f"{where}: the Procore-Company-Id header is missing or not an "
                            "integer")
    problems += _body_problems(where, operation, request.body)
    return problems


def _query_problems(where: str, template: str, query: dict[str, list[str]],
                    parameters: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    problems = []
    declared = {name: p for (place, name), p in parameters.items() if place == "query"}
    required = {name for name, p in declared.items() if p.get("required")}
    if template.startswith("/rest/v1.0/webhooks/") and {"company_id", "project_id"} <= required:
        required -= {"company_id", "project_id"}
        if not ({"company_id", "project_id"} & set(query)):
            problems.append(f"{where}: company_id or project_id is required")
    problems += [f"{where}: required query parameter {name} is missing"
                 for name in sorted(required - set(query))]
    for name, values in query.items():
        parameter = declared.get(name)
        if parameter is None:
            if name in PAGINATION:
                parameter = {"schema": {"type": "integer"}}
            else:
                problems.append(f"{where}: query parameter {name} is not declared")
                continue
        for value in values:
            problems += _value_problems(f"{where}: query {name}", value, parameter)
    return problems


def _value_problems(where: str, value: str, parameter: dict[str, Any]) -> list[str]:
    kind = (parameter.get("schema") or {}).get("type")
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return [f"{where}={value!r} is not an integer"]
    if kind == "boolean" and value not in ("true", "false"):
        return [f"{where}={value!r} is not a boolean"]
    return []


def _body_problems(where: str, operation: dict[str, Any], body: Any) -> list[str]:
    request_body = operation.get("requestBody")
    if request_body is None:
        return [] if body is None else [f"{where}: sends a body the operation does not take"]
    if body is None:
        return [f"{where}: the request body is required"] if request_body.get("required") \
            else []
    content = request_body.get("content") or {}
    schema = next(iter(content.values()), {}).get("schema") or {}
    return _schema_problems(f"{where}: body", body, schema)


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec()["components"]["schemas"][name]
    return schema


def _schema_problems(where: str, value: Any, schema: dict[str, Any]) -> list[str]:
    schema = _resolve(schema)
    if not schema:
        return []  # the subset does not describe it: anything goes
    if value is None:
        return [] if schema.get("nullable") else [f"{where} is null"]
    kind = schema.get("type")
    type_ok = {
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
        None: True,
    }.get(kind, True)
    if not type_ok:
        return [f"{where} is {type(value).__name__} {value!r}, the subset says {kind}"]
    problems: list[str] = []
    if kind == "string":
        problems += _format_problems(where, value, schema.get("format"))
    if kind == "array":
        for index, item in enumerate(value):
            problems += _schema_problems(f"{where}[{index}]", item, schema.get("items") or {})
    if isinstance(value, dict) and "properties" in schema:
        properties = schema["properties"]
        for name, item in value.items():
            if name not in properties:
                if schema.get("additionalProperties") is None:
                    problems.append(f"{where}.{name} is not a field of the subset")
                continue
            problems += _schema_problems(f"{where}.{name}", item, properties[name])
        for name in schema.get("required", []):
            described = (properties.get(name) or {}).get("description", "")
            if name not in value and not _CONDITIONAL.search(described):
                problems.append(f"{where}.{name} is required")
    return problems


def _format_problems(where: str, value: str, format_name: str | None) -> list[str]:
    try:
        if format_name == "date":
            date.fromisoformat(value)
        elif format_name == "date-time":
            datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return [f"{where}={value!r} is not a {format_name}"]
    return []
