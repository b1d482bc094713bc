"""Template filters of the integration pages."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince

from timesync.models import Integration, IntegrationKind

register = template.Library()


@register.filter
def ago(value: datetime | None) -> str:
    """ "just now", or "3 minutes ago": how old the remote's lists are."""
    if value is None:
        return ""
    if timezone.now() - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value)} ago"


@register.simple_tag(takes_context=True)
def reconnect_url(context: template.Context, integration: Integration) -> str:
    """Where an admin connects `integration` (of the page's organization) again: Procore's
    connect page (the OAuth grant is what was lost), else the settings page (a new API key)."""
    name = ("procore_authorize" if integration.kind == IntegrationKind.PROCORE
            else "integration_settings")
    return reverse(name, kwargs={"organization_slug": context["organization"].slug,
                                 "integration_id": integration.pk})
