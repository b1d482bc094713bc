"""Load benchmark (`make bench`): the Sync Dashboard of 300 projects under 20 concurrent
signed-in payroll admins, served as in production (gunicorn, 3 workers, PostgreSQL), next to a
trivial signed-in page under the same load. Prints median and p95 latency, pages per second
and the ratios; asserts only that every answer was a whole page.

The load generator runs on the same machine as the server and competes with it for the CPU, as
a real 2-core box would with its database; each simulated user asks again as soon as an answer
arrives (no think time), so the figures are the worst case for 20 people at once.

That generator is Python (requests in threads) and takes a good share of the two cores from
the server it measures. A second figure comes from ApacheBench (`ab`, Debian's apache2-utils),
a load generator in C that costs the server almost nothing, with the same 20 users, cookie and
Accept-Encoding; both are printed, the Python one first. Without `ab` on PATH its line says it
was skipped."""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.test import Client

from tests import factories
from tests.bench.dashboard_data import DashboardWorld, build_dashboard_world
from timesync.models import Role

pytestmark = [pytest.mark.bench, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
USERS = 20
PROJECTS = 300
WORKERS = 3
MAX_REQUESTS = 1_000  # per page and round: the run stops at this many answers...
MAX_SECONDS = 20.0  # ...or after this long, whichever comes first
WARM_UP_REQUESTS = 60  # every gunicorn worker loads templates and URL patterns once


@dataclass(frozen=True)
class LoadResult:
    latencies: list[float]  # seconds, one per answer
    wall_seconds: float
    body_bytes: int  # as sent on the wire (compressed when the server compresses)
    encoding: str

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p95_ms(self) -> float:
        return statistics.quantiles(self.latencies, n=20, method="inclusive")[-1] * 1000

    @property
    def pages_per_second(self) -> float:
        return len(self.latencies) / self.wall_seconds


@dataclass(frozen=True)
class Server:
    url: str
    page_size: int  # the dashboard's rows a page
    pid: int  # gunicorn's master


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(params=[None, PROJECTS], ids=["first-page-as-shipped", "all-rows"])
def gunicorn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """gunicorn serving the test database, stopped before the database is flushed; with the
    shipped page size (the first page holds SYNC_DASHBOARD_PAGE_SIZE rows), or all rows on one
    page."""
    port = _free_port()
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.bench.gunicorn_settings",
        "DATABASE_URL": (f"postgres://{database['USER']}:{database['PASSWORD'] or ''}"
                         f"@{database['HOST']}:{database['PORT']}/{database['NAME']}"),
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }
    if request.param:
        env["SYNC_DASHBOARD_PAGE_SIZE"] = str(request.param)
    log = (tmp_path / "gunicorn.log").open("wb")
    # The production command (Dockerfile) without the access log.
    server = subprocess.Popen(  # noqa: S603 (our own fixed command line)
        [sys.executable, "-m", "gunicorn", "config.wsgi:application",
         "--config", "python:config.gunicorn", "--bind",
         f"127.0.0.1:{port}", "--workers", str(WORKERS), "--timeout", "60",
         "--worker-tmp-dir", "/dev/shm"],  # noqa: S108 (as in the Dockerfile)
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/login/", timeout=2)
                break
            # A worker still loading (or a busy machine) may not answer within 2 s either.
            except (requests.ConnectionError, requests.Timeout):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("gunicorn did not start: "
                                         f"{(tmp_path / 'gunicorn.log').read_text()}") from None
                time.sleep(0.1)  # a process starting up: nothing to wait on but its socket
        yield Server(url=url, page_size=request.param or settings.SYNC_DASHBOARD_PAGE_SIZE,
                     pid=server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _signed_in_sessions(world: DashboardWorld) -> list[requests.Session]:
    """USERS payroll admins of the organization, each with a session cookie of their own."""
    sessions = []
    for n in range(USERS):
        membership = (world.payroll if n == 0 else factories.MembershipFactory(
            organization=world.payroll.organization, role=Role.PAYROLL_ADMIN))
        client = Client()
        client.force_login(membership.user)
        session = requests.Session()
        session.cookies.set(settings.SESSION_COOKIE_NAME,
                            client.cookies[settings.SESSION_COOKIE_NAME].value)
        sessions.append(session)
    return sessions


def _load(sessions: list[requests.Session], url: str, max_requests: int,
          max_seconds: float) -> LoadResult:
    """Every session asks for `url` again and again until `max_requests` answers or
    `max_seconds`; all start together at a barrier."""
    latencies: list[float] = []
    failures: list[str] = []
    sizes: list[tuple[int, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(len(sessions) + 1)
    deadline: list[float] = []

    def user(session: requests.Session) -> None:
        start.wait()
        while True:
            with lock:
                if len(latencies) + len(failures) >= max_requests \
                        or time.monotonic() > deadline[0]:
                    return
            began = time.perf_counter()
            response = session.get(url, timeout=60, allow_redirects=False, stream=True)
            raw = response.raw.read(decode_content=False)
            elapsed = time.perf_counter() - began
            with lock:
                if response.status_code == 200:
                    latencies.append(elapsed)
                    sizes.append((len(raw), response.headers.get("Content-Encoding", "none")))
                else:
                    failures.append(f"{response.status_code} {response.headers}")

    threads = [threading.Thread(target=user, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    deadline.append(time.monotonic() + max_seconds)
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    assert not failures, failures[:3]
    return LoadResult(latencies=latencies, wall_seconds=wall, body_bytes=sizes[-1][0],
                      encoding=sizes[-1][1])


@dataclass(frozen=True)
class AbResult:
    median_ms: float
    p95_ms: float
    pages_per_second: float
    pages: int


def _ab_load(url: str, session_cookie: str) -> AbResult:
    """ApacheBench's figures for `url`: USERS at once, each asking again as soon as answered,
    until MAX_REQUESTS answers or MAX_SECONDS."""
    completed = subprocess.run(  # noqa: S603 (our own fixed command line)
        [shutil.which("ab"), "-q", "-S", "-l", "-c", str(USERS), "-n", str(MAX_REQUESTS),
         "-t", str(int(MAX_SECONDS)), "-C", f"{settings.SESSION_COOKIE_NAME}={session_cookie}",
         "-H", "Accept-Encoding: gzip", url],
        capture_output=True, text=True, check=True, timeout=MAX_SECONDS + 60,
    )
    out = completed.stdout

    def figure(pattern: str) -> float:
        return float(re.search(pattern, out, re.MULTILINE).group(1))

    # Every answer a whole page: ab counts the others apart (a redirect to sign-in, an error).
    assert "Non-2xx responses" not in out, out
    assert figure(r"^Failed requests:\s+(\d+)") == 0, out
    return AbResult(median_ms=figure(r"^\s+50%\s+(\d+)"), p95_ms=figure(r"^\s+95%\s+(\d+)"),
                    pages_per_second=figure(r"^Requests per second:\s+([\d.]+)"),
                    pages=int(figure(r"^Complete requests:\s+(\d+)")))


def _print_ab(name: str, result: AbResult) -> None:
    print(f"[bench]   {name} (ab): median {result.median_ms:.0f} ms, p95 {result.p95_ms:.0f} ms, "
          f"{result.pages_per_second:.1f} pages/s ({result.pages} pages)")


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> tuple[int, float]:
    """A process's parent and the CPU seconds it has used (Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def _server_cpu(server: Server) -> dict[str, dict[int, float]]:
    """CPU seconds used so far by gunicorn (master and workers) and by the PostgreSQL backends
    serving the bench's database (not this process's own), per process."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid()")
        backends = {pid for (pid,) in cursor.fetchall()}
    used: dict[str, dict[int, float]] = {"gunicorn": {}, "postgresql": {}}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            parent, seconds = _cpu_seconds(pid)
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if pid == server.pid or parent == server.pid:
            used["gunicorn"][pid] = seconds
        elif pid in backends:
            used["postgresql"][pid] = seconds
    return used


def _cpu_per_page_ms(before: dict, after: dict, pages: int) -> dict[str, float]:
    return {side: sum(seconds - before[side].get(pid, 0.0)
                      for pid, seconds in after[side].items()) * 1000 / pages
            for side in after}


def _print(name: str, result: LoadResult) -> None:
    print(f"[bench]   {name}: median {result.median_ms:.0f} ms, p95 {result.p95_ms:.0f} ms, "
          f"{result.pages_per_second:.1f} pages/s ({len(result.latencies)} pages, "
          f"{result.body_bytes / 1024:.0f} KB {result.encoding})")


def test_bench_dashboard_under_20_concurrent_users(gunicorn: Server):
    world = build_dashboard_world(PROJECTS)
    sessions = _signed_in_sessions(world)
    dashboard, trivial = gunicorn.url + world.dashboard_path, gunicorn.url + world.trivial_path
    page = sessions[0].get(dashboard, timeout=60)
    assert page.status_code == 200
    rows = min(PROJECTS, gunicorn.page_size)
    assert page.text.count('class="cell ') == rows * 7  # the whole page, not an error page
    for url in (dashboard, trivial):
        _load(sessions, url, WARM_UP_REQUESTS, MAX_SECONDS)

    cpu: dict[str, dict[str, float]] = {}
    results: dict[str, LoadResult] = {}
    for name, url in (("trivial", trivial), ("dashboard", dashboard)):
        before = _server_cpu(gunicorn)
        results[name] = _load(sessions, url, MAX_REQUESTS, MAX_SECONDS)
        cpu[name] = _cpu_per_page_ms(before, _server_cpu(gunicorn), len(results[name].latencies))
    trivial_result, dashboard_result = results["trivial"], results["dashboard"]
    print(f"\n[bench] Sync Dashboard under load: gunicorn {WORKERS} workers, PostgreSQL, "
          f"{USERS} concurrent payroll admins, {PROJECTS} projects x 7 days, {rows} rows a page, "
          f"{os.cpu_count()} CPUs")
    _print("trivial_signed_in_page", trivial_result)
    _print(f"dashboard ({rows} rows)", dashboard_result)
    print(f"[bench]   ratio (dashboard / trivial): median "
          f"{dashboard_result.median_ms / trivial_result.median_ms:.1f}x, p95 "
          f"{dashboard_result.p95_ms / trivial_result.p95_ms:.1f}x")
    # What a page costs the machine, whatever else runs on it: the clock ticks of the server's
    # processes (1/100 s each), over a thousand pages.
    for name, label in (("trivial", "trivial_signed_in_page"),
                        ("dashboard", f"dashboard ({rows} rows)")):
        print(f"[bench]   CPU a page, {label}: gunicorn {cpu[name]['gunicorn']:.1f} ms + "
              f"PostgreSQL {cpu[name]['postgresql']:.1f} ms")
    if shutil.which("ab") is None:
        print("[bench]   ab (ApacheBench) not on PATH: its figures skipped "
              "(Debian: apt-get install apache2-utils)")
        return
    # The server sent the session cookie back after the first visit (the same key, now for
    # the host): the jar holds it twice.
    cookie = next(c.value for c in sessions[0].cookies if c.name == settings.SESSION_COOKIE_NAME)
    trivial_ab, dashboard_ab = _ab_load(trivial, cookie), _ab_load(dashboard, cookie)
    _print_ab("trivial_signed_in_page", trivial_ab)
    _print_ab(f"dashboard ({rows} rows)", dashboard_ab)
    print(f"[bench]   ratio (ab, dashboard / trivial): median "
          f"{dashboard_ab.median_ms / max(trivial_ab.median_ms, 1):.1f}x, p95 "
          f"{dashboard_ab.p95_ms / max(trivial_ab.p95_ms, 1):.1f}x")
