"""What an admin may set on an integration, declared by each connector.

A connector lists its settings (names, types, bounds) in a subclass of `ConnectorSettings`;
anything else is refused rather than kept. The settings are stored as clear JSON and shown to
every member, so a key nobody declared (a stray `api_key`, say) must never land there: secrets
go to the credentials, which are stored encrypted and never returned. Strict types: "30" is not
a number and 5 is not an address, as a remote would not take them either.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConnectorSettings(BaseModel):
    """The settings of a kind of integration that declares none (every key is refused)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
