"""Which connector serves an integration, built from its settings and decrypted credentials."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.base import Connector, PermanentError
from timesync import crypto

if TYPE_CHECKING:
    from timesync.models import Integration


def connector_for(integration: Integration) -> Connector:
    credentials = crypto.decrypt_json(integration.credentials_encrypted) \
        if integration.credentials_encrypted else {}
    settings = integration.settings or {}
    if integration.kind == "plexxis":
        from connectors.plexxis.client import PlexxisConnector

        if not settings.get("base_url") or not credentials.get("api_key"):
            raise PermanentError(
                f"{integration.name} has no Plexxis address or API key: set them in the "
                "integration's settings."
            )
        return PlexxisConnector(settings["base_url"], credentials["api_key"])
    raise PermanentError(f"{integration.get_kind_display()} cannot send timecards yet.")
