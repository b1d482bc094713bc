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
# send: our shifts go to Procore; receive: Procore's time cards come to us; both: two-way.
ProcoreDirection = Literal["send", "receive", "both"]
RECEIVING_DIRECTIONS = ("receive", "both")


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
    direction: ProcoreDirection = Field(
        default="send", description="send: our shifts go to Procore; receive: time cards "
        "entered in Procore come to us (webhooks and a sweep); both.")
    only_linked_projects: bool = Field(
        default=True, description="Receive only the time cards of Procore projects linked to "
        "one of ours; others are left out (listed, not failed).")
    # Procore tags every webhook with the app that caused the change: ours are skipped, so our
    # own writes never come back as edits. The Developer Portal shows the app's id.
    application_id: str = Field(default="", max_length=100,
                                description="Our app's id in Procore (its webhooks are ours).")

    # What a time card entered in Procore may create here when nothing of ours is linked to
    # its person, cost code or sub job. Each creation is named in the message's outcome and the
    # integration's audit trail; where one is off, the message fails naming what to link.
    # Workers: on, but only people Procore marks as employees (the people payroll pays); a
    # visitor or a subcontractor's man is never made a worker silently.
    create_workers: bool = Field(
        default=True, description="Create (and link) a worker for a Procore employee whose "
        "time card arrives with no worker of ours linked.")
    # Cost codes: on. A code is the company's own list, not a stranger: dropping it would
    # send hours to the wrong cost line, and failing every new code is noise.
    create_cost_codes: bool = Field(
        default=True, description="Create (and link) a cost code Procore uses that no cost code "
        "of ours is linked to.")
    # Sub jobs: off, as Timesite's option is. Off books a sub job's hours on its job's
    # project; on makes a project of ours per sub job, copying the job's settings.
    create_sub_job_projects: bool = Field(
        default=False, description="Make a project of ours for a sub job of a linked project "
        "(else its hours go to the linked project).")

    @property
    def receives(self) -> bool:
        return self.direction in RECEIVING_DIRECTIONS
