"""What `make run` serves, on its own database: run in a subprocess by
tests/test_embedded_default.py with DATABASE_URL pointing at an SQLite file that `migrate` and
`load_demo` have filled. Signs in as the demo's people, opens every page of the sync workflow,
syncs a ready day through the engine against the Plexxis emulator, and prints one JSON object:
each page's status, and what the sync left in the run, its log and the remote."""

from __future__ import annotations

import json
import os
from decimal import Decimal

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.test import Client  # noqa: E402

from connectors.plexxis import demo as plexxis_demo  # noqa: E402
from connectors.plexxis.emulator import PlexxisEmulator  # noqa: E402
from connectors.procore.emulator import ProcoreEmulator  # noqa: E402
from timesync.management import procore_demo  # noqa: E402
from timesync.models import Integration, Membership, SyncRun  # noqa: E402
from timesync.sync import cells, push, runs  # noqa: E402


def pages_for(integration: Integration, run: SyncRun) -> list[str]:
    base = f"/o/{integration.organization.slug}"
    at = f"{base}/integrations/{integration.pk}"
    return [
        f"{base}/", f"{base}/integrations/", f"{at}/dashboard/", f"{at}/mappings/",
        f"{at}/settings/", f"{at}/logs/", f"{at}/logs/{run.pk}/", f"{at}/logs/{run.pk}/csv/",
        f"{base}/projects/{run.project_id}/",
        f"/api/v1/orgs/{integration.organization.slug}/integrations/{integration.pk}/cells/",
    ]


def main() -> None:
    integration = Integration.objects.select_related("organization").order_by("pk").first()
    admin = Membership.objects.get(organization=integration.organization, role="admin",
                                   user__email__startswith="admin@")
    last_run = SyncRun.objects.filter(integration=integration).order_by("-pk").first()
    client = Client()
    client.force_login(admin.user)
    statuses = {path: client.get(path).status_code
                for path in pages_for(integration, last_run)}

    # A ready cell of this week, synced through the engine against the demo's Plexxis.
    emulator = PlexxisEmulator()
    emulator.restore(json.loads(plexxis_demo.state_file().read_text()))
    emulator.start()
    try:
        integration.settings = {**integration.settings, "base_url": emulator.base_url}
        integration.save(update_fields=["settings"])
        week = cells.sync_week(organization=integration.organization)
        project_ids = list(integration.project_links.values_list("project_id", flat=True))
        ready = [cell for cell in cells.sync_cells(
            integration=integration, project_ids=project_ids, dates=week).values()
            if cell.status == "ready"]
        cell = ready[0]
        link = integration.project_links.select_related("project").get(
            project_id=cell.project_id)
        started = runs.sync_run_start(integration=integration, project=link.project,
                                      work_date=cell.work_date, trigger="api")
        push.sync_run_execute(run_id=started.run.pk)
        run = SyncRun.objects.get(pk=started.run.pk)
        after = cells.sync_cells(integration=integration, project_ids=[cell.project_id],
                                     dates=[cell.work_date])[(cell.project_id, cell.work_date)]
        remote = [e for e in emulator.entries()
                  if e["job_number"] == link.remote_project_id
                  and e["work_date"] == cell.work_date.isoformat()]
    finally:
        emulator.stop()
    print(json.dumps({
        "procore": procore_day(client, integration.organization),
        "statuses": statuses,
        "cell_before": {"status": cell.status, "shifts": cell.shifts, "hours": str(cell.hours)},
        "run": {"state": run.state, "created": run.created_count, "error": run.error,
                "hours_sent": str(run.hours_sent), "lines": run.entries.count()},
        "cell_after": after.status,
        "remote_entries": len(remote),
    }))


def procore_day(client: Client, organization) -> dict:
    """The demo's Procore: its dashboard page, then a ready day synced through the engine
    against an emulator seeded as run_local's is."""
    integration = Integration.objects.get(organization=organization, kind="procore")
    emulator = ProcoreEmulator()
    emulator.seed(**json.loads(procore_demo.seed_file().read_text()))
    emulator.start()
    try:
        integration.settings = {**integration.settings, "api_base_url": emulator.api_base_url,
                                "login_base_url": emulator.login_base_url}
        integration.save(update_fields=["settings"])
        dashboard = client.get(f"/o/{organization.slug}/integrations/{integration.pk}"
                               "/dashboard/").status_code
        week = cells.sync_week(organization=organization)
        project_ids = list(integration.project_links.values_list("project_id", flat=True))
        cell = next(cell for cell in cells.sync_cells(
            integration=integration, project_ids=project_ids, dates=week).values()
            if cell.status == "ready")
        link = integration.project_links.select_related("project").get(
            project_id=cell.project_id)
        started = runs.sync_run_start(integration=integration, project=link.project,
                                      work_date=cell.work_date, trigger="api")
        push.sync_run_execute(run_id=started.run.pk)
        run = SyncRun.objects.get(pk=started.run.pk)
        remote = [e for e in emulator.entries()
                  if str(e["project"]["id"]) == link.remote_project_id
                  and e["date"] == cell.work_date.isoformat()]
        requests = emulator.request_count()
    finally:
        emulator.stop()
    return {
        "dashboard": dashboard, "shifts": cell.shifts, "hours": str(cell.hours),
        "run": {"state": run.state, "created": run.created_count, "error": run.error,
                "hours_sent": str(run.hours_sent)},
        "remote_entries": len(remote),
        "remote_hours": str(sum(Decimal(e["hours"]) for e in remote)),
        "requests": requests,
    }


if __name__ == "__main__":
    main()
