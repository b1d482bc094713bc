"""Celery tasks: thin. They load ids and call a service or send a message."""

from __future__ import annotations

import contextlib

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from connectors.base import ConnectorError
from timesync.models import Invitation
from timesync.sync import (
    catalog,
    dispatch,
    notifications,
    procore_receive,
    push,
    recovery,
    schedule,
)


@shared_task(autoretry_for=(OSError,), retry_backoff=30, retry_jitter=True, max_retries=5)
def send_invitation_email(*, invitation_id: int, accept_url: str) -> None:
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None or not invitation.is_open:
        return  # revoked or replaced before the email went out: nothing to send
    context = {"invitation": invitation, "accept_url": accept_url}
    send_mail(
        subject=f"You're invited to {invitation.organization.name} on Timesync",
        message=render_to_string("emails/invitation.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[invitation.email],
    )


@shared_task
def execute_sync_run(*, run_id: int) -> None:
    """Run one sync. Safe when delivered twice: the run is claimed atomically first."""
    execution = push.sync_run_execute(run_id=run_id)
    if execution.retry_in is not None:
        dispatch.run_enqueue(run_id, countdown=execution.retry_in)


@shared_task
def recover_sync_runs() -> None:
    recovery.sync_runs_recover()


@shared_task
def start_scheduled_syncs() -> None:
    schedule.scheduled_syncs_start()


@shared_task(autoretry_for=(OSError,), retry_backoff=30, retry_jitter=True, max_retries=5)
def send_sync_failure_email(*, run_id: int) -> None:
    notifications.sync_failure_notify(run_id=run_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=30, retry_jitter=True, max_retries=5)
def send_reconnect_needed_email(*, integration_id: int) -> None:
    notifications.reconnect_needed_notify(integration_id=integration_id)


@shared_task
def fetch_reference_catalog(*, integration_id: int) -> None:
    """Read the remote's workers, projects and cost codes into the catalog and match links.
    A failure is recorded on the catalog, where the Mappings page shows it: an admin asks
    again, so nothing retries here. Safe when delivered twice (older data never wins)."""
    with contextlib.suppress(ConnectorError):
        catalog.catalog_fetch(integration_id=integration_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=30, retry_jitter=True, max_retries=5)
def send_sign_up_email(*, email: str, confirm_url: str | None, sign_in_url: str,
                       password_reset_url: str) -> None:
    """The sign-up link, or (`confirm_url` None) a note to an address that has an account."""
    context = {"email": email, "confirm_url": confirm_url, "sign_in_url": sign_in_url,
               "password_reset_url": password_reset_url}
    if confirm_url is None:
        subject = "Someone tried to sign up to Timesync with your email"
        template = "emails/sign_up_existing_account.txt"
    else:
        subject = "Finish creating your Timesync account"
        template = "emails/sign_up_confirm.txt"
    send_mail(subject=subject, message=render_to_string(template, context),
              from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[email])


@shared_task
def process_procore_event(*, event_id: int) -> None:
    """Apply one change Procore told us about. Safe when delivered twice: a processed event
    is not taken again, and applying the same entry twice changes nothing."""
    procore_receive.inbound_event_process(event_id=event_id)


@shared_task
def sweep_procore_integrations() -> None:
    procore_receive.inbound_events_requeue()  # messages whose task was lost
    procore_receive.procore_sweeps_run()


@shared_task(autoretry_for=(OSError,), retry_backoff=30, retry_jitter=True, max_retries=5)
def send_inbound_failure_email(*, event_id: int) -> None:
    notifications.inbound_failure_notify(event_id=event_id)
