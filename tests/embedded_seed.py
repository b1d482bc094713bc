"""Run inside the embedded default (SQLite, filesystem broker) by tests/test_run_local.py: one
organization connected to a Plexxis emulator, a project-day of shifts, and a sync of that day
started (its message goes to the filesystem broker on commit). Prints the run's id as JSON.

    python -m tests.embedded_seed --plexxis-url http://127.0.0.1:PORT/api/v1 --shifts 24
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

WORK_DATE = date(2026, 6, 3)
TORONTO = ZoneInfo("America/Toronto")
JOB = {"job_number": "24-101", "name": "King Street Tower"}


def employee(n: int) -> dict[str, str]:
    """The emulator's side of worker n (the same employee number as ours)."""
    return {"code": f"2{n:03d}", "first_name": "Crew", "last_name": f"{n:02d}"}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plexxis-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--shifts", type=int, required=True)
    options = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from tests import factories
    from timesync import services
    from timesync.models import Role
    from timesync.sync import runs
    from timesync.sync import services as sync_services

    organization = factories.OrganizationFactory(time_zone="America/Toronto")
    admin = factories.MembershipFactory(organization=organization, role=Role.ADMIN)
    project = factories.ProjectFactory(organization=organization, code=JOB["job_number"],
                                       name=JOB["name"])
    start = datetime(WORK_DATE.year, WORK_DATE.month, WORK_DATE.day, 7, tzinfo=TORONTO)
    for n in range(options.shifts):
        worker = factories.WorkerFactory(organization=organization, name=f"Crew {n:02d}",
                                         employee_number=employee(n)["code"])
        services.shift_create(actor=admin, worker=worker, project=project, start=start,
                              end=start + timedelta(hours=8), break_minutes=30)
    integration = sync_services.integration_create(
        actor=admin, kind="plexxis", name="Plexxis V2",
        settings={"base_url": options.plexxis_url}, credentials={"api_key": options.api_key},
    )
    sync_services.integration_refresh_links(actor=admin, integration=integration)
    run = runs.sync_run_start(integration=integration, project=project, work_date=WORK_DATE,
                              trigger="api", actor=admin).run
    print(json.dumps({"run_id": run.pk}))


if __name__ == "__main__":
    main(sys.argv[1:])
