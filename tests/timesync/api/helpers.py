"""What an API client works with: the organization's URLs, times with offsets, error bodies."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from timesync.models import Organization

TORONTO = ZoneInfo("America/Toronto")
VANCOUVER = ZoneInfo("America/Vancouver")
PASSWORD = "correct horse battery"  # what tests.factories.UserFactory sets


def url(organization: Organization, path: str = "") -> str:
    """A path under the organization's API root, e.g. url(org, "shifts/")."""
    return f"/api/v1/orgs/{organization.slug}/{path}"


def shift_url(organization: Organization, shift_id: int, action: str = "") -> str:
    return url(organization, f"shifts/{shift_id}/{action + '/' if action else ''}")


def local(zone: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=zone, fold=fold)


def instant(value: str) -> datetime:
    """An API time as an aware datetime (the API may render it in any zone)."""
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value} has no UTC offset"
    return parsed


def hours(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def errors_of(response: Any) -> dict[str, Any]:
    """A 400's field errors: a mapping of field name to messages (the problem's `errors`)."""
    assert response.status_code == 400, (response.status_code, response.content)
    assert response["Content-Type"] == "application/problem+json", response["Content-Type"]
    body = response.json()
    assert body["status"] == 400, body
    assert isinstance(body["errors"], dict), body
    return body["errors"]


def ids(response: Any) -> list[int]:
    """The ids of a (paginated or plain) list response."""
    assert response.status_code == 200, (response.status_code, response.content)
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return [row["id"] for row in rows]
