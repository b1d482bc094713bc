"""The demo's Procore: a "Procore (demo)" integration per demo organization, connected with a
service account's client credentials to the local Procore emulator that `manage.py run_local`
serves, its workers, projects and cost codes linked by Import from Procore.

Each demo organization is a Procore company of its own in the emulator, holding what the demo
holds: its active workers as employees (Procore's `employee_id` is our employee number), its
projects (`project_number` is our project number) and its cost codes (the company's standard
list, and each project's copy). Ids are derived from ours, so a seed written again is the same
seed. The seed lives in a JSON file under var/ that run_local's emulator loads at its start;
the entries a sync writes live in the emulator's memory only (a restart forgets them: the next
sync of a day that changed sends its entries again).

Here, not in connectors/procore/: the wire package never imports our domain.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings

from connectors.procore.emulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    ProcoreEmulator,
)
from timesync.models import Integration, Membership, Organization, Role
from timesync.sync import services as sync_services
from timesync.sync.reference_import import references_import

DEMO_PORT = 8767
DEMO_BASE_URL = f"http://127.0.0.1:{DEMO_PORT}"
NAME = "Procore (demo)"
# Procore's ids are 64-bit and ours are small: an offset per kind keeps them apart and stable.
_COMPANY, _PERSON, _PROJECT = 8_100_000_000, 9_100_000_000, 7_100_000_000
_STANDARD_CODE, _PROJECT_CODE = 7_400_000_000, 7_300_000_000
_SEED_KINDS = ("companies", "people", "projects", "standard_cost_codes", "cost_codes")


def seed_file() -> Path:
    return Path(settings.VAR_DIR) / "procore-demo-seed.json"


def state_file() -> Path:
    """Where run_local's Procore emulator keeps what was sent to it (entries, hooks, tokens),
    so a restart finds what the sync ledger says is there."""
    return Path(settings.VAR_DIR) / "procore-demo-state.json"


def company_id(organization: Organization) -> int:
    return _COMPANY + organization.pk


def company_seed(organization: Organization) -> dict[str, list[dict[str, Any]]]:
    """The organization as a Procore company holds it."""
    company = company_id(organization)
    projects = list(organization.projects.order_by("code"))
    codes = list(organization.cost_codes.order_by("code"))
    return {
        "companies": [{"id": company, "name": organization.name}],
        "people": [
            {"id": _PERSON + worker.pk, "company_id": company, "is_employee": True,
             "first_name": worker.name.split(" ")[0],
             "last_name": " ".join(worker.name.split(" ")[1:]),
             "employee_id": worker.employee_number, "email_address": worker.email}
            for worker in organization.workers.filter(is_active=True).order_by("pk")
        ],
        "projects": [{"id": _PROJECT + project.pk, "company_id": company, "name": project.name,
                      "project_number": project.code} for project in projects],
        "standard_cost_codes": [{"id": _STANDARD_CODE + code.pk, "company_id": company,
                                 "full_code": code.code, "name": code.name} for code in codes],
        # Each project's own copy (ids: the project's, then the code's, in a block of 10,000).
        "cost_codes": [{"id": _PROJECT_CODE + project.pk * 10_000 + code.pk,
                        "project_id": _PROJECT + project.pk, "full_code": code.code,
                        "name": code.name} for project in projects for code in codes],
    }


def connect(organization: Organization) -> str:
    """Connect the organization to the demo Procore and import; a line for the load report.
    Run against an emulator of the loader's own (run_local's may not be up), seeded alike."""
    admin = Membership.objects.get(organization=organization, role=Role.ADMIN,
                                   user__email__startswith="admin@")
    seed = _seed_with(organization)
    emulator = ProcoreEmulator()
    emulator.seed(**seed)
    emulator.start()
    try:
        integration = sync_services.integration_connect(
            actor=admin, kind="procore", name=NAME,
            settings={"api_base_url": emulator.api_base_url,
                      "login_base_url": emulator.login_base_url,
                      "company_id": company_id(organization), "grant": "client_credentials"},
            credentials={"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET})
        report = references_import(actor=admin, integration=integration)
    finally:
        emulator.stop()
    # Served by run_local's emulator on the demo port from now on. Its tokens are not the
    # loader's: the first call's 401 asks for a new one with the client credentials.
    integration = Integration.objects.get(pk=integration.pk)
    integration.settings = {**integration.settings, "api_base_url": DEMO_BASE_URL,
                            "login_base_url": DEMO_BASE_URL}
    integration.save(update_fields=["settings"])
    for entry in integration.audit_entries.filter(note__contains=emulator.api_base_url):
        entry.note = entry.note.replace(emulator.api_base_url, DEMO_BASE_URL)
        entry.save(update_fields=["note"])
    _save(seed)
    return (f"{NAME} connected (emulator at {DEMO_BASE_URL}, company "
            f"{company_id(organization)}); import: {report.summary}")


def _seed_with(organization: Organization) -> dict[str, list[dict[str, Any]]]:
    """The seed file's companies with this organization's replaced (loading again after a
    --reset writes the same rows, not a second copy)."""
    seed: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _SEED_KINDS}
    if seed_file().exists():
        held = json.loads(seed_file().read_text())
        ours = _ids(company_seed(organization))
        for kind in _SEED_KINDS:
            seed[kind] = [row for row in held.get(kind, []) if row["id"] not in ours[kind]]
    for kind, rows in company_seed(organization).items():
        seed[kind].extend(rows)
    return seed


def _ids(seed: dict[str, list[dict[str, Any]]]) -> dict[str, set[int]]:
    return {kind: {row["id"] for row in rows} for kind, rows in seed.items()}


def _save(seed: dict[str, list[dict[str, Any]]]) -> None:
    seed_file().parent.mkdir(parents=True, exist_ok=True)
    seed_file().write_text(json.dumps(seed))


def forget() -> None:
    """--reset: the demo companies go with the demo organizations."""
    seed_file().unlink(missing_ok=True)
    state_file().unlink(missing_ok=True)
