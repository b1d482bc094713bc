"""API shapes of integrations, links, previews, cells and sync runs."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings as django_settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils import html

from timesync.api.serializers import ScopedPrimaryKeyField, WorkDateField, id_field
from timesync.models import (
    InboundEvent,
    InboundState,
    Integration,
    IntegrationKind,
    MatchField,
    ProjectLink,
    SyncLogEntry,
    SyncRun,
    SyncState,
    WorkerLink,
)
from timesync.sync import procore
from timesync.sync.catalog import catalog_status


class CatalogStatusSerializer(serializers.Serializer):
    fetched_at = serializers.DateTimeField(
        allow_null=True, help_text="When the remote's lists held now were read; null: never.")
    fetching = serializers.BooleanField(help_text="A fetch is queued or running.")
    error = serializers.CharField(help_text="Why the last fetch failed; empty when it did not.")


class SettingsField(serializers.DictField):
    """The integration's settings: a JSON object, nothing else (null, a list or a string is a
    field error). In a form (multipart or urlencoded) it is the object's JSON text. What keys
    and values each kind takes is the service's to check."""

    def get_value(self, dictionary: Any) -> Any:
        if html.is_html_input(dictionary) and self.field_name in dictionary:
            raw = dictionary.get(self.field_name)
            try:
                return json.loads(raw) if isinstance(raw, str) else raw
            except ValueError:
                return raw  # refused below as not an object
        return super().get_value(dictionary)

    def to_internal_value(self, data: Any) -> dict:
        value = super().to_internal_value(data)
        base_url = value.get("base_url")
        if base_url is not None and not isinstance(base_url, str):
            raise serializers.ValidationError({"base_url": ["Give the address as text."]})
        return value


@extend_schema_field({"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$",
                      "example": "02:00:00"})
class LocalTimeField(serializers.TimeField):
    """A wall-clock time of day with no offset (HH:MM[:SS]): OpenAPI's `time` format is RFC
    3339's, which requires one, so it is documented by its pattern instead."""


class IntegrationSerializer(serializers.ModelSerializer):
    schedule_time = LocalTimeField(
        required=False,
        help_text="Local time (organization's time zone) of the nightly sync, e.g. 02:00:00.")
    settings = SettingsField(required=False,
                             help_text='The connection\'s settings, e.g. {"base_url": "…"}.')
    credentials = serializers.DictField(
        child=serializers.CharField(), write_only=True, required=False,
        help_text="Secrets (e.g. {\"api_key\": \"...\"}); stored encrypted, never returned.",
    )
    has_credentials = serializers.SerializerMethodField()
    authorize_url = serializers.SerializerMethodField(
        help_text="Procore with an admin's approval, not yet connected (or to connect again): "
                  "the page to send the admin to, signed in; it takes them to Procore to allow "
                  "the app and back. Null otherwise.")
    catalog = serializers.SerializerMethodField(
        help_text="How current the remote's workers, projects and cost codes (matching reads "
                  "them) are.")
    worker_matching = serializers.ListField(
        child=serializers.ChoiceField(choices=[MatchField.EMPLOYEE_NUMBER, MatchField.EMAIL,
                                               MatchField.NAME]),
        required=False, min_length=1, max_length=3,
    )

    class Meta:
        model = Integration
        fields = ["id", "kind", "name", "is_connected", "reconnect_reason", "authorize_url",
                  "settings", "credentials", "has_credentials", "catalog", "worker_matching",
                  "hours_rounding", "schedule_enabled", "schedule_time", "schedule_days_back",
                  "created_at", "updated_at"]
        read_only_fields = ["is_connected", "reconnect_reason", "created_at", "updated_at"]

    def get_has_credentials(self, integration: Integration) -> bool:
        return bool(integration.credentials_encrypted)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_authorize_url(self, integration: Integration) -> str | None:
        if (integration.kind != IntegrationKind.PROCORE
                or (integration.is_connected and not integration.reconnect_reason)
                or not integration.credentials_encrypted
                or procore.uses_client_credentials(integration)):
            return None
        return django_settings.SITE_URL.rstrip("/") + reverse(
            "procore_authorize", kwargs={"organization_slug": integration.organization.slug,
                                         "integration_id": integration.pk})

    @extend_schema_field(CatalogStatusSerializer)
    def get_catalog(self, integration: Integration) -> dict[str, Any]:
        return CatalogStatusSerializer(catalog_status(integration=integration)).data

    def validate_kind(self, value: str) -> str:
        if self.instance is not None and value != self.instance.kind:
            raise serializers.ValidationError("The kind of an integration cannot change.")
        return value

    def validate_worker_matching(self, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Name each rule once.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and not attrs.get("credentials"):
            # Connecting tests the credentials before anything is kept.
            raise serializers.ValidationError(
                {"credentials": 'Give the credentials to connect with, e.g. {"api_key": "…"}.'})
        return attrs


class ProjectLinkSerializer(serializers.ModelSerializer):
    project = ScopedPrimaryKeyField("project")
    project_name = serializers.CharField(source="project.name", read_only=True)

    class Meta:
        model = ProjectLink
        fields = ["id", "project", "project_name", "remote_project_id", "enabled",
                  "sync_only_approved"]


class WorkerLinkSerializer(serializers.ModelSerializer):
    worker = ScopedPrimaryKeyField("worker")
    worker_name = serializers.CharField(source="worker.name", read_only=True)

    class Meta:
        model = WorkerLink
        fields = ["id", "worker", "worker_name", "remote_worker_id", "matched_by"]
        read_only_fields = ["matched_by"]


class ConnectionTestSerializer(serializers.Serializer):
    detail = serializers.CharField()


class MatchReportSerializer(serializers.Serializer):
    workers_linked = serializers.IntegerField()
    projects_linked = serializers.IntegerField()
    cost_codes_linked = serializers.IntegerField()
    workers_unmatched = serializers.ListField(child=serializers.CharField())
    projects_unmatched = serializers.ListField(child=serializers.CharField())
    cost_codes_unmatched = serializers.ListField(child=serializers.CharField())


class PrerequisiteSerializer(serializers.Serializer):
    label = serializers.CharField()
    ok = serializers.BooleanField()
    detail = serializers.CharField()


class ReferenceImportRequestSerializer(serializers.Serializer):
    sub_jobs_as_projects = serializers.BooleanField(
        default=False, help_text="Also a project of ours per sub job, with its job's settings.")


class ReferenceImportSerializer(serializers.Serializer):
    created = serializers.ListField(child=serializers.CharField())
    linked = serializers.IntegerField()
    left_unmatched = serializers.ListField(child=serializers.CharField())


class ProjectDaySerializer(serializers.Serializer):
    project = ScopedPrimaryKeyField("project")
    work_date = WorkDateField()


class PreviewLineSerializer(serializers.Serializer):
    action = serializers.CharField()
    worker = serializers.CharField()
    employee_number = serializers.CharField()
    shift_id = serializers.IntegerField()
    hours = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    reason = serializers.CharField()


class PreviewSerializer(serializers.Serializer):
    integration = serializers.CharField()
    project = serializers.CharField()
    work_date = serializers.DateField()
    approved_only = serializers.BooleanField()
    error = serializers.CharField()
    creates = serializers.IntegerField()
    updates = serializers.IntegerField()
    deletes = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    skips = serializers.IntegerField()
    workers = serializers.IntegerField()
    hours = serializers.DecimalField(max_digits=9, decimal_places=2)
    lines = PreviewLineSerializer(many=True)


class CellSerializer(serializers.Serializer):
    project_id = serializers.IntegerField()
    work_date = serializers.DateField()
    status = serializers.CharField()
    workers = serializers.IntegerField()
    shifts = serializers.IntegerField()
    hours = serializers.DecimalField(max_digits=9, decimal_places=2)
    changes = serializers.IntegerField()
    unsendable = serializers.IntegerField()
    run_id = serializers.IntegerField(allow_null=True)
    run_state = serializers.CharField()
    error = serializers.CharField()


class CellQuerySerializer(serializers.Serializer):
    week = WorkDateField(required=False, help_text="Any day of the week; default today.")


class SyncRunSerializer(serializers.ModelSerializer):
    action = serializers.SerializerMethodField()
    project_name = serializers.CharField(source="project.name", read_only=True)
    requested_by = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = SyncRun
        fields = ["id", "action", "integration", "project", "project_name", "work_date",
                  "trigger", "requested_by", "state", "created_count", "updated_count",
                  "deleted_count", "unchanged_count", "skipped_count", "hours_sent",
                  "hours_remote", "error", "warnings", "attempts", "created_at", "started_at",
                  "finished_at"]
        read_only_fields = fields

    def get_action(self, run: SyncRun) -> str:
        return "Timecard Sync"


class SyncRunFilterSerializer(serializers.Serializer):
    project = id_field(required=False)
    date_from = WorkDateField(required=False)
    date_to = WorkDateField(required=False)
    state = serializers.ChoiceField(choices=SyncState.choices, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        first, last = attrs.get("date_from"), attrs.get("date_to")
        if first and last and first > last:
            raise serializers.ValidationError({"date_to": "Must be on or after date_from."})
        return attrs


class SyncLogEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncLogEntry
        fields = ["id", "worker_name", "employee_number", "shift", "outcome", "hours",
                  "remote_id", "message"]




class InboundMessageSerializer(serializers.ModelSerializer):
    """A change Procore told us about (webhook or sweep) and what became of it."""

    class Meta:
        model = InboundEvent
        fields = ["id", "source", "event_type", "resource_id", "state", "outcome", "shift",
                  "attempts", "next_attempt_at", "received_at", "processed_at"]
        read_only_fields = fields


class InboundMessageFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=InboundState.choices, required=False)
