"""The integrations' audit trail: who changed what, and when (Zulip's RealmAuditLog is the model).

Every write path of an integration records its entry here inside its own transaction, so the
change and its entry commit together or not at all. Secrets never enter it: a new API key is
"credentials replaced", never a value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from timesync.models import Integration, IntegrationAuditEntry, User


@dataclass(frozen=True)
class Change:
    label: str  # what changed, for people: "Name", "Remote job"
    before: str
    after: str


def changes_between(before: dict[str, object], after: dict[str, object],
                    labels: dict[str, str]) -> list[Change]:
    """The fields of `labels` whose value differs, in the order of `labels`."""
    return [Change(label, _shown(before.get(name)), _shown(after.get(name)))
            for name, label in labels.items() if before.get(name) != after.get(name)]


def record(
    *, integration: Integration, actor: User | None, event: str, subject: str = "",
    changes: Iterable[Change] = (), note: str = "",
) -> IntegrationAuditEntry:
    if not transaction.get_connection().in_atomic_block:
        # An entry written apart from its change could outlive a change rolled back.
        raise RuntimeError("Record an audit entry inside the transaction of its change.")
    return IntegrationAuditEntry.objects.create(
        organization_id=integration.organization_id, integration=integration, actor=actor,
        event=event, subject=subject[:300], note=note[:500],
        changes=[{"field": c.label, "before": c.before, "after": c.after} for c in changes],
    )


def _shown(value: object) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value) or "—"
    return str(value)
