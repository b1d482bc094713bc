"""A small stand-in for Procore's login host (and the one API call a connect makes), over real
HTTP on 127.0.0.1: it rotates single-use refresh tokens as Procore does and counts every call,
so tests can say "exactly one POST /oauth/token". The full emulator lives in
connectors/procore/emulator.py; this stub keeps the OAuth tests independent of it."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

CLIENT_ID = "app-client-id"
CLIENT_SECRET = "app-client-secret"
COMPANY_ID = 4264807


@dataclass
class StubLogin:
    url: str = ""
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    refresh_tokens: set[str] = field(default_factory=set)
    access_tokens: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=lambda: {"good-code"})
    revoked: list[str] = field(default_factory=list)
    companies: list[dict] = field(default_factory=lambda: [{"id": COMPANY_ID, "name": "Acme"}])
    expires_in: int = 5400
    people_forbidden: bool = False
    # (status, body) answers to give to the next token posts, before the normal behaviour.
    scripted: list[tuple[int, object]] = field(default_factory=list)
    # Set: the token endpoint waits for it before answering (a slow refresh).
    hold: threading.Event | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    _serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def token_posts(self) -> list[dict[str, str]]:
        return [form for method, path, form in self.calls
                if method == "POST" and path == "/oauth/token"]

    def issue(self, *, with_refresh: bool = True) -> dict:
        n = next(self._serial)
        access, refresh = f"access-{n}", f"refresh-{n}"
        self.access_tokens.add(access)
        body = {"access_token": access, "token_type": "Bearer", "expires_in": self.expires_in}
        if with_refresh:
            self.refresh_tokens.add(refresh)
            body["refresh_token"] = refresh
        return body

    def token(self, form: dict[str, str]) -> tuple[int, object]:
        with self.lock:
            if self.scripted:
                return self.scripted.pop(0)
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return 401, {"error": "invalid_client"}
            grant = form.get("grant_type")
            if grant == "client_credentials":
                return 200, self.issue(with_refresh=False)
            if grant == "authorization_code":
                if form.get("code") not in self.codes:
                    return 400, {"error": "invalid_grant"}
                self.codes.discard(form["code"])
                return 200, self.issue()
            if grant == "refresh_token":
                token = form.get("refresh_token", "")
                if token not in self.refresh_tokens:
                    return 400, {"error": "invalid_grant",
                                 "error_description": "The refresh token is invalid."}
                self.refresh_tokens.discard(token)  # single use, whatever comes next
                return 200, self.issue()
            return 400, {"error": "unsupported_grant_type"}


def _handler(stub: StubLogin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _answer(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            path = urlsplit(self.path).path
            with stub.lock:
                stub.calls.append(("POST", path, form))
            if path == "/oauth/token":
                if stub.hold is not None:
                    stub.hold.wait(10)
                self._answer(*stub.token(form))
            elif path == "/oauth/revoke":
                with stub.lock:
                    stub.revoked.append(form.get("token", ""))
                self._answer(200, {})
            else:
                self._answer(404, {"error": "not found"})

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            with stub.lock:
                stub.calls.append(("GET", path, dict(self.headers)))
            bearer = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            if bearer not in stub.access_tokens:
                self._answer(401, {"errors": "unauthorized"})
            elif path == "/rest/v1.0/companies":
                self._answer(200, stub.companies)
            elif path.startswith("/rest/v1.0/companies/") and path.endswith("/people"):
                company = path.split("/")[4]
                if self.headers.get("Procore-Company-Id") != company:
                    self._answer(400, {"errors": "Procore-Company-Id header missing"})
                elif stub.people_forbidden:
                    self._answer(403, {"errors": "forbidden"})
                elif company not in {str(c["id"]) for c in stub.companies}:
                    self._answer(404, {"errors": "not found"})
                else:
                    self._answer(200, [{"id": 1, "name": "Ana", "is_employee": True}])
            else:
                self._answer(404, {"errors": "not found"})

    return Handler


@pytest.fixture
def stub_login() -> Iterator[StubLogin]:
    stub = StubLogin()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield stub
    if stub.hold is not None:
        stub.hold.set()
    server.shutdown()
    server.server_close()
