"""The demo's Plexxis: an integration per demo organization, pointed at the local emulator
that `manage.py run_local` serves, with links, and last week already synced.

The emulator's state (employees, jobs, cost codes and the entries our syncs wrote) lives in a
JSON file under var/, so the demo's ledger and the emulator agree across restarts.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings

from connectors.plexxis.emulator import DEFAULT_API_KEY, PlexxisEmulator
from timesync import services
from timesync.models import (
    ApprovalState,
    Membership,
    Organization,
    ProjectLink,
    Role,
    Shift,
    SyncTrigger,
)
from timesync.sync import push
from timesync.sync import runs as sync_runs
from timesync.sync import services as sync_services

DEMO_PORT = 8766
DEMO_BASE_URL = f"http://127.0.0.1:{DEMO_PORT}/api/v1"
# Workers Plexxis does not know: their shifts are skipped with a warning, as in the seed.
UNKNOWN_WORKERS_PER_ORGANIZATION = 2


def state_file() -> Path:
    return Path(settings.VAR_DIR) / "plexxis-demo-state.json"


def connect(organization: Organization, *, today: date) -> str:
    """Connect the organization to the demo Plexxis; returns a line for the load report."""
    admin = Membership.objects.get(organization=organization, role=Role.ADMIN,
                                   user__email__startswith="admin@")
    emulator = PlexxisEmulator()
    if state_file().exists():
        emulator.restore(json.loads(state_file().read_text()))
    workers = list(organization.workers.filter(is_active=True).order_by("employee_number"))
    known = workers[UNKNOWN_WORKERS_PER_ORGANIZATION:]
    projects = list(organization.projects.order_by("code"))
    emulator.seed(
        employees=[{"code": w.employee_number, "first_name": w.name.split(" ")[0],
                    "last_name": w.name.split(" ")[-1], "email": w.email} for w in known],
        # The last project has no job in Plexxis: the Mappings page shows it unmatched.
        jobs=[{"job_number": p.code, "name": p.name} for p in projects[:-1]],
        cost_codes=[{"code": c.code, "description": c.name}
                    for c in organization.cost_codes.all()],
    )
    emulator.start()
    try:
        integration = sync_services.integration_create(
            actor=admin, kind="plexxis", name="Plexxis V2",
            settings={"base_url": emulator.base_url}, credentials={"api_key": DEFAULT_API_KEY},
        )
        sync_services.integration_refresh_links(actor=admin, integration=integration)
        # One project sends approved shifts only, to show the setting.
        first_link = ProjectLink.objects.filter(integration=integration).order_by(
            "project__code").first()
        if first_link is not None:
            sync_services.project_link_set(actor=admin, integration=integration,
                                           project=first_link.project, sync_only_approved=True)
        runs = _sync_last_week(integration, today=today)
        _edit_one_synced_shift(admin, integration)
    finally:
        emulator.stop()
    # Loaded against an emulator of its own on a free port; served by run_local's on the demo
    # port. The history shows the address people will see, not the loader's.
    integration.settings = {"base_url": DEMO_BASE_URL}
    integration.save(update_fields=["settings"])
    for entry in integration.audit_entries.filter(note__contains=emulator.base_url):
        entry.note = entry.note.replace(emulator.base_url, DEMO_BASE_URL)
        entry.save(update_fields=["note"])
    _save(emulator)
    return f"Plexxis V2 connected (emulator at {DEMO_BASE_URL}), {runs} days synced."


def _sync_last_week(integration, *, today: date) -> int:
    monday = today - timedelta(days=today.weekday() + 7)
    runs = 0
    for link in ProjectLink.objects.filter(integration=integration).select_related("project"):
        for offset in range(7):
            day = monday + timedelta(days=offset)
            if not Shift.objects.filter(project=link.project, work_date=day,
                                        deleted_at__isnull=True).exists():
                continue
            run = sync_runs.sync_run_start(
                integration=integration, project=link.project, work_date=day,
                trigger=SyncTrigger.SCHEDULE,
            ).run
            push.sync_run_execute(run_id=run.pk)
            runs += 1
    return runs


def _edit_one_synced_shift(admin: Membership, integration) -> None:
    """A correction after the sync: its cell turns amber until the day is synced again."""
    shift = (
        Shift.objects.filter(external_records__integration=integration,
                             approval_state=ApprovalState.APPROVED, deleted_at__isnull=True)
        .order_by("work_date", "pk").first()
    )
    if shift is not None:
        services.shift_update(actor=admin, shift=shift, notes="Corrected after the sync: "
                                                              "left 30 minutes early.",
                              end=shift.end - timedelta(minutes=30))


def _save(emulator: PlexxisEmulator) -> None:
    state_file().parent.mkdir(parents=True, exist_ok=True)
    state_file().write_text(json.dumps(emulator.snapshot()))


def forget() -> None:
    """--reset: the emulator's entries go with the demo organizations."""
    state_file().unlink(missing_ok=True)
