"""An admin of any organization (sign-up is open) types the address our servers call. These
tests play that admin against our own network (issue 8, findings 1 and 2): every address
that reads differently to two parsers, hides a private address, or changes its DNS answer after
it was saved is refused when it is saved and again when each request is made, on the address
actually connected to, before any connection; a redirect is refused, so the API key never
reaches another host. A local server stands for the internal service the attacker aims at:
it counts every connection it accepts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError

from connectors.base import PermanentError
from timesync import crypto
from timesync.models import Integration
from timesync.sync import services as sync_services
from timesync.sync.remotes import connector_for

from .conftest import REMOTE_NAME

pytestmark = pytest.mark.django_db

API_KEY = "the-tenants-plexxis-key"


class InternalService(ThreadingHTTPServer):
    """A service inside our network: it counts the connections it accepts and keeps the
    headers of every request; `redirect_to` makes it answer 302 there."""

    daemon_threads = True

    def __init__(self, *, redirect_to: str = "") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.redirect_to = redirect_to
        self.connections = 0
        self.requests: list[dict[str, str]] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join()


class _Handler(BaseHTTPRequestHandler):
    server: InternalService

    def handle(self) -> None:
        # Counted before anything is read or answered: a client that got any answer at all
        # (a TLS error included) was counted first.
        self.server.connections += 1
        super().handle()

    def do_GET(self) -> None:
        self.server.requests.append(dict(self.headers.items()))
        if self.server.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"data": [], "next_page": null}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def internal_service() -> Iterator[InternalService]:
    service = InternalService()
    yield service
    service.stop()


@pytest.fixture
def production(settings) -> None:
    """Production's rules: no private host allowed (the tests' default allows the emulators')."""
    settings.CONNECTOR_PRIVATE_HOSTS_ALLOWED = []


def stored_integration(admin, base_url: str) -> Integration:
    """An integration whose address is already stored: saved before today's rules, or through
    a DNS name that pointed elsewhere then."""
    return Integration.objects.create(
        organization=admin.organization, kind="plexxis", name="Plexxis",
        settings={"base_url": base_url}, is_connected=True,
        credentials_encrypted=crypto.encrypt_json({"api_key": API_KEY}),
    )


def call(integration: Integration) -> None:
    connector = connector_for(integration)
    try:
        connector.test_connection()
    finally:
        connector.close()


# --- Saving an address ----------------------------------------------------------------------


@pytest.mark.parametrize("base_url", [
    "https://127.0.0.1:8404\\@8.8.8.8/api/v1",  # the probe's: urlsplit sees 8.8.8.8
    "https://8.8.8.8:22/api/v1",  # any port
    "https://[64:ff9b::7f00:1]/api/v1",  # NAT64 of 127.0.0.1
    "https://[2002:7f00:1::]/api/v1",  # 6to4 of 127.0.0.1
    "https://admin:secret@8.8.8.8/api/v1",  # userinfo
    "https://0x08080808/api/v1",  # an IPv4 address in hex
])
def test_saving_an_address_that_leads_inside_is_refused(admin, production, base_url):
    with pytest.raises(ValidationError) as error:
        sync_services.integration_update(actor=admin, integration=stored_integration(
            admin, "https://8.8.4.4/api/v1"), settings={"base_url": base_url})
    assert error.value.message_dict["base_url"]


def test_the_api_names_the_address_field_and_says_why(admin, production, api):
    integration = stored_integration(admin, "https://8.8.4.4/api/v1")
    response = api(admin).patch(
        f"/api/v1/orgs/{admin.organization.slug}/integrations/{integration.pk}/",
        {"settings": {"base_url": "https://[64:ff9b::7f00:1]/api/v1"}}, format="json",
    )
    assert response.status_code == 400
    assert "private address" in str(response.json()["errors"]["base_url"])


def test_the_connect_page_shows_the_refusal_next_to_the_address(
    admin, production, browser_client
):
    response = browser_client(admin).post(
        f"/o/{admin.organization.slug}/integrations/connect/",
        {"kind": "plexxis", "name": "Plexxis", "base_url": "https://8.8.8.8:22/api/v1",
         "api_key": API_KEY},
    )
    assert response.status_code == 200
    assert "port 22" in str(response.context["form"].errors["base_url"])
    assert not Integration.objects.filter(organization=admin.organization).exists()


# --- Each request, when it is made ----------------------------------------------------------


@pytest.mark.parametrize("base_url", [
    "https://127.0.0.1:{port}\\@8.8.8.8/api/v1",  # the probe's bypass, stored before the fix
    "https://{name}:{port}/api/v1",  # a name our own DNS answers with 127.0.0.1
    "https://localhost:{port}/api/v1",
    "https://2130706433:{port}/api/v1",  # 127.0.0.1 in decimal
    "https://0x7f.1:{port}/api/v1",  # in hex, shortened
    "https://017700000001:{port}/api/v1",  # in octal
    "https://127%2e0%2e0%2e1:{port}/api/v1",  # percent-encoded dots
    "https://[::ffff:127.0.0.1]:{port}/api/v1",  # IPv4-mapped IPv6
    "https://evil@127.0.0.1:{port}/api/v1",  # userinfo
])
def test_a_stored_address_that_leads_inside_is_refused_without_connecting(
    admin, production, settings, resolver, internal_service, base_url
):
    # The service's port is allowed, so that only the address itself is judged.
    settings.CONNECTOR_ALLOWED_PORTS = [443, internal_service.port]
    resolver[REMOTE_NAME] = "127.0.0.1"
    integration = stored_integration(
        admin, base_url.format(name=REMOTE_NAME, port=internal_service.port))

    with pytest.raises(PermanentError):
        call(integration)

    assert internal_service.connections == 0


def test_a_name_public_when_saved_and_private_when_called_is_refused_without_connecting(
    admin, production, settings, resolver, internal_service
):
    settings.CONNECTOR_ALLOWED_PORTS = [443, internal_service.port]
    resolver[REMOTE_NAME] = "8.8.8.8"
    integration = sync_services.integration_create(
        actor=admin, kind="plexxis", name="Plexxis", credentials={"api_key": API_KEY},
        settings={"base_url": f"https://{REMOTE_NAME}:{internal_service.port}/api/v1"},
    )
    resolver[REMOTE_NAME] = "127.0.0.1"  # DNS rebinding: the attacker's name now points inside

    with pytest.raises(PermanentError, match="private address"):
        call(integration)

    assert internal_service.connections == 0


def test_the_api_answers_a_refused_stored_address_as_the_remotes_refusal(
    admin, production, settings, internal_service, api
):
    settings.CONNECTOR_ALLOWED_PORTS = [443, internal_service.port]
    integration = stored_integration(
        admin, f"https://127.0.0.1:{internal_service.port}\\@8.8.8.8/api/v1")

    response = api(admin).post(f"/api/v1/orgs/{admin.organization.slug}/integrations/"
                               f"{integration.pk}/test-connection/")

    assert response.status_code == 502
    assert response.json()["code"] == "remote_refused"
    assert internal_service.connections == 0


# --- Redirects ------------------------------------------------------------------------------


@pytest.fixture
def key_collector() -> Iterator[InternalService]:
    """Another host, which would like the tenant's API key."""
    service = InternalService()
    yield service
    service.stop()


@pytest.fixture
def redirecting_remote(settings, key_collector) -> Iterator[InternalService]:
    """The tenant's remote (a local host allowed for the test), redirecting every request to
    another host: a private one, named differently."""
    settings.CONNECTOR_PRIVATE_HOSTS_ALLOWED = ["127.0.0.1"]
    service = InternalService(redirect_to=f"http://localhost:{key_collector.port}")
    yield service
    service.stop()


def test_a_redirect_is_refused_naming_where_it_led(admin, redirecting_remote, key_collector):
    integration = stored_integration(admin, f"http://127.0.0.1:{redirecting_remote.port}/api/v1")

    with pytest.raises(PermanentError, match=f"redirect.*localhost:{key_collector.port}"):
        call(integration)


def test_the_api_key_never_reaches_the_host_a_redirect_names(
    admin, redirecting_remote, key_collector
):
    integration = stored_integration(admin, f"http://127.0.0.1:{redirecting_remote.port}/api/v1")

    with pytest.raises(PermanentError):
        call(integration)

    assert redirecting_remote.requests[0]["X-API-Key"] == API_KEY  # the tenant's own remote
    assert key_collector.requests == []
