"""API tokens (django-rest-knox): made at sign-in, listed and revoked by their owner, gone
with every change of the owner's password. Only a digest of a token is stored; its public id
is the prefix knox keeps to find it (`tsk_` and 11 characters), never enough to use it."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from knox.models import AuthToken
from knox.settings import knox_settings

from timesync.models import User


@transaction.atomic
def api_token_create(*, user: User) -> tuple[AuthToken, str]:
    """A new token for `user`, and the token itself (shown once, never stored). Past
    API_TOKENS_PER_USER the least recently used ones go: a script that signs in on every run
    must not pile up tokens (knox checks every token of a user on each request)."""
    # Locks the user's row, so two sign-ins at once cannot both stay under the limit.
    User.objects.select_for_update().filter(pk=user.pk).first()
    instance, token = AuthToken.objects.create(user=user)
    # Expiry moves forward with each use (AUTO_REFRESH): the earliest is the least recently used.
    kept = settings.API_TOKENS_PER_USER
    surplus = api_tokens_for_user(user=user).order_by("-expiry", "-created")[kept:]
    AuthToken.objects.filter(digest__in=[old.digest for old in surplus]).delete()
    return instance, token


def api_tokens_for_user(*, user: User) -> QuerySet[AuthToken]:
    return AuthToken.objects.filter(user=user).order_by("-created")


def api_token_last_used(token: AuthToken) -> datetime | None:
    """When it last opened a request, to the minute: AUTO_REFRESH sets its expiry to a TTL
    after its last use (at most once a minute), so expiry - TTL is that use (or its creation)."""
    if token.expiry is None:
        return None
    return max(token.created, token.expiry - knox_settings.TOKEN_TTL)


def api_token_revoke(*, user: User, token_id: str) -> bool:
    """Revoke one of `user`'s tokens by its public id; False when they have none such (another
    person's id included: the caller answers 404 either way)."""
    deleted, _ = AuthToken.objects.filter(user=user, token_key=token_id).delete()
    return deleted > 0


def api_tokens_revoke_all(*, user: User) -> int:
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted
