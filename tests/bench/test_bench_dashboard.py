"""Benchmark (`make bench`): the Sync Dashboard's server time for 300 projects by 7 days, next
to a trivial signed-in page's time in the same run (the ratio is the figure): the first page
as shipped (settings.SYNC_DASHBOARD_PAGE_SIZE rows) and all 300 rows on one page.

The three pages are timed in turns, round after round, so that a machine busy with something
else slows all of them alike; each figure is a median."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.bench.dashboard_data import DAY, build_dashboard_world
from timesync.models import Project
from timesync.sync import cells

pytestmark = [pytest.mark.bench, pytest.mark.django_db]
PROJECTS = 300
ROUNDS = 15


def _timed(fetch: Callable[[], object]) -> float:
    began = time.perf_counter()
    response = fetch()
    elapsed = (time.perf_counter() - began) * 1000
    assert response.status_code == 200
    return elapsed


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

    def paged():
        settings.SYNC_DASHBOARD_PAGE_SIZE = page_size
        return client.get(world.dashboard_path)

    def whole():
        settings.SYNC_DASHBOARD_PAGE_SIZE = PROJECTS
        return client.get(world.dashboard_path)

    def trivial():
        return client.get(world.trivial_path)

    pages = {"paged": paged, "whole": whole, "trivial": trivial}
    for fetch in pages.values():
        fetch()  # warm caches (templates, URL resolvers) and remember the organization
    samples: dict[str, list[float]] = {name: [] for name in pages}
    for _ in range(ROUNDS):
        for name, fetch in pages.items():
            samples[name].append(_timed(fetch))
    ms = {name: statistics.median(values) for name, values in samples.items()}
    queries = {}
    for name in ("paged", "whole"):
        with CaptureQueriesContext(connection) as captured:
            pages[name]()
        queries[name] = len(captured)
    rows = min(page_size, PROJECTS)
    print(f"\n[bench] Sync Dashboard, {PROJECTS} projects x 7 days (median of {ROUNDS})")
    print(f"[bench]   trivial_signed_in_page_ms: {ms['trivial']:.1f}")
    print(f"[bench]   dashboard_first_page_ms ({rows} rows): {ms['paged']:.1f}, "
          f"ratio {ms['paged'] / ms['trivial']:.1f}x, {queries['paged']} queries")
    print(f"[bench]   dashboard_all_rows_ms ({PROJECTS} rows): {ms['whole']:.1f}, "
          f"ratio {ms['whole'] / ms['trivial']:.1f}x, {queries['whole']} queries")
    print(f"[bench]   cells_of_{PROJECTS}_projects_ms: {fresh_ms:.1f} on tables never analyzed, "
          f"{analyzed_ms:.1f} after ANALYZE")
