"""Sign-in lockout (django-axes): which account an attempt was for, and what a locked-out
person is told. Both sign-in doors use it: the login page and the API's token endpoint."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from axes.utils import reset as axes_reset
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.throttling import BaseThrottle

if TYPE_CHECKING:
    from timesync.models import User


def attempted_email(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The account an attempt names, as sign-in matches it (case-insensitive): the login page
    sends `username`, the API `email`. Counting `Admin@x` apart from `admin@x` would let a
    guesser multiply the limit by trying capitals."""
    credentials = credentials or {}
    data = getattr(request, "data", None) or request.POST
    email = (
        credentials.get("username") or credentials.get("email")
        or data.get("username") or data.get("email")
    )
    return email.strip().lower() if isinstance(email, str) else None


def client_address(request: HttpRequest) -> str | None:
    """The address sign-in lockout counts, by the rule the API's throttles use: X-Forwarded-For
    only as far as TRUSTED_PROXY_COUNT proxies wrote it (REST_FRAMEWORK["NUM_PROXIES"])."""
    return BaseThrottle().get_ident(request)


def retry_after_seconds() -> int:
    """Each refused attempt starts the cool-off again, so the wait is the whole cool-off."""
    cooloff: timedelta = settings.AXES_COOLOFF_TIME
    return int(cooloff.total_seconds())


def retry_after_text() -> str:
    minutes = math.ceil(retry_after_seconds() / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The page a locked-out person sees on /accounts/login/ (429, with Retry-After)."""
    response = render(
        request, "registration/locked_out.html",
        {"retry_after": retry_after_text()}, status=429,
    )
    response["Retry-After"] = str(retry_after_seconds())
    return response



def password_changed(*, user: User) -> None:
    """After every saved change of a password (the change page, a reset, the admin,
    `changepassword`; not a hash upgrade at sign-in): every API token of its owner is revoked
    (a stolen token must not outlive the password that made it), and the account's lockout is
    lifted (anyone can lock a known email with wrong guesses; a reset from its mailbox proves
    the owner)."""
    from timesync.api_tokens import api_tokens_revoke_all

    api_tokens_revoke_all(user=user)
    axes_reset(username=user.email.lower())
