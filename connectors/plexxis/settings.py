"""The settings of a Plexxis integration (the API key is a credential, not a setting)."""

from __future__ import annotations

from pydantic import Field

from connectors.settings import ConnectorSettings


class PlexxisSettings(ConnectorSettings):
    # Optional here: an integration may be created without an address (loading data whose
    # remote comes later); connecting and syncing require one.
    base_url: str = Field(
        default="", max_length=300,
        description="The address of the Plexxis API, usually ending in /api/v1.",
    )
