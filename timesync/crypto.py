"""Encryption at rest for integration credentials (Fernet: AES-128-CBC + HMAC-SHA256).

Keys come from CREDENTIALS_ENCRYPTION_KEYS, newest first: the first encrypts, every key
decrypts, so a key can be rotated by prepending a new one and re-saving.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@cache
def _fernet() -> MultiFernet:
    keys = settings.CREDENTIALS_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("CREDENTIALS_ENCRYPTION_KEYS is empty.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "CREDENTIALS_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64 bytes); "
            "make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        ) from error


def encrypt_json(value: dict[str, Any]) -> str:
    return _fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict[str, Any]:
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as error:
        raise ImproperlyConfigured(
            "Stored credentials cannot be decrypted with CREDENTIALS_ENCRYPTION_KEYS: "
            "was the key that encrypted them removed?"
        ) from error


def decrypt_json_within(token: str, *, max_age_seconds: int) -> dict[str, Any] | None:
    """A value encrypted by `encrypt_json` at most `max_age_seconds` ago, or None when the
    token is older, altered or not ours (links people bring back: their fault, not a setup's)."""
    try:
        return json.loads(_fernet().decrypt(token.encode(), ttl=max_age_seconds))
    except (InvalidToken, ValueError):
        return None
