"""The published API description: an OpenAPI document and its Swagger UI page."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api, admin):
    response = api(admin).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def shape(path: str) -> str:
    """A path with its parameters blanked: /orgs/{}/shifts/{}/ whatever they are named."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def operations(schema, path: str) -> dict:
    return next(ops for name, ops in schema["paths"].items() if shape(name) == path)


def test_the_schema_is_an_openapi_document(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orgs/{}/shifts/",
        "/api/v1/orgs/{}/shifts/{}/",
        "/api/v1/orgs/{}/shifts/{}/approve/",
        "/api/v1/orgs/{}/shifts/{}/reject/",
        "/api/v1/orgs/{}/shifts/bulk-approve/",
        "/api/v1/orgs/{}/shifts/{}/history/",
        "/api/v1/orgs/{}/shifts/punch-in/",
        "/api/v1/orgs/{}/shifts/punch-out/",
        "/api/v1/orgs/{}/projects/",
        "/api/v1/orgs/{}/workers/",
        "/api/v1/orgs/{}/cost-codes/",
        "/api/v1/organizations/",
        "/api/v1/auth/token/",
        "/api/v1/auth/tokens/",
        "/api/v1/auth/tokens/{}/",
        "/api/v1/auth/sign-out/",
    ],
)
def test_the_schema_describes_the_path(schema, path):
    assert path in {shape(name) for name in schema["paths"]}


def test_the_schema_documents_the_shift_list_filters(schema):
    operation = operations(schema, "/api/v1/orgs/{}/shifts/")["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"project", "worker", "work_date", "date_from", "date_to",
            "approval_state"} <= names


def test_the_schema_has_no_delete_for_reference_data(schema):
    for path in ("projects", "workers", "cost-codes"):
        assert "delete" not in operations(schema, f"/api/v1/orgs/{{}}/{path}/{{}}/")


def test_the_docs_page_renders_for_a_signed_in_user(browser_client, admin):
    response = browser_client(admin).get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
