"""Procore's webhook deliveries: the one place a connector's views call domain services.

No session, no CSRF token (Procore has neither): the per-integration secret Procore sends in
Authorization is the proof, compared in constant time. The event is stored at once and the
work queued after the commit: Procore wants an answer within 5 seconds.
"""

from __future__ import annotations

import json

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from timesync.sync import procore_receive


@csrf_exempt
@require_POST
def procore_webhook(request: HttpRequest, public_id: str) -> HttpResponse:
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > procore_receive.MAX_BODY_BYTES:
        return JsonResponse({"error": "Too large."}, status=413)
    authorization = request.headers.get("Authorization", "")
    try:
        body = json.loads(request.body[: procore_receive.MAX_BODY_BYTES + 1] or b"{}")
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}  # refused as not an event, after the secret is checked
    try:
        with transaction.atomic():
            event = procore_receive.webhook_event_receive(
                public_id=str(public_id), authorization=authorization, body=body)
            if event is not None:
                transaction.on_commit(
                    lambda: procore_receive.inbound_event_enqueue(event.pk))
    except procore_receive.WebhookRefused as refused:
        return JsonResponse({"error": str(refused)}, status=refused.status)
    return JsonResponse({"received": True}, status=202 if event is not None else 200)
