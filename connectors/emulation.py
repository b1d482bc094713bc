"""The plumbing every remote's emulator shares: an HTTP server in a thread, fault injection,
the rate window and the request log. Each emulator (connectors/<remote>/emulator.py) keeps
its own wire contract: endpoints, data, error shapes and what a fault's answer looks like.

Wire-only, like the rest of connectors/: it never imports timesync. Test and demo code only:
an emulator's control API has no key, so never expose one beyond localhost.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

CONTROL_PREFIX = "/_emulator"

FAULT_KINDS = ("latency", "rate_limit", "server_error", "timeout", "lose_response",
               "apply_late")
# Parameters each fault kind takes, with their defaults (None: required).
_FAULT_PARAMS: dict[str, dict[str, float | None]] = {
    "latency": {"ms": None},
    "rate_limit": {"seconds": 1.0},
    "server_error": {"status": 500, "retry_after": 0},
    # Longer than the connectors' default 30 s read timeout.
    "timeout": {"seconds": 35.0},
    "lose_response": {},
    # Longer than the connectors' default 30 s read timeout, shorter than a 90 s request
    # lifetime.
    "apply_late": {"seconds": 45.0},
}


@dataclass
class Fault:
    """An injected misbehaviour for the requests it matches. `count` None: until cleared."""

    kind: str
    count: int | None = 1
    method: str | None = None
    path_contains: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def matches(self, method: str, target: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_contains is None or self.path_contains in target
        )

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "method": self.method,
                "path_contains": self.path_contains, **self.params}


class Emulator:
    """Serving, faults, the rate window and the request log, thread-safe.

    A subclass sets the class attributes, calls `_clear_plumbing()` from its own state reset,
    and implements `_serve_request` (everything outside the control API), `_serve_control`,
    `_invalid` (its own error for a refused body) and `_error_body` (its error shape). To keep
    its state across restarts (the demo's), it implements `snapshot` and `restore` and calls
    `_persist()` after every change it serves.
    """

    # Where every change is saved (`keep_state_in`); None: memory only (the tests).
    state_file: Path | None = None

    thread_name = "emulator"
    server_version = "Emulator/1.0"
    json_content_type = "application/json"
    max_body_bytes = 1_000_000

    def __init__(self, *, rate_limit: int, rate_window: float) -> None:
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.verbose = False  # print each request, as http.server does
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def _clear_plumbing(self) -> None:
        with self._lock:
            self._faults: list[Fault] = []
            self._latency_ms = 0.0
            self._log: list[Any] = []
            self._window_start = 0.0
            self._window_count = 0

    # --- What a subclass answers --------------------------------------------------------------

    def _serve_request(self, handler: EmulatorHandler, method: str, path: str,
                       query_string: str) -> None:
        raise NotImplementedError

    def _serve_control(self, handler: EmulatorHandler, method: str, path: str) -> None:
        raise NotImplementedError

    def _invalid(self, status: int, message: str) -> Exception:
        """The emulator's own error for a request it refuses before reading it."""
        raise NotImplementedError

    def _error_body(self, message: str) -> Any:
        raise NotImplementedError

    # --- Persistence (the demo keeps what its remote holds across restarts) ------------------

    def snapshot(self) -> dict[str, Any]:
        """What a restart must find again, as JSON-ready data `restore()` takes back."""
        raise NotImplementedError

    def restore(self, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def keep_state_in(self, path: Path) -> None:
        """Take back the state saved at `path` (if there is one) and save every change there
        from now on. Without it an emulator forgets everything when its process ends, and the
        demo's ledger then says synced for entries the remote no longer holds."""
        if path.exists():
            self.restore(json.loads(path.read_text()))
        self.state_file = path

    def _persist(self) -> None:
        """Save the state now, atomically: a new file renamed over the old one, so a process
        killed mid-write leaves the previous state, never half a file. Under the lock, so two
        requests served at once cannot interleave their writes or save an older state last."""
        if self.state_file is None:
            return
        with self._lock:
            temporary = self.state_file.with_name(self.state_file.name + ".tmp")
            with temporary.open("w") as file:
                json.dump(self.snapshot(), file)
                file.flush()
                os.fsync(file.fileno())
            temporary.replace(self.state_file)

    # --- Serving ------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a daemon thread (port 0: any free port) and return the server's URL."""
        if self._server is not None:
            raise RuntimeError("The emulator is already serving.")
        self._stopping.clear()
        server = EmulatorServer((host, port), EmulatorHandler)
        server.emulator = self
        self._server = server
        # A short poll interval keeps stop() quick; every test starts and stops one.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01},
            name=f"{self.thread_name}-{server.server_address[1]}", daemon=True,
        )
        self._thread.start()
        bound_host, bound_port = server.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        return self.url

    def stop(self) -> None:
        """Stop serving; requests held by latency or timeout faults are let go at once."""
        self._stopping.set()
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- The request log ----------------------------------------------------------------------

    def request_log(self) -> list[Any]:
        with self._lock:
            return list(self._log)

    def request_count(self, method: str | None = None, path_contains: str | None = None) -> int:
        """How many API round trips matched, e.g. request_count("POST", "/timecard")."""
        return sum(
            1 for logged in self.request_log()
            if (method is None or logged.method == method.upper())
            and (path_contains is None or path_contains in logged.path)
        )

    # --- Faults -------------------------------------------------------------------------------

    def inject(
        self, kind: str, *, count: int | None = 1, method: str | None = None,
        path_contains: str | None = None, **params: Any,
    ) -> Fault:
        """Misbehave on the next `count` matching API requests (None: until cleared).

        latency(ms): an extra delay on every matching request until cleared (count ignored).
        rate_limit(seconds=1): 429 with the remote's rate headers that far ahead.
        server_error(status=500, retry_after=0): a 5xx (with Retry-After when > 0); a write
        is not applied.
        timeout(seconds=35): answer nothing for that long (then 504); a write is not applied.
        lose_response: apply the request, then close the connection without an answer.
        apply_late(seconds=45): hold the request that long, then apply it and answer (to a
        client that has usually given up by then).
        `path_contains` is matched against the path (see each emulator) with its query.
        """
        if kind not in _FAULT_PARAMS:
            raise ValueError(f"Unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}.")
        allowed = _FAULT_PARAMS[kind]
        unknown = set(params) - set(allowed)
        if unknown:
            raise ValueError(f"Fault {kind!r} takes no {', '.join(sorted(unknown))}.")
        values: dict[str, Any] = {}
        for name, default in allowed.items():
            value = params.get(name, default)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"Fault {kind!r} needs {name} as a number >= 0.")
            values[name] = value
        if kind == "server_error" and not 500 <= values["status"] <= 599:
            raise ValueError("A server_error's status is 500 to 599.")
        if kind == "latency":
            count = None
        elif count is not None and (isinstance(count, bool) or not isinstance(count, int)
                                    or count < 1):
            raise ValueError("count is a positive integer, or None for until cleared.")
        fault = Fault(kind=kind, count=count, method=method.upper() if method else None,
                      path_contains=path_contains or None, params=values)
        with self._lock:
            self._faults.append(fault)
        return fault

    def set_latency(self, ms: float) -> None:
        """An extra delay on every API request until set to 0 or faults are cleared."""
        with self._lock:
            self._latency_ms = max(0.0, float(ms))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._latency_ms = 0.0

    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def _take_fault(self, method: str, target: str) -> tuple[float, Fault | None]:
        """(extra delay in seconds, the one fault this request meets, if any)."""
        with self._lock:
            delay_ms = self._latency_ms
            taken = None
            for fault in list(self._faults):
                if not fault.matches(method, target):
                    continue
                if fault.kind == "latency":
                    delay_ms += fault.params["ms"]
                elif taken is None:
                    taken = fault
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count <= 0:
                            self._faults.remove(fault)
            return delay_ms / 1000, taken

    def _hold(self, delay: float, fault: Fault | None) -> tuple[bool, Fault | None]:
        """Wait out latency and an apply_late fault: (stopped meanwhile, the fault left to
        meet). An apply_late request is then served as if nothing happened."""
        if delay and self._stopping.wait(delay):
            return True, fault
        if fault is not None and fault.kind == "apply_late":
            if self._stopping.wait(fault.params["seconds"]):
                return True, fault
            return False, None
        return False, fault

    def _fault_status(self, fault: Fault) -> tuple[int, dict[str, str]]:
        """The status and headers of a fault's answer that every remote shares; each emulator
        adds its own error body and rate headers."""
        if fault.kind == "rate_limit":
            return 429, {
                "X-Rate-Limit-Remaining": "0",
                "X-Rate-Limit-Reset": str(math.ceil(time.time() + fault.params["seconds"])),
            }
        if fault.kind == "timeout":
            return 504, {}
        retry_after = fault.params["retry_after"]
        return int(fault.params["status"]), (
            {"Retry-After": str(math.ceil(retry_after))} if retry_after else {})

    # --- The rate window ----------------------------------------------------------------------

    def _count_in_window(self) -> float | None:
        """Count one API request: None when within the limit, else seconds until the window
        ends."""
        with self._lock:
            now = time.time()
            if now >= self._window_start + self.rate_window:
                self._window_start, self._window_count = now, 0
            self._window_count += 1
            if self._window_count <= self.rate_limit:
                return None
            return self._window_start + self.rate_window - now

    def _rate_headers(self) -> dict[str, str]:
        with self._lock:
            now = time.time()
            if now >= self._window_start + self.rate_window:
                used, reset = 0, now + self.rate_window
            else:
                used, reset = self._window_count, self._window_start + self.rate_window
            return {
                "X-Rate-Limit-Limit": str(self.rate_limit),
                "X-Rate-Limit-Remaining": str(max(0, self.rate_limit - used)),
                "X-Rate-Limit-Reset": str(math.ceil(reset)),
            }


# --- HTTP -------------------------------------------------------------------------------------


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: Emulator


class EmulatorHandler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection. Keep-alive would leave a thread blocked on every
    # idle connection after stop(), and a lost response is simply a closed connection.
    protocol_version = "HTTP/1.0"
    server: EmulatorServer

    def version_string(self) -> str:
        return self.server.emulator.server_version

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        emulator = self.server.emulator
        try:
            split = urlsplit(self.path)
            if split.path == CONTROL_PREFIX or split.path.startswith(CONTROL_PREFIX + "/"):
                emulator._serve_control(self, method, split.path)
            else:
                emulator._serve_request(self, method, split.path, split.query)
        except OSError:
            pass  # the client hung up (it timed out, or we dropped it): nobody to answer
        except Exception as error:  # an emulator bug must not look like a dropped connection
            traceback.print_exc()
            with contextlib.suppress(OSError):
                self.send_json(500, emulator._error_body(f"Emulator error: {error!r}"), {})

    def read_body(self) -> bytes:
        emulator = self.server.emulator
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise emulator._invalid(411, "Send a Content-Length; chunked bodies are not "
                                         "accepted.")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as error:
            raise emulator._invalid(400, "Content-Length is not a number.") from error
        if length < 0:
            raise emulator._invalid(400, "Content-Length is negative.")
        if length > emulator.max_body_bytes:
            raise emulator._invalid(413, f"The body is larger than {emulator.max_body_bytes} "
                                         f"bytes.")
        return self.rfile.read(length) if length else b""

    def send_json(self, status: int, body: Any, headers: dict[str, str]) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", self.server.emulator.json_content_type)
        if status != 204:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def send_redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def drop_connection(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.emulator.verbose:
            super().log_message(format, *args)


def add_serving_arguments(parser: argparse.ArgumentParser, *, default_port: int,
                          rate_limit: int, rate_window: float) -> None:
    """The command-line options every emulator takes; it adds its own (seed, credentials)."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind; the control API is open, keep it local")
    parser.add_argument("--port", type=int, default=default_port, help="0 picks a free port")
    parser.add_argument("--rate-limit", type=int, default=rate_limit,
                        help="requests per window")
    parser.add_argument("--rate-window", type=float, default=rate_window, help="seconds")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument("--state-file", type=Path,
                        help="JSON state loaded at start (if present) and saved after every "
                             "change, so what the remote holds survives a restart")


def serve_until_interrupted(emulator: Emulator, banner: str) -> None:
    """The command line's loop: print the banner, serve until Ctrl+C or SIGTERM, stop."""
    # SIGTERM (docker stop, a test's terminate()) ends it as cleanly as Ctrl+C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(banner, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
