"""Which connector serves an integration, built from its settings and decrypted credentials.
Here, not in `connectors/`: the wire packages know nothing of our domain (crypto, settings,
the shared request budget); the domain injects what they need."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pydantic
from django.conf import settings as django_settings

from connectors.addresses import RemoteAddressPolicy
from connectors.base import Connector, PermanentError
from connectors.plexxis.client import PlexxisConnector
from connectors.plexxis.settings import PlexxisSettings
from connectors.procore.client import ProcoreClient, ProcoreConnector
from connectors.procore.settings import ProcoreSettings
from connectors.quickbooks.settings import QuickBooksSettings
from connectors.settings import ConnectorSettings
from timesync import crypto
from timesync.sync.budget import budget_for

if TYPE_CHECKING:
    from timesync.models import Integration

# The settings each kind of integration declares; a kind not listed takes none.
SETTINGS_SPECS: dict[str, type[ConnectorSettings]] = {
    "plexxis": PlexxisSettings, "procore": ProcoreSettings,
    "quickbooks_desktop": QuickBooksSettings,
}


def settings_spec(kind: str) -> type[ConnectorSettings]:
    return SETTINGS_SPECS.get(kind, ConnectorSettings)


def connector_for(integration: Integration) -> Connector:
    credentials = crypto.decrypt_json(integration.credentials_encrypted) \
        if integration.credentials_encrypted else {}
    try:
        settings = settings_spec(integration.kind).model_validate(integration.settings)
    except pydantic.ValidationError as error:  # written around the services (legacy data)
        raise PermanentError(
            f"The settings of {integration.name} are not valid: save them again on its "
            "settings page."
        ) from error
    if isinstance(settings, PlexxisSettings):
        if not settings.base_url or not credentials.get("api_key"):
            raise PermanentError(
                f"{integration.name} has no Plexxis address or API key: set them in the "
                "integration's settings."
            )
        budget = budget_for(kind="plexxis", base_url=settings.base_url,
                            credential=credentials["api_key"])
        return PlexxisConnector(settings.base_url, credentials["api_key"], budget=budget,
                                read_timeout=django_settings.PLEXXIS_READ_TIMEOUT_SECONDS,
                                policy=remote_address_policy())
    if isinstance(settings, ProcoreSettings):
        from timesync.sync.tokens import ProcoreTokenSource  # tokens imports this module

        if settings.company_id is None:
            raise PermanentError(f"{integration.name} has no Procore company: connect it to "
                                 "Procore again.")
        source = ProcoreTokenSource(integration)
        client = ProcoreClient(
            settings.api_base_url, settings.company_id, source.access_token,
            source.refresh_access_token, policy=remote_address_policy(),
            read_timeout=django_settings.PROCORE_READ_TIMEOUT_SECONDS,
            # Procore counts requests per app: every integration of one app shares a budget.
            budget=budget_for(kind="procore", base_url=settings.api_base_url,
                              credential=credentials.get("client_id", "")))
        return ProcoreConnector(client, start_stop_project_ids=_start_stop_projects(integration))
    raise PermanentError(f"{integration.get_kind_display()} cannot send timecards yet.")


def _start_stop_projects(integration: Integration) -> set[str]:
    """The Procore projects whose timesheets take start and stop times, as the catalog kept
    them when references were last fetched: one query, no request to Procore per run."""
    from timesync.models import CatalogItem, CatalogKind

    return set(CatalogItem.objects.filter(
        integration=integration, kind=CatalogKind.PROJECT, parent_remote_id="", start_stop=True,
    ).values_list("remote_id", flat=True))


def remote_address_policy() -> RemoteAddressPolicy:
    """Where a tenant's address may lead, from settings: read at each use, so that the one
    rule holds for the address saved and for every request made."""
    return RemoteAddressPolicy.of(
        private_hosts_allowed=django_settings.CONNECTOR_PRIVATE_HOSTS_ALLOWED,
        ports_allowed=django_settings.CONNECTOR_ALLOWED_PORTS,
    )
