"""Benchmark (`make bench`): the Sync Dashboard's server time for 300 projects by 7 days, next
to a trivial signed-in page's time in the same run (the ratio is the figure): the first page
as shipped (settings.SYNC_DASHBOARD_PAGE_SIZE rows) and all 300 rows on one page.

The three pages are timed in turns, round after round, so that a machine busy with something
else slows all of them alike; each figure is a median. Beside the wall time (the server's time,
the database's included) each page's CPU time in this process is printed: it does not count
the time a busy machine keeps the process waiting, so it holds still while the wall time does
not (the database's own CPU is left out of it)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from tests.bench.dashboard_data import DAY, build_dashboard_world
from timesync.models import Project
from timesync.sync import cells

pytestmark = [pytest.mark.bench, pytest.mark.django_db]
PROJECTS = 300
ROUNDS = 15


def _timed(fetch: Callable[[], object]) -> tuple[float, float]:
    """The wall and CPU milliseconds of one answer."""
    began, began_cpu = time.perf_counter(), time.process_time()
    response = fetch()
    elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    assert response.status_code == 200
    return elapsed * 1000, cpu * 1000


def _cells_ms(world) -> float:
    project_ids = list(Project.objects.filter(organization=world.integration.organization_id)
                       .values_list("pk", flat=True))
    samples = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        cells.sync_cells(integration=world.integration, project_ids=project_ids,
                             dates=cells.week_of(DAY))
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def test_bench_dashboard_for_300_projects(settings):
    settings.DEBUG = False
    world = build_dashboard_world(PROJECTS)
    # The cells' query on tables never ANALYZEd (as after a bulk load or a restore, until
    # autovacuum gets to them), then on analyzed ones: the plan must not hang on statistics.
    fresh_ms = _cells_ms(world)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    analyzed_ms = _cells_ms(world)
    client = Client()
    client.force_login(world.payroll.user)
    page_size = django_settings.SYNC_DASHBOARD_PAGE_SIZE
    # Each page with its own page size, set outside the timed call: pytest-django's `settings`
    # stacks one more layer of overrides per assignment, which every settings read then walks.
    pages = {"paged": (world.dashboard_path, page_size),
             "whole": (world.dashboard_path, PROJECTS),
             "trivial": (world.trivial_path, page_size)}

    def fetch(name: str) -> Callable[[], object]:
        path, _size = pages[name]
        return lambda: client.get(path)

    for name, (_path, size) in pages.items():
        with override_settings(SYNC_DASHBOARD_PAGE_SIZE=size):
            fetch(name)()  # warm caches (templates, URL resolvers); remember the organization
    wall: dict[str, list[float]] = {name: [] for name in pages}
    cpu: dict[str, list[float]] = {name: [] for name in pages}
    for _ in range(ROUNDS):
        for name, (_path, size) in pages.items():
            with override_settings(SYNC_DASHBOARD_PAGE_SIZE=size):
                elapsed, used = _timed(fetch(name))
            wall[name].append(elapsed)
            cpu[name].append(used)
    ms = {name: statistics.median(values) for name, values in wall.items()}
    cpu_ms = {name: statistics.median(values) for name, values in cpu.items()}
    queries = {}
    for name in ("paged", "whole"):
        with override_settings(SYNC_DASHBOARD_PAGE_SIZE=pages[name][1]), \
                CaptureQueriesContext(connection) as captured:
            fetch(name)()
        queries[name] = len(captured)
    rows = min(page_size, PROJECTS)
    print(f"\n[bench] Sync Dashboard, {PROJECTS} projects x 7 days (median of {ROUNDS})")
    print(f"[bench]   trivial_signed_in_page_ms: {ms['trivial']:.1f} "
          f"(CPU in this process {cpu_ms['trivial']:.1f})")
    for name, label in (("paged", f"dashboard_first_page_ms ({rows} rows)"),
                        ("whole", f"dashboard_all_rows_ms ({PROJECTS} rows)")):
        print(f"[bench]   {label}: {ms[name]:.1f}, ratio {ms[name] / ms['trivial']:.1f}x, "
              f"{queries[name]} queries (CPU in this process {cpu_ms[name]:.1f}, ratio "
              f"{cpu_ms[name] / cpu_ms['trivial']:.1f}x)")
    print(f"[bench]   cells_of_{PROJECTS}_projects_ms: {fresh_ms:.1f} on tables never analyzed, "
          f"{analyzed_ms:.1f} after ANALYZE")
