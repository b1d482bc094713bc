"""Signing in to the API and managing one's own tokens. Not tenant data: a token belongs to a
person, whatever organizations they are in, and only its owner sees or revokes it."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.http import Http404
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from timesync import api_tokens, sign_in
from timesync.api import serializers as s


class LoginRateThrottle(AnonRateThrottle):
    rate = "10/min"


class SignInLockedOut(exceptions.Throttled):
    default_detail = "Too many failed sign-ins for this account or from this address."
    default_code = "locked_out"


@extend_schema(tags=["auth"])
class TokenView(APIView):
    """Exchange email and password for an API token (field devices, scripts). Every sign-in
    makes a new token; it stops working after API_TOKEN_IDLE_DAYS without use, when revoked,
    or when its owner's password changes. Wrong passwords lock the account and the address
    out for a while (429 with Retry-After), like the sign-in page."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        request=s.TokenRequestSerializer,
        # Its errors (400, 415, 429 throttled or locked out, with Retry-After) are documented
        # as problems by timesync.api.schema, as every operation's are.
        responses={200: s.TokenSerializer},
    )
    def post(self, request: Request) -> Response:
        body = s.TokenRequestSerializer(data=request.data, context={"request": request})
        if not body.is_valid():
            # Axes marks the request when this attempt was refused for a lockout (the right
            # password included) or reached the limit.
            if getattr(request, "axes_locked_out", False):
                raise SignInLockedOut(wait=sign_in.retry_after_seconds())
            raise exceptions.ValidationError(body.errors)
        user = body.validated_data["user"]
        instance, token = api_tokens.api_token_create(user=user)
        # As a page sign-in does: axes clears the account's failures, last_login moves.
        user_logged_in.send(sender=type(user), request=request, user=user)
        return Response({"token": token, "id": instance.token_key, "expiry": instance.expiry})


@extend_schema(tags=["auth"])
class TokenListView(APIView):
    """The caller's API tokens (never the tokens themselves), and revoking all of them."""

    @extend_schema(responses=s.ApiTokenSerializer(many=True))
    def get(self, request: Request) -> Response:
        tokens = api_tokens.api_tokens_for_user(user=request.user)
        return Response(s.ApiTokenSerializer(tokens, many=True,
                                             context={"request": request}).data)

    @extend_schema(operation_id="v1_auth_tokens_revoke_all", responses={204: None})
    def delete(self, request: Request) -> Response:
        api_tokens.api_tokens_revoke_all(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["auth"])
class TokenDetailView(APIView):
    """Revoke one of the caller's tokens by its id (another person's id is a 404)."""

    @extend_schema(operation_id="v1_auth_tokens_revoke",
                   responses={204: None})  # 404, another's or no such token: a problem
    def delete(self, request: Request, token_id: str) -> Response:
        if not api_tokens.api_token_revoke(user=request.user, token_id=token_id):
            raise Http404
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["auth"])
class SignOutView(APIView):
    """Sign out the token this request carries: it stops working at once."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, AuthToken):
            api_tokens.api_token_revoke(user=request.user, token_id=request.auth.token_key)
        return Response(status=status.HTTP_204_NO_CONTENT)
