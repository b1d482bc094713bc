"""Self-service sign-up that never tells whether an address has an account.

The page answers the same whatever the address: "check your email". A new address gets a link
that creates the organization and its first admin when followed; an address with an account
gets an email saying someone tried to sign up with it and how to sign in or reset the
password, and nothing is created. What was typed travels inside the link, encrypted (with the
credentials' keys) and dated, with the password already hashed: nothing is stored until the
address's owner follows it."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from timesync import crypto, services
from timesync.models import Membership, User, validate_time_zone

PURPOSE = "sign_up"


class SignUpLinkInvalid(Exception):
    """The link is altered, expired or not a sign-up link."""


class SignUpAlreadyDone(Exception):
    """The address has an account now (this link was followed already, or another)."""


def sign_up_request(
    *, organization_name: str, time_zone: str, full_name: str, email: str, password: str,
    confirm_url_template: str, sign_in_url: str, password_reset_url: str,
) -> None:
    """Email the address either a link that finishes the sign-up or, when it has an account
    already, how to sign in. `confirm_url_template` has a `{token}` placeholder."""
    from timesync.tasks import send_sign_up_email

    validate_time_zone(time_zone)
    if not organization_name.strip():
        raise ValidationError({"organization_name": "Give the organization a name."})
    email = User.objects.normalize_email(email).lower()
    # Hashed on both paths: the time an answer takes must not tell whether the address has an
    # account (hashing is the slow part, on purpose).
    password_hash = make_password(password)
    confirm_url = None
    if not User.objects.filter(email__iexact=email).exists():
        token = crypto.encrypt_json({
            "purpose": PURPOSE, "organization_name": organization_name.strip(),
            "time_zone": time_zone, "full_name": full_name, "email": email,
            "password_hash": password_hash,
        })
        confirm_url = confirm_url_template.format(token=token)
    send_sign_up_email.delay(email=email, confirm_url=confirm_url, sign_in_url=sign_in_url,
                             password_reset_url=password_reset_url)


def sign_up_details(*, token: str) -> dict[str, str]:
    """What a sign-up link carries (for the page that asks to finish it)."""
    details = crypto.decrypt_json_within(
        token, max_age_seconds=settings.SIGN_UP_CONFIRMATION_MAX_AGE_SECONDS)
    if not details or details.get("purpose") != PURPOSE:
        raise SignUpLinkInvalid
    return details


def sign_up_confirm(*, token: str) -> Membership:
    """Create the organization and its first admin from a sign-up link, once."""
    details = sign_up_details(token=token)
    try:
        with transaction.atomic():
            if User.objects.filter(email__iexact=details["email"]).exists():
                raise SignUpAlreadyDone
            user = User.objects.create_user(email=details["email"], password=None,
                                            full_name=details["full_name"])
            # The hash made when the form was sent: the password itself was never kept.
            user.password = details["password_hash"]
            user.save(update_fields=["password"])
            return services.organization_create(
                user=user, name=details["organization_name"], time_zone=details["time_zone"])
    except IntegrityError as error:  # the same link followed twice at once
        raise SignUpAlreadyDone from error
