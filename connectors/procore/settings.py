"""The settings of a Procore integration (client id and secret and the tokens are credentials,
not settings: they are stored encrypted, never shown)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from connectors.settings import ConnectorSettings

PRODUCTION_API_BASE_URL = "https://api.procore.com"
PRODUCTION_LOGIN_BASE_URL = "https://login.procore.com"


# authorization_code: an admin approves the app in Procore and we get a refresh token.
# client_credentials: a Developer Managed Service Account, client id and secret alone.
# A Literal, not an enum: the settings are strict, and they arrive as JSON strings.
ProcoreGrant = Literal["authorization_code", "client_credentials"]


class ProcoreSettings(ConnectorSettings):
    # The sandbox pair (https://sandbox.procore.com, https://login-sandbox.procore.com) and the
    # local emulator are other values of these two.
    api_base_url: str = Field(default=PRODUCTION_API_BASE_URL, max_length=300,
                              description="The address of Procore's REST API.")
    login_base_url: str = Field(default=PRODUCTION_LOGIN_BASE_URL, max_length=300,
                                description="The address of Procore's sign-in (OAuth) server.")
    # Optional here, as Plexxis's address is: an integration may exist before it is connected.
    company_id: int | None = Field(default=None, ge=1, lt=2**63,
                                   description="The Procore company the integration writes to.")
    company_name: str = Field(default="", max_length=200)
    grant: ProcoreGrant = Field(default="authorization_code")
