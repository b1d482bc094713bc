"""Emails about syncs: the admins who opted in hear of a failed run once."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from timesync.models import (
    Integration,
    Membership,
    Role,
    SyncRun,
    SyncState,
)


def _opted_in_admins(organization_id: int) -> list[str]:
    return list(
        Membership.objects.filter(
            organization_id=organization_id, is_active=True, notify_sync_failures=True,
            role=Role.ADMIN, user__is_active=True,
        ).values_list("user__email", flat=True)
    )


def reconnect_needed_notify(*, integration_id: int) -> int:
    """Email the admins who opted in that an integration must be connected again (its syncs
    stopped). Sent once per "reconnect needed", which is recorded once. Returns how many."""
    integration = (Integration.objects.select_related("organization")
                   .filter(pk=integration_id).first())
    if integration is None or not integration.reconnect_reason:
        return 0  # connected again before the email went out
    recipients = _opted_in_admins(integration.organization_id)
    if not recipients:
        return 0
    settings_url = settings.SITE_URL + reverse(
        "integration_settings", kwargs={"organization_slug": integration.organization.slug,
                                        "integration_id": integration.pk})
    send_mail(
        subject=f"Connect {integration.name} again: its syncs stopped",
        message=render_to_string("emails/reconnect_needed.txt",
                                 {"integration": integration, "settings_url": settings_url}),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
    return len(recipients)


def sync_failure_notify(*, run_id: int) -> int:
    """Email the admins who opted in, once per failed run (not per retry). Returns how many."""
    with transaction.atomic():
        claimed = SyncRun.objects.filter(
            pk=run_id, state=SyncState.FAILED, failure_notified_at__isnull=True
        ).update(failure_notified_at=timezone.now())
        if not claimed:
            return 0
        run = SyncRun.objects.select_related("integration", "project", "organization").get(
            pk=run_id
        )
        recipients = _opted_in_admins(run.organization_id)
        if not recipients:
            return 0
        log_url = settings.SITE_URL + reverse(
            "sync_run_detail",
            kwargs={"organization_slug": run.organization.slug,
                    "integration_id": run.integration_id, "run_id": run.pk},
        )
        context = {"run": run, "log_url": log_url}
        send_mail(
            subject=f"Timecard Sync failed: {run.project} on {run.work_date:%b %-d, %Y} "
                    f"({run.integration.name})",
            message=render_to_string("emails/sync_failed.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
    return len(recipients)


def inbound_failure_notify(*, event_id: int) -> int:
    """Email the admins who opted in, once per failed message from Procore (a retry that fails
    again tells them again). Returns how many."""
    from timesync.models import InboundEvent, InboundState

    with transaction.atomic():
        claimed = InboundEvent.objects.filter(
            pk=event_id, state=InboundState.FAILED, failure_notified_at__isnull=True
        ).update(failure_notified_at=timezone.now())
        if not claimed:
            return 0
        event = InboundEvent.objects.select_related("integration__organization").get(
            pk=event_id)
        recipients = _opted_in_admins(event.organization_id)
        if not recipients:
            return 0
        integration = event.integration
        page_url = settings.SITE_URL + reverse(
            "integration_settings", kwargs={"organization_slug": integration.organization.slug,
                                            "integration_id": integration.pk})
        send_mail(
            subject=f"A time card from Procore could not be applied ({integration.name})",
            message=(f"Procore entry {event.resource_id} ({event.event_type}) could not be "
                     f"applied in Timesync:\n\n{event.outcome}\n\nFix it, then retry it from "
                     f"the integration's Activity:\n{page_url}#activity\n"),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
    return len(recipients)
